//! `hvhost qvm` and `hvhost run` refuse, before anything runs, what this KVM
//! VMM cannot run (vmm::preflight, V codes), located in the configuration; a
//! dry run reaches the same verdict (see cli_verdict.rs); `hvhost check`
//! (for QNX qvm) does not refuse them.

mod common;

use common::*;

use std::path::Path;

/// The probe VM of docs/vmm.md (14 lines) with `extra` as line 15.
fn probe_vm(dir: &Path, extra: &str) -> String {
    let text = format!(
        "system probe\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,31m\n\
         load {}\ncmdline \"hello off\"\n\
         vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\nvdev mc146818\nvdev pckeyboard\nvdev progress\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n{extra}\n",
        vmm::probe::ELF
    );
    std::fs::write(dir.join("r.qvmconf"), text).expect("write");
    "@r.qvmconf".to_string()
}

/// Each refusal of the review: a real run stops with exit 65 and the code
/// at line 15 (column `col`), running nothing; a dry run prints the plan
/// (QNX qvm's) with the same diagnostics and exit code; a corrected line
/// runs clean.
#[test]
fn dry_runs_refuse_what_this_vmm_cannot_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (bad, code, col, good) in [
        (
            "vdev ser8250 loc 0x2f8 intr myioapic:40",
            "V0106",
            29,
            "vdev ser8250 loc 0x2f8 intr myioapic:3",
        ),
        (
            "vdev ioapic loc 0xfec00000 intr apic name io2",
            "V0103",
            1,
            "",
        ),
        ("vdev timer8254 loc 0x48", "V0104", 1, ""),
        ("vdev 8259 loc 0x4d0", "V0105", 15, "vdev 8259 loc 0xa0 "),
        (
            "vdev ser8250 loc 0x2f8 intr apic:4",
            "V0107",
            29,
            "vdev ser8250 loc 0x2f8 intr myioapic:5",
        ),
        ("vdev vgpu-gvtg", "V0101", 1, ""),
        (
            "vdev shmem loc mem:0xfe000800 create ipc,0x1000",
            "V0105",
            1,
            "",
        ),
    ] {
        let conf = probe_vm(dir.path(), bad);
        let o = hvhost_in(dir.path(), &["qvm", &conf]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(65), "{bad}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{bad}: {err}");
        assert!(err.contains(&format!("r.qvmconf:15:{col}")), "{bad}: {err}");
        assert!(err.contains("= help: "), "{bad}: {err}");
        assert_eq!(text(&o.stdout), "", "{bad}: the guest did not run");
        let o = hvhost_in(dir.path(), &["qvm", &conf, "dryrun"]);
        assert_eq!(o.status.code(), Some(65), "{bad}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), err, "{bad}: the dry run's verdict");
        assert!(
            text(&o.stdout).starts_with("VM probe: x86_64"),
            "{bad}: the plan QNX qvm would assemble"
        );
        if good == "vdev 8259 loc 0xa0 " {
            continue; // a third 8259 overlaps (qvmconf); the probe VM is the good case
        }
        let conf = probe_vm(dir.path(), good);
        let o = hvhost_in(dir.path(), &["qvm", &conf, "dryrun"]);
        assert_eq!(o.status.code(), Some(0), "{good}: {}", text(&o.stderr));
        assert!(
            !text(&o.stderr).contains("[V01"),
            "{good}: {}",
            text(&o.stderr)
        );
        assert!(
            text(&o.stdout).starts_with("VM probe: x86_64"),
            "{}",
            text(&o.stdout)
        );
    }
}

#[test]
fn three_hundred_cpus_are_refused_at_the_255th() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_vm(dir.path(), &"cpu\n".repeat(300));
    let o = hvhost_in(dir.path(), &["qvm", &conf]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("error[V0108]: 300 vCPUs (at most 254)"),
        "{err}"
    );
    assert!(err.contains("r.qvmconf:269:1"), "{err}");
    let conf = probe_vm(dir.path(), &"cpu\n".repeat(254));
    let o = hvhost_in(dir.path(), &["qvm", &conf, "dryrun"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("V0108"), "{}", text(&o.stderr));
}

/// Without `dryrun` the same located diagnostic, and nothing runs.
#[test]
fn a_real_run_stops_with_the_located_diagnostic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_vm(dir.path(), "vdev ser8250 loc 0x2f8 intr myioapic:40");
    let o = hvhost_in(dir.path(), &["qvm", &conf]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("error[V0106]: ser8250: ioapic line 40 (the ioapic has 24)"),
        "{err}"
    );
    assert!(err.contains("r.qvmconf:15:29"), "{err}");
    assert!(!err.contains("hvhost qvm: configuration"), "{err}");
    assert_eq!(text(&o.stdout), "", "the guest did not run");
}

#[test]
fn json_diagnostics_and_the_qnx_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_vm(dir.path(), "vdev vgpu-gvtg");
    let o = hvhost_in(dir.path(), &["qvm", &conf, "--format", "json"]);
    assert_eq!(o.status.code(), Some(65));
    let line = text(&o.stderr);
    let v: serde_json::Value =
        serde_json::from_str(line.lines().next().unwrap_or("")).expect("a JSON line");
    assert_eq!(v["code"], "V0101", "{line}");
    assert!(line.contains("r.qvmconf"), "{line}");
    // a dry run reaches the same verdict
    let o = hvhost_in(dir.path(), &["qvm", &conf, "--format", "json", "dryrun"]);
    assert_eq!(o.status.code(), Some(65), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), line);
}

#[test]
fn every_v_code_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    for c in vmm::codes::ALL {
        let o = hvhost_in(dir.path(), &["explain", c.id]);
        assert_eq!(o.status.code(), Some(0), "{}", c.id);
        assert!(
            text(&o.stdout).contains(&format!("{}: {}", c.id, c.summary)),
            "{}",
            text(&o.stdout)
        );
    }
}

/// A host whose boot script starts a VM with a GVT-g vGPU (a vdev this VMM
/// does not provide).
fn host_with_vgpu(dir: &Path) {
    let build = format!(
        r#"[+script] .script = {{
    qvm @/vm/config/probe.qvmconf
}}
[perms=0644] /vm/config/probe.qvmconf = {{
system probe
ram 0,0xa0000
ram 1m,15m
cpu
load /vm/images/probe.elf
vdev ioapic loc 0xfec00000 intr apic name myioapic
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
vdev vgpu-gvtg
}}
/vm/images/probe.elf = {probe}
"#,
        probe = vmm::probe::ELF
    );
    std::fs::write(dir.join("host.build"), build).expect("write");
}

#[test]
fn hvhost_run_refuses_too_but_check_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    host_with_vgpu(dir.path());
    // (a host without a boot block breaks host rules: --no-check)
    for args in [
        &["run", "--no-check", "host.build"][..],
        &["run", "--no-check", "host.build", "--dryrun"][..],
    ] {
        let o = hvhost_in(dir.path(), args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(65), "{args:?}: {err}");
        assert!(
            err.contains("error[V0101]: vdev vgpu-gvtg is not provided by this VMM yet"),
            "{err}"
        );
        // The configuration is inline: located in the buildfile.
        assert!(err.contains("host.build:12:1"), "{err}");
    }
    // `hvhost check` judges the host for QNX qvm, which has a vGPU vdev
    let o = hvhost_in(dir.path(), &["check", "host.build"]);
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(!all.contains("V0101"), "{all}");
}

/// A host write that fails ends the VM with exit 6 and a human message.
#[test]
fn a_full_host_device_is_a_readable_exit_6() {
    if !kvm() || !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_vm(dir.path(), "");
    let text_conf = std::fs::read_to_string(dir.path().join("r.qvmconf"))
        .expect("read")
        .replace("hostdev >-", "hostdev >/dev/full");
    std::fs::write(dir.path().join("r.qvmconf"), text_conf).expect("write");
    let o = hvhost_in(dir.path(), &["qvm", &conf]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains("vdev ser8250: hostdev /dev/full: write failed: No space left on device"),
        "{err}"
    );
    assert!(!err.contains("Os {") && !err.contains("IOError"), "{err}");
}
