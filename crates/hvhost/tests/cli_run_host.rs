//! `hvhost run HOST` without `--vm`: every VM the boot script starts, each
//! as its own process, output prefixed with its `system` name; the exit
//! status names the VM that failed. Started from the host's image.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;

/// A probe VM's configuration: `system NAME`, the probe guest from the
/// image, its command line, and `extra` options.
fn probe_vm(name: &str, cmdline: &str, extra: &str) -> String {
    format!(
        "system {name}\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,15m\ncpu\n\
         load /vm/images/probe.elf\ncmdline \"{cmdline}\"\n{extra}\
         vdev ioapic loc 0xfec00000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\nvdev mc146818\nvdev pckeyboard\n\
         vdev progress loc io:0xef0,16\nvdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n"
    )
}

/// Writes `host.build` (two probe VMs, the second's configuration a host
/// file) and builds `host.ifs` from it. The guest is `+raw`: an executable
/// the image uses in place has its segments' physical addresses moved to
/// where it lies in the image (as mkifs does), which a guest cannot boot from.
fn host_image(dir: &Path, second: &str) {
    std::fs::write(dir.join("g2.qvmconf"), second).unwrap();
    let build = format!(
        "[+script] .script = {{\n    display_msg \"two guests\"\n    \
         qvm @/vm/config/g1.qvmconf &\n    [pri=8] qvm @/vm/config/g2.qvmconf &\n}}\n\
         /vm/config/g1.qvmconf = {{\n{g1}}}\n\
         /vm/config/g2.qvmconf = ./g2.qvmconf\n\
         [+raw perms=0644] /vm/images/probe.elf = {probe}\n",
        g1 = probe_vm("first", "hello rtc off", ""),
        probe = vmm::probe::ELF,
    );
    std::fs::write(dir.join("host.build"), build).unwrap();
    let o = hvhost_in(dir, &["build", "host.build", "host.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn both_vms_of_a_host_image_run_and_power_off() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    host_image(d.path(), &probe_vm("second", "hello off", ""));
    let o = hvhost_in(d.path(), &["run", "--no-check", "host.ifs"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("[first] probe: hello: ok"), "{out}");
    assert!(out.contains("[first] probe: rtc: ok"), "{out}");
    assert!(out.contains("[second] probe: hello: ok"), "{out}");
    assert!(!out.contains("[second] probe: rtc"), "{out}");
    assert!(err.contains("all 2 VMs ended normally"), "{err}");
}

#[test]
fn the_exit_status_names_the_vm_that_failed() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // The second VM touches an unclaimed port under `unsupported ... abort`: qvm's 5.
    host_image(
        d.path(),
        &probe_vm("second", "hello bad", "unsupported reference abort\n"),
    );
    let o = hvhost_in(d.path(), &["run", "--no-check", "host.ifs"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(5), "{out}\n{err}");
    assert!(out.contains("[first] probe: hello: ok"), "{out}");
    assert!(
        err.contains(
            "VM `second` failed: exit code 5 (the guest did something the VM cannot emulate)"
        ),
        "{err}"
    );
    assert!(!err.contains("VM `first` failed"), "{err}");
}

#[test]
fn vm_selects_some_vms_and_a_dry_run_plans_each() {
    let d = tempfile::tempdir().unwrap();
    host_image(d.path(), &probe_vm("second", "hello off", ""));
    let o = hvhost_in(
        d.path(),
        &[
            "run",
            "--no-check",
            "host.ifs",
            "--vm",
            "g2",
            "--vm",
            "first",
            "--dryrun",
        ],
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // In script order, whatever the order of `--vm`.
    let (a, b) = (out.find("# first").unwrap(), out.find("# second").unwrap());
    assert!(a < b, "{out}");
    let o = hvhost_in(d.path(), &["run", "--no-check", "host.ifs", "--vm", "nope"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o.stderr).contains("R0102"), "{}", text(&o.stderr));
}

/// Ctrl-C (SIGINT to `hvhost run`) presses every VM's power button: both
/// probes, waiting for it, see it and power off.
#[test]
fn ctrl_c_presses_every_vms_power_button() {
    if !kvm() {
        return;
    }
    use std::io::BufRead;
    let d = tempfile::tempdir().unwrap();
    host_image(d.path(), &probe_vm("second", "wait-power off", ""));
    let g1 = probe_vm("first", "wait-power off", "");
    let build = std::fs::read_to_string(d.path().join("host.build")).unwrap();
    let first = probe_vm("first", "hello rtc off", "");
    assert!(build.contains(&first), "{build}");
    let build = build.replace(&first, &g1);
    std::fs::write(d.path().join("host.build"), build).unwrap();
    let o = hvhost_in(d.path(), &["build", "host.build", "host.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hvhost"))
        .args(["run", "--no-check", "host.ifs"])
        .current_dir(d.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut waiting = 0;
    for line in out.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.ends_with("probe: wait-power: waiting") {
            waiting += 1;
            if waiting == 2 {
                let pid = child.id().to_string();
                let k = std::process::Command::new("kill")
                    .args(["-INT", &pid])
                    .status();
                assert!(k.unwrap().success());
            }
        }
    }
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(waiting, 2, "{seen}\n{err}");
    assert_eq!(o.status.code(), Some(0), "{seen}\n{err}");
    assert!(
        seen.contains("[first] probe: wait-power: ok pressed"),
        "{seen}"
    );
    assert!(
        seen.contains("[second] probe: wait-power: ok pressed"),
        "{seen}"
    );
}
