//! Preflight of real configurations (issue 15, item 6): an aarch64
//! configuration gets one error on this x86_64 VMM; `vdev smmu` is a known
//! vdev (refused by the VMM like the other catalogue devices); a vendor's own
//! vdev is a warning for qvmconf, a V0101 refusal for the VMM, and `hvhost
//! check`'s verdict on whether the image holds its shared object.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;

/// The (severity, code) of each text diagnostic in `stderr`.
fn found(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (sev, rest) = l.split_once('[')?;
            matches!(sev, "error" | "warning" | "note").then(|| (sev.into(), rest[..5].into()))
        })
        .collect()
}

fn errors(stderr: &str) -> Vec<String> {
    found(stderr)
        .into_iter()
        .filter(|(s, _)| s == "error")
        .map(|(_, c)| c)
        .collect()
}

#[test]
fn an_aarch64_configuration_is_one_error() {
    for file in [
        "hvguest_qnx800_aarch64_rbye_qnx-guest-1.qvmconf",
        "hvguest_linux_aarch64_rbye_linux.qvmconf",
        "hvguest_zephyr_aarch64_zephyr-docs_qnxhv_vm.qvmconf",
    ] {
        let arg = format!("@../shared/corpus/qvmconf/{file}");
        for dry in [true, false] {
            let mut args = vec!["qvm", "--no-host-files", arg.as_str()];
            if dry {
                args.push("dryrun");
            }
            let o = hvhost(&args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(65), "{file}: {err}");
            assert_eq!(errors(&err), ["V0115"], "{file} (dry run: {dry}): {err}");
            assert!(
                err.contains(
                    "this machine runs x86_64 guests only: this is an aarch64 configuration"
                ),
                "{err}"
            );
            // No advice for an x86 VM (RAM at 0 for the boot structures).
            assert!(
                !err.contains("V0111") && !err.contains("ram 0,0xa0000"),
                "{err}"
            );
        }
    }
}

/// The probe VM (x86) with `extra` added.
fn probe_vm(dir: &Path, extra: &str) {
    let text = format!(
        "system probe\nram 0,0xa0000\nram 1m,15m\nload {}\n\
         vdev ioapic loc 0xfec00000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n{extra}",
        vmm::probe::ELF
    );
    std::fs::write(dir.join("vm.qvmconf"), text).unwrap();
}

/// `qvm @vm.qvmconf` and its dry run: exit 65, the same diagnostics (returned).
fn refused(dir: &Path) -> String {
    let dry = hvhost_in(dir, &["qvm", "@vm.qvmconf", "dryrun"]);
    let run = hvhost_in(dir, &["qvm", "@vm.qvmconf"]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(65), "{err}");
    assert_eq!(dry.status.code(), Some(65), "{err}");
    assert_eq!(text(&dry.stderr), err);
    err
}

#[test]
fn smmu_is_known_and_refused_by_the_vmm() {
    let d = tempfile::tempdir().unwrap();
    probe_vm(d.path(), "vdev smmu loc 0xe0000000 intr myioapic:9\n");
    let err = refused(d.path());
    assert_eq!(found(&err), [("error".into(), "V0101".into())], "{err}");
    assert!(
        err.contains("vdev smmu is not provided by this VMM"),
        "{err}"
    );
    assert!(err.contains("vm.qvmconf:9:1"), "{err}");
    // The plan shows its request page where it was put.
    let o = hvhost_in(d.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    let plan = text(&o.stdout);
    assert!(
        plan.lines()
            .any(|l| l.contains(" smmu ") && l.contains("mem 0xe0000000-0xe0000fff")),
        "{plan}"
    );
    // Its options are checked: it has none of its own.
    probe_vm(d.path(), "vdev smmu pagesize 4k\n");
    let o = hvhost_in(d.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("error[Q0102]: `pagesize` is not an option of `vdev smmu`"),
        "{err}"
    );
}

#[test]
fn a_vendors_vdev_is_a_warning_and_a_vmm_refusal() {
    let d = tempfile::tempdir().unwrap();
    probe_vm(
        d.path(),
        "vdev vdev-acme-can.so loc 0xe0000000 bitrate 500000\n",
    );
    let err = refused(d.path());
    assert_eq!(
        found(&err),
        [
            ("error".to_string(), "V0101".to_string()),
            ("warning".into(), "Q0112".into())
        ],
        "{err}"
    );
    assert!(
        err.contains(
            "vdev `vdev-acme-can.so` is not one hvhost knows: its options cannot be checked"
        ),
        "{err}"
    );
    assert!(
        err.contains("vdev acme-can is not one hvhost knows: this VMM cannot run it"),
        "{err}"
    );
    // The plan lists it with its words as written.
    let o = hvhost_in(d.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    let plan = text(&o.stdout);
    assert!(
        plan.contains("vdevs hvhost does not know (1; options not checked):"),
        "{plan}"
    );
    assert!(
        plan.lines().any(|l| l.contains("vdev-acme-can.so")
            && l.contains("loc 0xe0000000 bitrate 500000")
            && l.contains("vm.qvmconf:9")),
        "{plan}"
    );
    // And in the JSON plan, located, with its shared object.
    let o = hvhost_in(
        d.path(),
        &["qvm", "@vm.qvmconf", "--format", "json", "dryrun"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &v["foreign_vdevs"][0];
    assert_eq!(f["name"], "acme-can", "{v}");
    assert_eq!(f["shared_object"], "vdev-acme-can.so");
    assert_eq!(f["location"], "vm.qvmconf:9:1");
    assert_eq!(f["words"][2]["value"], "bitrate");
    let o = hvhost_in(d.path(), &["explain", "Q0112"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("# Q0112: a vdev hvhost does not know"));
}

/// The example host, copied, its probe VM given a vendor's vdev; with
/// `so`, the image holds `/lib/dll/vdev-acme-can.so` too.
fn example_host(dir: &Path, so: bool) {
    let src = root().join("examples/x86_64-host");
    let dst = dir.join("examples/x86_64-host");
    std::fs::create_dir_all(dst.join("vm")).unwrap();
    let mut build = std::fs::read_to_string(src.join("host.build")).unwrap();
    if so {
        build.push_str("/lib/dll/vdev-acme-can.so = vdev-acme-can.so\n");
    }
    std::fs::write(dst.join("host.build"), build).unwrap();
    for vm in ["probe.qvmconf", "linux.qvmconf"] {
        let mut text = std::fs::read_to_string(src.join("vm").join(vm)).unwrap();
        if vm == "probe.qvmconf" {
            text.push_str("vdev acme-can loc 0xe0000000 bitrate 500000\n");
        }
        std::fs::write(dst.join("vm").join(vm), text).unwrap();
    }
}

#[test]
fn check_judges_whether_the_image_holds_a_vendors_vdev() {
    let args = [
        "check",
        "--no-host-files",
        "examples/x86_64-host/host.build",
    ];
    let d = tempfile::tempdir().unwrap();
    example_host(d.path(), false);
    let o = hvhost_in(d.path(), &args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(errors(&err), ["H0301"], "{err}");
    assert!(
        err.contains("VM `probe` uses vdev `acme-can` but the image has no `vdev-acme-can.so`"),
        "{err}"
    );
    assert!(err.contains("warning[Q0112]"), "{err}");
    // The same host with the vendor's vdev in the image: no error.
    let d = tempfile::tempdir().unwrap();
    example_host(d.path(), true);
    let o = hvhost_in(d.path(), &args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(errors(&err), Vec::<String>::new(), "{err}");
    assert!(err.contains("warning[Q0112]"), "{err}");
    assert!(!err.contains("V0101"), "check judges for QNX qvm: {err}");
}
