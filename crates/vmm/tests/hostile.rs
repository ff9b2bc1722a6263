//! The hostile guest: random port, MMIO and PCI configuration accesses and
//! virtqueue chaos against every device the VMM runs. The VMM must keep
//! running (the guest reports at the end through the UART), never panic,
//! and stay within a bounded size.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{kvm, probe_spec, vdev};
use vmm::spec::{Loc, Space, VdevSpec};

/// A probe VM with every device this VMM runs that a hostile guest can
/// reach without ending the VM on purpose.
pub(crate) fn hostile_vm(ops: u64) -> vmm::VmSpec {
    let mut spec = probe_spec(&format!("hostile={ops:x}"));
    let mem = |base| {
        Some(Loc {
            space: Space::Mem,
            base,
            len: None,
        })
    };
    spec.vdevs.push(vdev("hpet"));
    spec.vdevs.push(vdev("wdt-ib700"));
    spec.vdevs.push(VdevSpec {
        loc: mem(0xfe00_0000),
        intr: common::intr("myioapic", 10),
        options: vec![vdev::OptionValue::new(
            "create",
            vdev::Value::NamedSize(format!("hostile-{}", std::process::id()), 0x10000),
        )],
        ..vdev("shmem")
    });
    spec.vdevs.push(vdev("pci-dummy"));
    spec
}

/// The VMM's peak resident size, from its `VmHWM` at the end of the run
/// (the VMM logs nothing of it, so it is read from /proc while it runs).
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_hostile_guest_does_not_bring_the_vmm_down() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut running = common::start(&hostile_vm(50_000), dir.path(), false);
    let pid = running.id();
    running.wait_for(
        "probe: hostile: ... 40960 ops",
        std::time::Duration::from_secs(120),
    );
    let peak = peak_kib(pid).unwrap_or(0);
    let r: common::Run = running.finish(std::time::Duration::from_secs(120)).into();
    assert!(
        r.out.contains("probe: hostile: ok 50000 ops"),
        "the guest finished its operations and the UART still works:\n{}\n{}",
        r.out,
        r.err
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(!r.err.contains("panicked"), "{}", r.err);
    // 17 MiB of guest RAM (mostly untouched) and the VMM itself
    assert!(peak < 96 << 10, "peak resident size {peak} KiB");
}
