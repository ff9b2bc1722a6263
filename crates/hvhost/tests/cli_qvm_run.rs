//! `hvhost qvm`: the probe guest from a qvmconf file, on real KVM.

mod common;

use common::*;

use std::process::Command;

fn hvhost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hvhost"))
}

fn probe_qvmconf(dir: &std::path::Path, cmdline: &str) -> std::path::PathBuf {
    let text = format!(
        "system probe\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,31m\ncpu\n\
         load {}\ncmdline \"{cmdline}\"\n\
         vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\nvdev mc146818\nvdev pckeyboard\nvdev progress\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n",
        vmm::probe::ELF
    );
    let p = dir.join("probe.qvmconf");
    std::fs::write(&p, text).expect("write qvmconf");
    p
}

#[test]
fn qvm_boots_the_probe() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_qvmconf(dir.path(), "ioapic=f8000000 hello rtc pit=0 progress off");
    let out = hvhost()
        .arg("qvm")
        .arg(format!("@{}", conf.display()))
        .current_dir(dir.path())
        .output()
        .expect("run hvhost");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("probe: hello: ok boot=pvh"), "{stdout}");
    // Ten timer interrupts or more (KVM may deliver one more on a loaded host).
    assert!(
        stdout.lines().any(|l| l
            .strip_prefix("probe: pit: ok ")
            .and_then(|r| r.strip_suffix(" irqs via ioapic pin 0"))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 10)),
        "{stdout}"
    );
    assert!(stdout.contains("probe: off: powering off"), "{stdout}");
    assert!(stderr.contains("info: progress: milestone 1"), "{stderr}");
    assert!(
        stderr.contains("VM ended: powered off through progress (exit 0)"),
        "{stderr}"
    );
}

#[test]
fn qvm_command_line_words_follow_the_file() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = probe_qvmconf(dir.path(), "hello");
    // a later `unsupported reference abort` and cmdline on the command line
    let out = hvhost()
        .arg("qvm")
        .arg(format!("@{}", conf.display()))
        .args([
            "unsupported",
            "reference",
            "abort",
            "cmdline",
            "hello bad hello",
        ])
        .current_dir(dir.path())
        .output()
        .expect("run hvhost");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("unclaimed port 0x510"), "{stderr}");
}

#[test]
fn qvm_configuration_error_exits_65() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.qvmconf");
    std::fs::write(&p, "ram 0,0xa0000\nram 0x1000,0x1000\n").expect("write");
    let out = hvhost()
        .arg("qvm")
        .arg(format!("@{}", p.display()))
        .output()
        .expect("run hvhost");
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn qvm_no_host_files_checks_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("guest.qvmconf");
    std::fs::write(
        &p,
        "system g\nram 0,0xa0000\nram 1m,15m\nload /vm/images/absent.elf\nvdev progress loc io:0x80,1\n",
    )
    .expect("write");
    let out = hvhost()
        .args(["qvm", "--no-host-files"])
        .arg(format!("@{}", p.display()))
        .arg("dryrun")
        .output()
        .expect("run hvhost");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // with host files, the missing image is an error before the guest runs
    let out = hvhost()
        .arg("qvm")
        .arg(format!("@{}", p.display()))
        .output()
        .expect("run hvhost");
    assert_ne!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
