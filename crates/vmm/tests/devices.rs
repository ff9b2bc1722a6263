//! The timer and shared-memory vdevs (wdt-ib700, hpet, shmem), driven by the
//! probe guest on real KVM.

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use common::{kvm, probe_spec, run, vdev};
use vmm::ExitCode;

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
