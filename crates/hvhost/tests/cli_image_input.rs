//! An IFS image as the input of `check`, `manifest` and `run` (read into the
//! same Manifest as its buildfile), and `--root` / `--target-root` for the
//! guest-side paths of a configuration.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;

/// The configuration of a probe VM called `name` (an error on line 3 when
/// `bad`), loading the probe guest from `/vm/images/probe.elf`.
fn config(name: &str, bad: bool) -> String {
    format!(
        "system {name}\nram 0,0xa0000\n{ram}\ncpu\nload /vm/images/probe.elf\n\
         cmdline \"hello off\"\nvdev ioapic loc 0xfec00000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\nvdev timer8254 intr myioapic:0\n\
         vdev mc146818\nvdev pckeyboard\nvdev progress loc io:0xef0,16\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n",
        ram = if bad { "ram 1m,banana" } else { "ram 1m,15m" }
    )
}

/// `host.build` and `host.ifs` in `dir`: a script starting the VM `g1`
/// (inline configuration) and `g2` (a host file), and the probe guest.
/// `extra` adds buildfile lines.
fn image(dir: &Path, g2_bad: bool, extra: &str) {
    std::fs::write(dir.join("g2.qvmconf"), config("g2", g2_bad)).unwrap();
    let build = format!(
        "[+script] .script = {{\n    display_msg guests\n    qvm @/vm/config/g1.qvmconf &\n    \
         qvm @/vm/config/g2.qvmconf &\n}}\n/vm/config/g1.qvmconf = {{\n{g1}}}\n\
         /vm/config/g2.qvmconf = ./g2.qvmconf\n{extra}",
        g1 = config("g1", false),
    );
    std::fs::write(dir.join("host.build"), build).unwrap();
    let o = hvhost_in(dir, &["build", "host.build", "host.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

fn probe_line() -> String {
    format!("[+raw] /vm/images/probe.elf = {}\n", vmm::probe::ELF)
}

/// `check --format json` of the image says what it says of the buildfile:
/// the same VMs, vdevs, loads, and counts.
#[test]
fn check_reads_an_image_as_its_buildfile() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, &probe_line());
    let json = |input: &str| {
        let o = hvhost_in(d.path(), &["check", "--format", "json", input]);
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["buildfile"] = serde_json::Value::Null;
        (o.status.code(), v)
    };
    let (from_build, from_image) = (json("host.build"), json("host.ifs"));
    assert_eq!(from_build, from_image);
    let vms: Vec<&str> = from_image.1["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vms, ["g1", "g2"]);
}

/// A configuration error found in an image points at the image, the entry
/// and the line.
#[test]
fn a_diagnostic_in_an_image_names_the_image_and_the_entry() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), true, &probe_line());
    let o = hvhost_in(d.path(), &["check", "host.ifs"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("host.ifs:/vm/config/g2.qvmconf:3:"), "{err}");
    assert!(err.contains("3 │ ram 1m,banana"), "{err}");
    // The qvm line is located in the decoded boot script.
    assert!(err.contains("host.ifs:<boot script>:3:1"), "{err}");
}

#[test]
fn manifest_prints_the_script_decoded_from_an_image() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, "");
    let o = hvhost_in(d.path(), &["manifest", "host.ifs"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.contains("qvm @/vm/config/g2.qvmconf &"), "{out}");
    assert!(out.contains("vm/config/g1.qvmconf"), "{out}");
}

/// A damaged image is unreadable input with the reader's code.
#[test]
fn a_truncated_image_is_refused_with_the_reader_code() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, "");
    let whole = std::fs::read(d.path().join("host.ifs")).unwrap();
    std::fs::write(d.path().join("cut.ifs"), &whole[..whole.len() / 2]).unwrap();
    let o = hvhost_in(d.path(), &["check", "cut.ifs"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("error[I000"), "{err}");
    assert!(err.contains("cut.ifs: the image cannot be read"), "{err}");
    let o = hvhost_in(d.path(), &["run", "cut.ifs"]);
    assert_eq!(o.status.code(), Some(64));
}

/// `run IMAGE --vm NAME` boots the guest from the image's bytes.
#[test]
fn one_vm_of_an_image_runs_from_the_image() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, &probe_line());
    let o = hvhost_in(d.path(), &["run", "--no-check", "host.ifs", "--vm", "g1"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("probe: hello: ok"), "{out}");
    assert!(err.contains("powered off"), "{err}");
}

/// After `dump -x`, `qvm --root TREE` finds the guest-side paths in TREE;
/// without it, the same configuration misses them (Q0211, exit 64).
#[test]
fn qvm_root_looks_guest_paths_up_in_an_extracted_tree() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, &probe_line());
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "tree", "host.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let conf = "@tree/vm/config/g1.qvmconf";
    let o = hvhost_in(d.path(), &["qvm", conf, "dryrun"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o.stderr).contains("Q0211"), "{}", text(&o.stderr));
    let o = hvhost_in(d.path(), &["qvm", "--root", "tree", conf, "dryrun"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("tree/vm/images/probe.elf"),
        "{}",
        text(&o.stdout)
    );
    // A file missing under the root is the same error.
    std::fs::remove_file(d.path().join("tree/vm/images/probe.elf")).unwrap();
    let o = hvhost_in(d.path(), &["qvm", "--root=tree", conf, "dryrun"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o.stderr).contains("Q0211"), "{}", text(&o.stderr));
}

/// `run --target-root DIR` takes what the image lacks from DIR.
#[test]
fn run_takes_files_the_image_lacks_from_the_target_root() {
    let d = tempfile::tempdir().unwrap();
    image(d.path(), false, "");
    let args = ["run", "--no-check", "host.ifs", "--vm", "g1", "--dryrun"];
    let o = hvhost_in(d.path(), &args);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o.stderr).contains("R0103"), "{}", text(&o.stderr));
    let images = d.path().join("t/vm/images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(vmm::probe::ELF, images.join("probe.elf")).unwrap();
    let o = hvhost_in(d.path(), &[&args[..], &["--target-root", "t"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("t/vm/images/probe.elf"),
        "{}",
        text(&o.stdout)
    );
}
