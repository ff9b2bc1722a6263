//! Parse + validate of a generated configuration with 1,000 vdevs.
//!
//! `cargo bench -p qvmconf --bench parse_validate`

#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write;

/// An aarch64 VM with 1,000 memory-mapped devices, each with its own
/// location, interrupt and name (so every check has work to do).
fn generated() -> String {
    let mut s = String::from("system bench\nram 0x80000000,1G\ncpu sched 10\ncpu sched 10\n");
    s.push_str("vdev gic version 3\n");
    for i in 0..1000u64 {
        let loc = 0x1000_0000 + i * 0x1000;
        let irq = 32 + i;
        match i % 4 {
            0 => writeln!(
                s,
                "vdev pl011\n    loc {loc:#x}\n    intr gic:{irq}\n    hostdev >-\n    name uart{i}"
            ),
            1 => writeln!(
                s,
                "vdev virtio-blk loc {loc:#x} intr gic:{irq} hostdev <disk{i}.img threads 4 name blk{i}"
            ),
            2 => writeln!(
                s,
                "vdev virtio-net loc {loc:#x} intr gic:{irq} mac 52:54:00:00:{:02x}:{:02x} peer /dev/vdevpeers/vp{i} name net{i}",
                i >> 8,
                i & 0xff
            ),
            _ => writeln!(
                s,
                "vdev shmem loc {loc:#x} intr gic:{irq} create region{i},0x10000 allow region{i}"
            ),
        }
        .unwrap();
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = generated();
    let opts = qvmconf::Options {
        host_files: false,
        ..Default::default()
    };
    // Check once that the input is valid, so the bench measures the full path.
    let mut map = diag::SourceMap::new();
    let (vm, diags) =
        qvmconf::load_source(&mut map, "bench.qvmconf", text.clone().into_bytes(), &opts);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(vm.map(|v| v.vdevs.len()), Some(1001));
    c.bench_function("parse_validate_1000_vdevs", |b| {
        b.iter(|| {
            let mut map = diag::SourceMap::new();
            qvmconf::load_source(&mut map, "bench.qvmconf", text.clone().into_bytes(), &opts)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
