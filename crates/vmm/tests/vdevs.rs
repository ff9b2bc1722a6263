//! Every vdev, driven by the probe guest on real KVM.

#![allow(unsafe_code, reason = "raw descriptors for the device tests")]

mod common;

use common::{intr, io, kvm, probe_spec, run, vdev};
use vmm::spec::{Loc, Space, VdevSpec};
use vmm::{ExitCode, Policy};

fn second_uart(hostdev: &str) -> VdevSpec {
    VdevSpec {
        loc: io(0x2f8),
        options: vec![common::hostdev(hostdev)],
        ..vdev("ser8250")
    }
}

#[test]
fn ser8250_output_to_file() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("com2.txt");
    let mut spec = probe_spec("uart=2f8 hello");
    spec.vdevs.push(second_uart(&format!(">{}", out.display())));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        !r.out.contains("probe: hello"),
        "COM1 stayed quiet:\n{}",
        r.out
    );
    let text = std::fs::read_to_string(&out).expect("COM2 output file");
    assert!(text.contains("probe: hello: ok boot=pvh\r\n"), "{text}");
    assert!(text.contains("probe: done"), "{text}");
}

#[test]
fn ser8250_input_from_file() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "hello from the host\nsecond line\n").expect("write input");
    let mut spec = probe_spec("rx=2f8 rx=2f8");
    spec.vdevs
        .push(second_uart(&format!("<{}", input.display())));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.report("rx"),
        vec!["ok 'hello from the host'", "ok 'second line'"]
    );
}

#[test]
fn ser8250_missing_input_file_fails_before_start() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.vdevs.push(second_uart("</nonexistent/input"));
    let r = run(&spec);
    assert_eq!(r.code, i32::from(ExitCode::BeforeStart.code()), "{}", r.err);
    assert!(r.err.contains("/nonexistent/input"), "{}", r.err);
}

#[test]
fn ser8250_interrupt_through_ioapic() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("uartirq=4"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.ok("uartirq").starts_with("1 irqs via ioapic pin 4"),
        "{}",
        r.out
    );
}

#[test]
fn ser8250_without_intr_raises_nothing() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("uartirq=4");
    spec.vdevs[1].intr = None;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.report("uartirq").first().map(|s| &s[..6]),
        Some("FAIL 0"),
        "{}",
        r.out
    );
}

fn utc_now() -> (i64, i64) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    (t.div_euclid(86_400), t.rem_euclid(86_400))
}

/// Parse `YYYY-MM-DD HH:MM:SS b=.. d=..` into (days since epoch, seconds of day, rest).
fn parse_rtc(s: &str) -> (i64, i64, String) {
    let (date, rest) = s.split_once(' ').expect("date");
    let (time, rest) = rest.split_once(' ').expect("time");
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().expect("number"))
        .collect();
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().expect("number"))
        .collect();
    let days = vdev::mc146818::days_from_civil(d[0], d[1] as u32, d[2] as u32);
    (days, t[0] * 3600 + t[1] * 60 + t[2], rest.to_string())
}

fn assert_close(guest: (i64, i64), host: (i64, i64)) {
    let g = guest.0 * 86_400 + guest.1;
    let h = host.0 * 86_400 + host.1;
    assert!((g - h).abs() <= 5, "guest RTC {g} vs host {h}");
}

#[test]
fn mc146818_shows_host_time_in_bcd() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("rtc"));
    assert_eq!(r.code, 0, "{}", r.err);
    let (days, secs, rest) = parse_rtc(&r.ok("rtc"));
    assert_close((days, secs), utc_now());
    assert_eq!(rest, "b=2 d=80");
}

#[test]
fn mc146818_reg_preset_selects_binary() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("rtc");
    let rtc = spec
        .vdevs
        .iter_mut()
        .find(|v| v.kind == vdev::VdevKind::Mc146818)
        .expect("rtc");
    rtc.options = vec![vdev::OptionValue::new(
        "reg",
        vdev::Value::RtcReg(0x0b, 0x06),
    )];
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let (days, secs, rest) = parse_rtc(&r.ok("rtc"));
    assert_close((days, secs), utc_now());
    assert_eq!(rest, "b=6 d=80");
}

#[test]
fn timer8254_interrupts_through_ioapic() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("pit=2"));
    assert_eq!(r.code, 0, "{}", r.err);
    r.pit_ok(2);
}

#[test]
fn timer8254_on_the_pin_its_intr_names() {
    if !kvm() {
        return;
    }
    // routed to pin 0 (the QNX example's `intr myioapic:0`): pin 2 stays silent
    let mut spec = probe_spec("pit=0");
    spec.vdevs[2].intr = common::intr("myioapic", 0);
    let r = run(&spec);
    r.pit_ok(0);
    let mut spec = probe_spec("pit=2");
    spec.vdevs[2].intr = common::intr("myioapic", 0);
    let r = run(&spec);
    assert_eq!(
        r.report("pit"),
        vec!["FAIL 0 irqs via ioapic pin 2"],
        "{}",
        r.out
    );
}

#[test]
fn ioapic_relocated_like_the_qnx_example() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("ioapic=f8000000 pit=2 uartirq=4");
    spec.vdevs[0].loc = Some(Loc {
        space: Space::Mem,
        base: 0xf800_0000,
        len: None,
    });
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    r.pit_ok(2);
    assert!(r.ok("uartirq").starts_with("1 irqs"), "{}", r.out);
}

#[test]
fn pckeyboard_self_test_and_reset_ends_the_vm() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("kbd reboot hello"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("kbd"), "selftest=55");
    assert_eq!(r.report("reboot"), vec!["resetting"]);
    assert!(
        r.report("hello").is_empty(),
        "the guest ran on after the reset:\n{}",
        r.out
    );
    assert!(
        r.err.contains("guest reset (reset by pckeyboard)"),
        "{}",
        r.err
    );
}

#[test]
fn progress_milestones_are_logged_with_times() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("progress"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("progress"), "id=53475250");
    let lines: Vec<&str> = r
        .err
        .lines()
        .filter(|l| l.contains("info: progress:"))
        .collect();
    let expected = [
        "milestone 0",
        "milestone 1",
        "probe milestone",
        "milestone 2",
    ];
    assert_eq!(lines.len(), expected.len(), "{}", r.err);
    for (line, text) in lines.iter().zip(expected) {
        assert!(line.starts_with("vmm[probe] +0."), "{line}");
        assert!(line.ends_with(&format!("info: progress: {text}")), "{line}");
    }
}

#[test]
fn progress_power_off_ends_with_0() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("off hello");
    spec.exit_on_halt = false;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.report("off"), vec!["powering off"]);
    assert!(r.err.contains("powered off through progress"), "{}", r.err);
}

#[test]
fn unsupported_reference_ignore_reads_all_ones() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("bad badmmio"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("bad"), "read=ffffffff gp=0");
    assert_eq!(r.ok("badmmio"), "read=ffffffff gp=0");
}

#[test]
fn unsupported_reference_fail_faults_the_guest() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("bad badmmio");
    spec.unsupported_reference = Policy::Fail;
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("bad"), "read=ffffffff gp=2");
    assert_eq!(r.ok("badmmio"), "read=ffffffff gp=4");
    assert!(
        r.err.contains("unclaimed port 0x510: #GP to the guest"),
        "{}",
        r.err
    );
}

#[test]
fn unsupported_reference_abort_stops_with_registers() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello bad hello");
    spec.unsupported_reference = Policy::Abort;
    let r = run(&spec);
    assert_eq!(r.code, 5, "{}", r.err);
    assert_eq!(r.report("hello").len(), 1, "{}", r.out);
    assert!(
        r.err.contains("read (4 bytes) of unclaimed port 0x510"),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("vCPU 0 registers:") && r.err.contains("rip 0000000000"),
        "{}",
        r.err
    );
}

#[test]
fn pics_only_at_their_ports() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.vdevs.push(VdevSpec {
        loc: io(0x40),
        ..vdev("8259")
    });
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("io:0x20 and io:0xa0"), "{}", r.err);
}

#[test]
fn intr_naming_no_controller_is_a_config_error() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.vdevs[1].intr = intr("nosuchpic", 4);
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(
        r.err
            .contains("`intr nosuchpic:4` names no interrupt controller"),
        "{}",
        r.err
    );
}

#[test]
fn overlapping_devices_are_a_config_error() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.vdevs.push(VdevSpec {
        loc: io(0x3fc),
        ..vdev("ser8250")
    });
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("overlaps ser8250"), "{}", r.err);
}

#[test]
fn unknown_vdev_is_a_config_error() {
    if !kvm() {
        return;
    }
    // a kind no device declares cannot be written as a VdevSpec: write the JSON
    let mut json = serde_json::to_value(probe_spec("hello")).expect("spec serialises");
    json["vdevs"]
        .as_array_mut()
        .expect("vdevs")
        .push(serde_json::json!({"kind": "vdev-nosuch.so"}));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spec.json");
    std::fs::write(&path, json.to_string()).expect("write spec");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_vmm-run"))
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vmm-run");
    let r = common::finish(child, std::time::Duration::from_secs(30));
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("unknown vdev `vdev-nosuch.so`"), "{}", r.err);
    // a declared vdev the VMM does not provide is refused as such
    let mut spec = probe_spec("hello");
    spec.vdevs.push(vdev("vgpu-gvtg"));
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(
        r.err
            .contains("vdev `vgpu-gvtg` is not provided by this VMM"),
        "{}",
        r.err
    );
}

#[test]
fn progress_as_a_post_code_port() {
    if !kvm() {
        return;
    }
    // `vdev progress loc io:0x80,1`: only the milestone register is there
    let mut spec = probe_spec("progress=80 progress");
    let p = spec
        .vdevs
        .iter_mut()
        .find(|v| v.kind == vdev::VdevKind::Progress)
        .expect("progress");
    p.loc = Some(Loc {
        space: Space::Io,
        base: 0x80,
        len: Some(1),
    });
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.ok("progress"),
        "id=ffffffff",
        "the id register is not mapped"
    );
    let logged: Vec<&str> = r
        .err
        .lines()
        .filter_map(|l| l.split("info: progress: ").nth(1))
        .collect();
    assert_eq!(
        logged,
        vec!["milestone 0", "milestone 1", "milestone 2"],
        "{}",
        r.err
    );
}

#[test]
fn ser8250_stdin_and_stdout() {
    if !kvm() {
        return;
    }
    // `hostdev -`: the guest reads what is typed on the VMM's standard input
    let mut spec = probe_spec("rx=3f8 hello");
    spec.vdevs[1].options = vec![common::hostdev("-")];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = common::spawn_with_stdin(&spec, dir.path());
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"typed by the host\n")
            .expect("write stdin");
    }
    let r = common::finish(child, std::time::Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("rx"), "'typed by the host'");
    assert_eq!(r.ok("hello"), "boot=pvh");
}

#[test]
fn ser8250_fifo_both_directions() {
    if !kvm() {
        return;
    }
    // a FIFO as a plain `hostdev` path is opened for input and output
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("com2");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: creates a FIFO at a path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // keep a writer open so the VMM's read-write open does not block, and feed it
    let fifo_path = fifo.clone();
    let feeder = std::thread::spawn(move || {
        use std::io::Write as _;
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo_path)
            .expect("open fifo");
        w.write_all(b"through a fifo\n").expect("write fifo");
        std::thread::sleep(std::time::Duration::from_secs(2));
    });
    let mut spec = probe_spec("rx=2f8");
    spec.vdevs.push(second_uart(fifo.to_str().expect("utf-8")));
    let r = run(&spec);
    let _ = feeder.join();
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("rx"), "'through a fifo'");
}
