//! qvm's lifecycle on real KVM: exit codes, signals, exit-on-halt, resets,
//! dry runs, the logger, several vCPUs.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{hostdev, kvm, probe_spec, run, spawn, start};
use vmm::spec::{Dest, Level, LoggerSpec};
use vmm::{MemKind, MemRegion, ResetAction, VmSpec};

const LIMIT: Duration = Duration::from_secs(30);

/// Start `spec`, wait for `marker` on the guest's UART, send `signal`, and
/// return (exit code, stdout, stderr).
fn signal_after(spec: &VmSpec, marker: &str, signal: i32) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vm = start(spec, dir.path(), false);
    vm.wait_for(marker, LIMIT);
    vm.signal(signal);
    let f = vm.finish(LIMIT);
    (f.code, f.out, f.err)
}

#[test]
fn sigterm_presses_the_power_button() {
    if !kvm() {
        return;
    }
    let (code, out, err) = signal_after(
        &probe_spec("wait-power"),
        "wait-power: waiting",
        libc::SIGTERM,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("probe: wait-power: ok pressed"), "{out}");
    assert!(
        err.contains("power button pressed") && err.contains("powered off through progress"),
        "{err}"
    );
}

#[test]
fn sigint_presses_the_power_button_too() {
    if !kvm() {
        return;
    }
    let (code, out, _) = signal_after(
        &probe_spec("wait-power"),
        "wait-power: waiting",
        libc::SIGINT,
    );
    assert_eq!(code, 0);
    assert!(out.contains("probe: wait-power: ok pressed"), "{out}");
}

#[test]
fn a_guest_ignoring_the_power_button_is_stopped() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("spin");
    spec.power_button_timeout_ms = 300;
    let start = Instant::now();
    let (code, _, err) = signal_after(&spec, "spin: spinning", libc::SIGTERM);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("power button pressed; the guest has 0.3 s to power off"),
        "{err}"
    );
    assert!(
        err.contains(
            "VM ended: the guest ignored the power button: it did not power off within 0.3 s, \
             so the VM was stopped (power cut) (exit 3)"
        ),
        "{err}"
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn sigquit_cuts_the_power() {
    if !kvm() {
        return;
    }
    let (code, _, err) = signal_after(&probe_spec("spin"), "spin: spinning", libc::SIGQUIT);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("power cut (SIGQUIT)"), "{err}");
}

#[test]
fn reset_restarts_the_guest_when_asked() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("reboot");
    spec.on_reset = ResetAction::Restart;
    // wait for the third boot, then stop it
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vm = start(&spec, dir.path(), false);
    for _ in 0..3 {
        vm.wait_for("probe: start", LIMIT);
    }
    vm.signal(libc::SIGQUIT);
    let f = vm.finish(LIMIT);
    assert!(
        f.out.matches("probe: start").count() >= 3,
        "the guest booted again after each reset"
    );
    assert!(
        f.err
            .contains("guest reset (reset by pckeyboard); restarting (#2)"),
        "{}",
        f.err
    );
    assert_eq!(f.code, 3, "{}", f.err);
}

#[test]
fn input_typed_after_a_restart_reaches_the_restarted_guest() {
    if !kvm() {
        return;
    }
    // Each boot reads one line from standard input, reports it and resets.
    // The UART of the VM before a restart must not keep reading: a line
    // typed for the next boot is the next boot's.
    let mut spec = probe_spec("rx=3f8 reboot");
    spec.on_reset = ResetAction::Restart;
    let uart = spec
        .vdevs
        .iter_mut()
        .find(|v| v.kind == vdev::VdevKind::Ser8250)
        .expect("the probe VM has a ser8250");
    uart.options = vec![hostdev("-")];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vm = start(&spec, dir.path(), true);
    for word in ["first", "second", "third"] {
        vm.wait_for("probe: start", LIMIT);
        vm.write(format!("{word}\n").as_bytes());
        vm.wait_for(&format!("probe: rx: ok '{word}'"), LIMIT);
    }
    vm.signal(libc::SIGQUIT);
    let f = vm.finish(LIMIT);
    assert!(f.err.contains("restarting (#2)"), "{}", f.err);
    assert_eq!(f.code, 3, "{}", f.err);
}

#[test]
fn the_power_button_stays_pressed_across_a_restart() {
    if !kvm() {
        return;
    }
    // a guest that resets instead of powering off is cut off at the
    // button's deadline, however often it restarts
    let mut spec = probe_spec("reboot");
    spec.on_reset = ResetAction::Restart;
    spec.power_button_timeout_ms = 300;
    let start = Instant::now();
    let (code, _, err) = signal_after(&spec, "reboot: resetting", libc::SIGTERM);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("ignored the power button"), "{err}");
    assert_eq!(err.matches("power button pressed").count(), 1, "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn exit_on_halt_ends_the_vm_and_without_it_the_vm_stays() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("halt"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.err.contains("every vCPU halted (exit-on-halt)"),
        "{}",
        r.err
    );

    let mut spec = probe_spec("halt");
    spec.exit_on_halt = false;
    let (code, _, err) = signal_after(&spec, "halt: halting", libc::SIGQUIT);
    assert_eq!(code, 3, "the halted VM kept running until SIGQUIT: {err}");
}

#[test]
fn two_vcpus_boot_with_the_second_waiting_for_sipi() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello pit=2");
    spec.cpus = 2;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    r.pit_ok(2);
}

#[test]
fn dryrun_assembles_without_running() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.dryrun = true;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.is_empty(), "the guest ran: {}", r.out);
    assert!(r.err.contains("dry run"), "{}", r.err);
}

#[test]
fn logger_filters_and_destination() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("progress");
    spec.logger = LoggerSpec {
        filters: vec![Level::Info],
        dest: Dest::Stdout,
    };
    let r = run(&spec);
    assert!(r.out.contains("info: progress: milestone 1"), "{}", r.out);
    assert!(r.err.is_empty(), "{}", r.err);

    spec.logger = LoggerSpec {
        filters: vec![Level::Fatal, Level::Error],
        dest: Dest::Stderr,
    };
    let r = run(&spec);
    assert_eq!(r.code, 0);
    assert!(
        !r.out.contains("milestone") && !r.err.contains("milestone"),
        "{}{}",
        r.out,
        r.err
    );

    spec.logger = LoggerSpec {
        filters: vec![Level::Info],
        dest: Dest::None,
    };
    let r = run(&spec);
    assert!(
        r.err.is_empty() && !r.out.contains("vmm["),
        "{}{}",
        r.out,
        r.err
    );
}

#[test]
fn configuration_errors_exit_65() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.memory.push(MemRegion {
        kind: MemKind::Ram,
        start: 0x80_0000,
        size: 0x1000,
    });
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("memory regions overlap"), "{}", r.err);

    let mut spec = probe_spec("hello");
    spec.memory.retain(|m| m.start != 0);
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(
        r.err.contains("boot structures need RAM at 0x0"),
        "{}",
        r.err
    );

    let mut spec = probe_spec("hello");
    spec.loads.clear();
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("no bootable image"), "{}", r.err);
}

#[test]
fn bad_spec_file_exits_65_and_missing_one_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.json");
    std::fs::write(&p, "{\"memory\": 5}").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmm-run"))
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(65));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmm-run"))
        .arg(dir.path().join("missing.json"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn a_failing_vdev_exits_6() {
    if !kvm() {
        return;
    }
    // the UART's host side (our stdout) is closed: its first write fails
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn(&probe_spec("hello"), dir.path());
    drop(child.stdout.take());
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(6), "{err}");
    assert!(
        err.contains("vdev ser8250: hostdev stdout: write failed: Broken pipe"),
        "{err}"
    );
    assert!(!err.contains("Os {") && !err.contains("IOError"), "{err}");
}

#[test]
fn print_probe_prints_one_path_per_line() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmm-run"))
            .args(args)
            .output()
            .expect("run vmm-run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["--print-probe", "elf"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("{}\n", vmm::probe::ELF));
    assert!(std::path::Path::new(out.trim_end()).is_file(), "{out}");
    let (code, out) = run(&["--print-probe", "bin"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("{}\n", vmm::probe::BIN));
    let (code, out) = run(&["--print-probe"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("elf {}", vmm::probe::ELF),
            format!("bin {}", vmm::probe::BIN)
        ]
    );
    let (code, _) = run(&["--print-probe", "iso"]);
    assert_eq!(code, Some(65));
}

#[test]
fn the_second_vcpu_starts_on_init_sipi_with_its_apic_id() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("smp=1 hello");
    spec.cpus = 2;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("smp"), "ap apic-id=1");
    r.done();
    // with one vCPU there is no AP to start
    let r = run(&probe_spec("smp=1"));
    assert_eq!(
        r.report("smp"),
        vec!["FAIL ap 1 did not start"],
        "{}",
        r.out
    );
}

#[test]
fn cpuid_shows_the_vm_topology() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("cpuid");
    spec.cpus = 3;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.ok("cpuid"),
        "apic-id=0 logical=3 x2apic-id=0 smt=1 cores=3 level1=2"
    );
    let r = run(&probe_spec("cpuid"));
    assert_eq!(
        r.ok("cpuid"),
        "apic-id=0 logical=1 x2apic-id=0 smt=1 cores=1 level1=2"
    );
}

/// The `Cpus_allowed_list` of the thread named `name` in process `pid`.
fn thread_cpus(pid: u32, name: &str) -> Option<String> {
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            return status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string());
        }
    }
    None
}

#[test]
fn runmask_pins_the_vcpu_thread() {
    if !kvm() {
        return;
    }
    let host_cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = (host_cpus - 1) as u32;
    let mut spec = probe_spec("spin");
    spec.runmasks = vec![vec![cpu]];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vm = start(&spec, dir.path(), false);
    vm.wait_for("spin: spinning", LIMIT);
    let cpus = thread_cpus(vm.id(), "vcpu0");
    vm.signal(libc::SIGQUIT);
    let f = vm.finish(LIMIT);
    assert_eq!(cpus, Some(cpu.to_string()), "vcpu0's allowed CPUs");
    assert_eq!(f.code, 3);

    // a CPU the host cannot have stops the VM after start
    spec.runmasks = vec![vec![100_000]];
    let r = run(&spec);
    assert_eq!(r.code, 96, "{}", r.err);
    assert!(r.err.contains("runmask [100000]"), "{}", r.err);
}
