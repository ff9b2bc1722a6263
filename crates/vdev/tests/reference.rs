//! `docs/vdevs.md` is generated from the device declarations: this test
//! fails when the committed file is not what they give
//! (`HVHOST_BLESS=1 cargo test -p vdev --test reference` rewrites it).

use vdev::VdevKind;
use vdev::decl::reference_table;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vdevs.md");

#[test]
fn docs_vdevs_md_is_the_table_the_declarations_give() {
    let want = reference_table(VdevKind::ALL);
    if std::env::var_os("HVHOST_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(PATH, &want).expect("write docs/vdevs.md");
    }
    let have = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        have == want,
        "docs/vdevs.md is stale: run `HVHOST_BLESS=1 cargo test -p vdev --test reference`"
    );
}

#[test]
fn the_table_lists_every_vdev_and_option_with_what_the_vmm_does() {
    let t = reference_table(VdevKind::ALL);
    for k in VdevKind::ALL {
        let row = format!("| `{}` |", k.name());
        let line = t
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row for {}", k.name()));
        assert!(
            line.ends_with(&format!("| {} |", k.hvhost().as_str())),
            "{line}"
        );
        for o in k.decl().options {
            assert!(
                t.contains(&format!("| `{}` |", o.name)),
                "{}: no row for `{}`",
                k.name(),
                o.name
            );
        }
    }
    // what the VMM does, from the declarations
    assert!(t.contains("| `ser8250` | x86_64 | `io:0x3f8`, 8 ports |"));
    assert!(t.contains("| `virtio-blk` | any | PCI (allocated) unless `loc` |"));
    let hostdev = vdev::ser8250::HOSTDEV;
    assert_eq!(hostdev.hvhost, vdev::Applied::Runs);
    assert_eq!(VdevKind::VgpuGvtg.hvhost(), vdev::Applied::Refused);
}
