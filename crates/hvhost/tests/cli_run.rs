//! `hvhost run`: a VM of a host, started as the host's boot script starts
//! it, with the files the image is built from; the probe guest on real KVM.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;

/// A host whose script starts two VMs (not a complete hypervisor host: no
/// kernel, no qvm, no vdevs, so runs need `--no-check`); the probe's configuration is inline,
/// the other's a host file; the probe guest is the one the workspace builds.
fn host(dir: &Path, cmdline: &str) {
    let build = format!(
        r#"[+script] .script = {{
    display_msg "two guests"
    qvm @/vm/config/probe.qvmconf &
    qvm @/vm/config/other.qvmconf
}}
[perms=0644] /vm/config/probe.qvmconf = {{
system probe
ram 0,0xa0000
rom 0xc0000,0x40000
ram 1m,15m
cpu
load /vm/images/probe.elf
cmdline "{cmdline}"
vdev ioapic loc 0xfec00000 intr apic name myioapic
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
vdev timer8254 intr myioapic:0
vdev mc146818
vdev pckeyboard
vdev progress loc io:0xef0,16
vdev 8259 loc 0x20
vdev 8259 loc 0xa0
}}
/vm/config/other.qvmconf = {other}
/vm/images/probe.elf = {probe}
[type=link] /vm/images/current = /vm/images/probe.elf
"#,
        probe = vmm::probe::ELF,
        other = dir.join("other.qvmconf").display()
    );
    std::fs::write(dir.join("host.build"), build).unwrap();
    std::fs::write(
        dir.join("other.qvmconf"),
        "system guest2\nram 0,1m\ncpu\nload /vm/images/elsewhere.elf\n",
    )
    .unwrap();
}

#[test]
fn the_probe_vm_of_a_host_runs_with_the_image_files() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello rtc progress off");
    let o = hvhost_in(
        d.path(),
        &["run", "--no-check", "host.build", "--vm", "probe"],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("probe: hello: ok"), "{out}");
    assert!(out.contains("probe: rtc: ok"), "{out}");
    assert!(err.contains("progress: milestone"), "{err}");
}

#[test]
fn a_vm_is_chosen_by_name_path_or_system_name() {
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello");
    for name in ["probe", "probe.qvmconf", "/vm/config/probe.qvmconf"] {
        let o = hvhost_in(
            d.path(),
            &["run", "--no-check", "host.build", "--vm", name, "--dryrun"],
        );
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        let plan = text(&o.stdout);
        assert!(plan.starts_with("VM probe:"), "{name}: {plan}");
        // The guest image is read from the host file the image is built from.
        assert!(plan.contains(vmm::probe::ELF), "{name}: {plan}");
    }
    // `guest2` is the `system` name of other.qvmconf, whose image is not in
    // the host image.
    let o = hvhost_in(
        d.path(),
        &[
            "run",
            "--no-check",
            "host.build",
            "--vm",
            "guest2",
            "--dryrun",
        ],
    );
    assert_eq!(o.status.code(), Some(64));
    let e = text(&o.stderr);
    assert!(
        e.contains("error[R0103]: `/vm/images/elsewhere.elf` is not in the image"),
        "{e}"
    );
    assert!(e.contains("other.qvmconf:4:6"), "{e}");
}

#[test]
fn without_vm_the_whole_host_runs_and_a_wrong_name_lists_them() {
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello");
    // No `--vm`: every VM of the host, which breaks the host rules.
    let o = hvhost_in(d.path(), &["run", "host.build"]);
    assert_eq!(o.status.code(), Some(65));
    let e = text(&o.stderr);
    assert!(e.contains("error[R0104]"), "{e}");
    assert!(e.contains("its VMs are not run"), "{e}");
    let o = hvhost_in(
        d.path(),
        &["run", "--no-check", "host.build", "--vm", "nosuch"],
    );
    assert_eq!(o.status.code(), Some(64));
    let e = text(&o.stderr);
    assert!(e.contains("no VM called `nosuch`"), "{e}");
    assert!(e.contains("/vm/config/other.qvmconf"), "{e}");
}

#[test]
fn a_host_without_qvm_has_nothing_to_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("host.build"), "/etc/motd = {\nhello\n}\n").unwrap();
    let o = hvhost_in(d.path(), &["run", "host.build"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(
        text(&o.stderr).contains("starts no `qvm`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_host_that_breaks_the_rules_does_not_run_its_vms() {
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello");
    // No boot block (so no kernel with module=qvm): `hvhost check` errors.
    let o = hvhost_in(
        d.path(),
        &["run", "host.build", "--vm", "probe", "--dryrun"],
    );
    assert_eq!(o.status.code(), Some(65));
    let e = text(&o.stderr);
    assert!(e.contains("error[H0103]"), "{e}");
    assert!(e.contains("error[R0104]"), "{e}");
    // The dry run shows the VM it would have run, with the run's verdict.
    assert!(
        text(&o.stdout).starts_with("VM probe:"),
        "{}",
        text(&o.stdout)
    );
    let run = hvhost_in(d.path(), &["run", "host.build", "--vm", "probe"]);
    assert_eq!(run.status.code(), Some(65));
    assert_eq!(text(&run.stderr), e);
    assert_eq!(text(&run.stdout), "", "nothing ran");
}

#[test]
fn two_vms_with_one_system_name_are_not_guessed() {
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello");
    std::fs::write(
        d.path().join("other.qvmconf"),
        "system probe\nram 0,1m\ncpu\nload /vm/images/probe.elf\n",
    )
    .unwrap();
    // `probe` is also the file name of the first: by file name it is that one.
    let o = hvhost_in(
        d.path(),
        &[
            "run",
            "--no-check",
            "host.build",
            "--vm",
            "probe",
            "--dryrun",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Rename the first configuration: `probe` is now only a `system` name, twice.
    let build = std::fs::read_to_string(d.path().join("host.build")).unwrap();
    std::fs::write(
        d.path().join("host.build"),
        build.replace("config/probe.qvmconf", "config/first.qvmconf"),
    )
    .unwrap();
    let o = hvhost_in(
        d.path(),
        &[
            "run",
            "--no-check",
            "host.build",
            "--vm",
            "probe",
            "--dryrun",
        ],
    );
    assert_eq!(o.status.code(), Some(64));
    let e = text(&o.stderr);
    assert!(e.contains("error[R0102]: `probe` names 2 VMs"), "{e}");
}

#[test]
fn sarif_output_is_one_log() {
    let d = tempfile::tempdir().unwrap();
    host(d.path(), "hello");
    let o = hvhost_in(
        d.path(),
        &[
            "run",
            "host.build",
            "--vm",
            "probe",
            "--dryrun",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(o.status.code(), Some(65));
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let results = log["runs"][0]["results"].as_array().expect("results");
    let ids: Vec<&str> = results
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(ids.contains(&"R0104"), "{ids:?}");
    assert!(ids.contains(&"H0103"), "{ids:?}");
}

#[test]
fn the_example_hosts_probe_vm_runs() {
    if !kvm() {
        return;
    }
    // The README's demonstration: no SDK, the probe guest from the image.
    let o = hvhost_in(
        &root(),
        &[
            "run",
            "--no-host-files",
            "examples/x86_64-host/host.build",
            "--vm",
            "probe",
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for check in ["hello", "rtc", "pit", "kbd", "progress"] {
        assert!(
            out.contains(&format!("probe: {check}: ok")),
            "{check}: {out}"
        );
    }
    assert!(out.contains("probe: off: powering off"), "{out}");
    assert!(
        err.contains("VM ended: powered off through progress (exit 0)"),
        "{err}"
    );
}

#[test]
fn the_example_probe_image_is_the_one_the_workspace_builds() {
    // examples/x86_64-host/vm/images/probe.elf is checked in so that the
    // example host runs on a fresh clone; it must stay the guest that
    // guests/probe builds (`HVHOST_BLESS=1` copies a fresh build over it).
    let checked_in = root().join("examples/x86_64-host/vm/images/probe.elf");
    let built = std::fs::read(vmm::probe::ELF).expect("the probe guest was built");
    testkit::golden::check(&checked_in, &built);
}
