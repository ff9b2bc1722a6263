//! The hostile guest: random port, MMIO and PCI configuration accesses and
//! virtqueue chaos against every device the VMM runs. The VMM must keep
//! running (the guest reports at the end through the UART), never panic,
//! and stay within a bounded size.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use common::{kvm, probe_spec, vdev};
use vmm::spec::{Loc, Space, VdevSpec};

/// Where the hostile VM's virtio-mmio devices are.
const AT: u64 = 0xd000_0000;

/// A probe VM running `hostile=OPS` (0: without end) against every device
/// this VMM runs that a guest can reach without ending the VM on purpose:
/// hpet, wdt-ib700 (never started: its ports are spared), shmem, pci-dummy,
/// and virtio-blk, -entropy, -console and -net on virtio-mmio plus
/// virtio-entropy and virtio-blk on virtio-pci. Its files are in `dir`.
pub(crate) fn hostile_vm(dir: &std::path::Path, ops: u64) -> vmm::VmSpec {
    let words: String = (0..4)
        .map(|i| format!("hmmio={:x} ", AT + i * 0x1000))
        .collect();
    let mut spec = probe_spec(&format!("{words}hostile={ops:x}"));
    spec.vdevs.push(vdev("hpet"));
    spec.vdevs.push(vdev("wdt-ib700"));
    spec.vdevs.push(VdevSpec {
        loc: Some(Loc {
            space: Space::Mem,
            base: 0xfe00_0000,
            len: None,
        }),
        intr: common::intr("myioapic", 10),
        options: vec![vdev::OptionValue::new(
            "create",
            vdev::Value::NamedSize(format!("hostile-{}", std::process::id()), 0x10000),
        )],
        ..vdev("shmem")
    });
    spec.vdevs.push(vdev("pci-dummy"));
    let (disk, _) = common::disk(dir, 64);
    let blk = common::hostdev(disk.to_str().expect("a UTF-8 path"));
    let con = common::hostdev(&format!(">{}", dir.join("console.txt").display()));
    spec.vdevs.extend([
        common::virtio("virtio-blk", AT, 11, vec![blk.clone()]),
        common::virtio("virtio-entropy", AT + 0x1000, 12, vec![]),
        common::virtio("virtio-console", AT + 0x2000, 13, vec![con]),
        common::virtio("virtio-net", AT + 0x3000, 14, vec![]),
        vdev("virtio-entropy"),
        VdevSpec {
            options: vec![blk],
            ..vdev("virtio-blk")
        },
    ]);
    spec
}

/// The VMM's resident and peak resident sizes in KiB (`VmRSS`, `VmHWM`).
fn resident_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[test]
fn a_hostile_guest_does_not_bring_the_vmm_down() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut running = common::start(&hostile_vm(dir.path(), 50_000), dir.path(), false);
    let pid = running.id();
    running.wait_for("probe: hostile: ... 40960 ops", Duration::from_secs(240));
    let (_, peak) = resident_kib(pid).unwrap_or((0, 0));
    let r: common::Run = running.finish(Duration::from_secs(120)).into();
    assert!(
        r.out
            .contains("probe: hostile: ok 50000 ops, 6 virtio devices"),
        "the guest finished its operations, found the six virtio devices and the UART still works:\n{}\n{}",
        r.out,
        r.err
    );
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(!r.err.contains("panicked"), "{}", r.err);
    // 17 MiB of guest RAM (mostly untouched) and the VMM itself
    assert!(peak < 96 << 10, "peak resident size {peak} KiB");
}

/// The long run: `HVHOST_SOAK_SECS=600 cargo test -p vmm --test hostile
/// -- --ignored --nocapture`. The hostile guest runs without end; the VMM
/// must still run after the time, with its resident size flat after the
/// first minute (printed every 30 s), and then stop on the power button
/// with qvm's power-cut exit (3: the guest does not react).
#[test]
#[ignore = "a long run: HVHOST_SOAK_SECS=600 (10 minutes) -- --ignored"]
fn a_hostile_guest_runs_for_the_soak_time() {
    if !kvm() {
        return;
    }
    let secs: u64 = std::env::var("HVHOST_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let mut spec = hostile_vm(dir.path(), 0);
    spec.power_button_timeout_ms = 1000;
    let mut running = common::start(&spec, dir.path(), false);
    let pid = running.id();
    running.wait_for("probe: hostile: ... 4096 ops", Duration::from_secs(60));
    let start = std::time::Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(30).min(Duration::from_secs(secs)));
        let s = resident_kib(pid).expect("the VMM still runs");
        println!(
            "{:>5} s: VmRSS {} KiB, VmHWM {} KiB",
            start.elapsed().as_secs(),
            s.0,
            s.1
        );
        samples.push(s);
    }
    running.signal(libc::SIGTERM);
    let r: common::Run = running.finish(Duration::from_secs(30)).into();
    let ops = r
        .out
        .lines()
        .filter(|l| l.starts_with("probe: hostile: ..."))
        .count()
        * 4096;
    println!("{ops} operations or more in {secs} s");
    assert_eq!(
        r.code, 3,
        "power cut after the ignored power button: {}",
        r.err
    );
    assert!(!r.err.contains("panicked"), "{}", r.err);
    let first = samples.iter().skip(1).map(|s| s.0).next().unwrap_or(0);
    let last = samples.last().map_or(0, |s| s.0);
    assert!(
        last <= first + 1024,
        "resident size grew from {first} to {last} KiB"
    );
}
