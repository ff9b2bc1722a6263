//! The timer and shared-memory vdevs (wdt-ib700, hpet, shmem), driven by the
//! probe guest on real KVM.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use common::{kvm, probe_spec, run, vdev};
use vmm::ExitCode;
use vmm::spec::{Intr, Loc, Space, VdevSpec};

/// The VMM's log time (seconds since it started) of the first stderr line
/// containing `what`.
fn logged_at(err: &str, what: &str) -> Option<f64> {
    let line = err.lines().find(|l| l.contains(what))?;
    let t = line.split_whitespace().nth(1)?.strip_prefix('+')?;
    t.parse().ok()
}

#[test]
fn wdt_ib700_ends_the_vm_with_exit_4_two_seconds_after_the_last_pet() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("progress wdt");
    spec.exit_on_halt = false;
    spec.vdevs.push(vdev("wdt-ib700"));
    let r = run(&spec);
    assert_eq!(
        r.code,
        i32::from(ExitCode::Watchdog.code()),
        "{}\n{}",
        r.out,
        r.err
    );
    assert_eq!(r.ok("wdt"), "petted 4 times; waiting", "{}", r.err);
    // the pets, about one second apart, span more than the 2 s timeout: a
    // watchdog that ignored them would have ended the VM before the last
    let first = logged_at(&r.err, "milestone 1792").expect("first pet logged");
    let last = logged_at(&r.err, "milestone 1795").expect("last pet logged");
    let end = logged_at(&r.err, "VM ended").expect("end logged");
    assert!(last - first > 2.0, "pets from {first} to {last}\n{}", r.err);
    let after = end - last;
    assert!(
        (1.9..3.0).contains(&after),
        "expired {after:.3} s after the last pet (timeout 2 s)\n{}",
        r.err
    );
    assert!(r.err.contains("watchdog (wdt-ib700) expired"), "{}", r.err);
}

/// Asserts the `check` report of the probe's hpet check: 20 interrupts on
/// IOAPIC pin `pin` at 100 Hz of a 14.31818 MHz counter that agrees with
/// the host's clock.
fn hpet_ok(r: &common::Run, check: &str, pin: u32) {
    let line = r.ok(check);
    let words: Vec<&str> = line.split_whitespace().collect();
    // "20 irqs via ioapic pin 20 in T ticks of 69841279 fs, period 143181 timers=3"
    let pin = pin.to_string();
    assert_eq!(
        words[..6],
        ["20", "irqs", "via", "ioapic", "pin", pin.as_str()],
        "{line}"
    );
    assert_eq!(words[8..11], ["ticks", "of", "69841279"], "{line}");
    assert_eq!(words[13..], ["143181", "timers=3"], "{line}");
    // interrupts never come faster than the period; a loaded host may
    // deliver them late (periods already past are skipped), not 3 times so
    let ticks: f64 = words[7].parse().expect("ticks");
    let periods = ticks / 143_181.0;
    assert!((19.5..60.0).contains(&periods), "{periods} periods: {line}");
    // the counter runs at 14.31818 MHz of the host's clock: the VMM's log
    // times the milestones written just before it started and after it
    // was read
    let t0 = logged_at(&r.err, "milestone 1808").expect("start logged");
    let t1 = logged_at(&r.err, "milestone 1809").expect("end logged");
    let counted = ticks / 14_318_180.0;
    assert!(
        (0.5..1.05).contains(&(counted / (t1 - t0))),
        "the counter counted {counted} s in {} s\n{}",
        t1 - t0,
        r.err
    );
}

fn hpet(more_intr: Vec<Intr>) -> VdevSpec {
    VdevSpec {
        intr: common::intr("myioapic", 20),
        more_intr,
        ..vdev("hpet")
    }
}

#[test]
fn hpet_timer_0_raises_periodic_interrupts_at_100_hz_through_the_ioapic() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("progress hpet=fed00000");
    spec.vdevs.push(hpet(vec![Intr::line("myioapic", 21)]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    hpet_ok(&r, "hpet", 20);
}

#[test]
fn hpet_legacy_replacement_puts_timer_0_on_the_8254s_pin() {
    if !kvm() {
        return;
    }
    // the probe VM's timer8254 interrupts on pin 2; timer 0's own line (20)
    // stays masked in the ioapic, so only the legacy route counts
    let mut spec = probe_spec("progress hpet-legacy=2");
    spec.vdevs.push(hpet(Vec::new()));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    hpet_ok(&r, "hpet-legacy", 2);
    // legacy-free: the mode cannot be set, timer 0 stays on its own line
    let mut spec = probe_spec("progress hpet-legacy=2");
    spec.vdevs.push(VdevSpec {
        options: vec![vdev::OptionValue::new("legacy-free", vdev::Value::Flag)],
        ..hpet(Vec::new())
    });
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(
        r.report("hpet-legacy")
            .first()
            .is_some_and(|l| l.starts_with("FAIL 0 irqs")),
        "{}",
        r.out
    );
}

/// A probe VM with a shmem factory page at 0xfe000000 interrupting on
/// IOAPIC pin 10, creating region `name`, running `shmem=...,ROLE`.
fn shmem_vm(name: &str, role: &str) -> vmm::VmSpec {
    let mut spec = probe_spec(&format!("shmem=fe000000,{name},{role}"));
    spec.name = role.into();
    spec.vdevs.push(VdevSpec {
        loc: Some(Loc {
            space: Space::Mem,
            base: 0xfe00_0000,
            len: None,
        }),
        intr: common::intr("myioapic", 10),
        options: vec![vdev::OptionValue::new(
            "create",
            vdev::Value::NamedSize(name.into(), 0x10000),
        )],
        ..vdev("shmem")
    });
    spec
}

#[test]
fn shmem_two_vm_processes_exchange_a_message_and_an_interrupt() {
    if !kvm() {
        return;
    }
    let name = format!("probe-{}", std::process::id());
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let recv = common::spawn(&shmem_vm(&name, "recv"), da.path());
    let send = common::spawn(&shmem_vm(&name, "send"), db.path());
    let limit = std::time::Duration::from_secs(60);
    let (r, s) = (common::finish(recv, limit), common::finish(send, limit));
    assert_eq!(
        (r.code, s.code),
        (0, 0),
        "{}\n{}\n{}\n{}",
        r.out,
        r.err,
        s.out,
        s.err
    );
    let sent = s.ok("shmem");
    let got = r.ok("shmem");
    // "sent to peer 1 as peer 2" / "1 irqs via ioapic pin 10 status=1 from peer 2 '...'"
    let peers: Vec<&str> = sent.split_whitespace().collect();
    assert_eq!(
        got,
        format!(
            "1 irqs via ioapic pin 10 status=1 from peer {} 'hello through shmem'",
            peers[6]
        ),
        "{}",
        s.out
    );
    assert_eq!(peers[..3], ["sent", "to", "peer"], "{sent}");
    assert_eq!(peers[4..6], ["as", "peer"], "{sent}");
    assert_ne!(peers[3], peers[6], "two peers");
    assert!(
        !std::path::Path::new(&format!("/dev/shm/hvhost-shmem-{name}")).exists(),
        "the region's name is removed when the VMs end"
    );
}
