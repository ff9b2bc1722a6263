//! How long checking a host takes.
//!
//! `cargo bench -p hostcheck --bench check` measures, on a generated x86_64
//! host with 16 VMs (each with its qvmconf: 12 vdevs, pass-through, an APS
//! partition, a guest image) and 200 image entries, resolved with
//! `--no-host-files` and no host access:
//! - `host16/end-to-end`: what `hvhost check` does after reading the file:
//!   resolve the buildfile, read and parse the 16 qvmconfs, apply the rules;
//! - `host16/rules`: the rules alone, on the resolved Manifest and VmFacts.

#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

use buildfile::Options as BOptions;
use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write;

const VMS: usize = 16;
const ENTRIES: usize = 200;

const VDEVS: &[&str] = &[
    "ioapic",
    "ser8250",
    "timer8254",
    "8259",
    "mc146818",
    "pckeyboard",
    "hpet",
    "virtio-blk",
    "virtio-net",
    "virtio-console",
    "shmem",
    "progress",
];

fn qvmconf(i: usize) -> String {
    format!(
        "system vm{i}\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,127m\n\
         cpu partition guests\ncpu partition guests\n\
         load /vm/images/vm{i}.ifs\ncmdline \"-v\"\n\
         vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n\
         vdev mc146818\nvdev pckeyboard\n\
         vdev hpet loc 0xfed00000 intr myioapic:2\n\
         vdev virtio-blk hostdev /dev/hd0t{}\n\
         vdev virtio-net peer /dev/vdevpeer/vm{i}\n\
         vdev virtio-console hostdev /dev/ptyp{i}\n\
         vdev shmem create ipc{i},0x10000\n\
         vdev progress\n\
         pass loc mem:{:#x},0x1000\n",
        177 + i,
        0xd000_0000u64 + (i as u64) * 0x10000,
    )
}

fn host() -> String {
    let mut s = String::new();
    s.push_str("[virtual=x86_64,multiboot] boot = {\n    startup-x86 -v\n");
    s.push_str(
        "    [module=qvm module=aps] PATH=/proc/boot:/usr/bin:/bin procnto-smp-instr -v\n}\n",
    );
    s.push_str(
        "[+script] .script = {\n    devc-ser8250 -e -b115200 0x2f8,3 &\n    sched_aps guests 60 100\n",
    );
    for i in 0..VMS {
        writeln!(s, "    [sched_aps=guests] qvm @/vm/config/vm{i}.qvmconf &").unwrap();
    }
    s.push_str("    [+session] ksh &\n}\n/usr/bin/qvm = qvm\n/proc/boot/devc-ser8250 = devc-ser8250\n/bin/ksh = ksh\n");
    let mut n = 5; // the script, the kernel, qvm, the driver, ksh
    for v in VDEVS {
        writeln!(s, "/lib/dll/vdev-{v}.so = vdev-{v}.so").unwrap();
        n += 1;
    }
    for i in 0..VMS {
        writeln!(s, "/vm/config/vm{i}.qvmconf = {{\n{}}}", qvmconf(i)).unwrap();
        writeln!(s, "/vm/images/vm{i}.ifs = images/vm{i}.ifs").unwrap();
        n += 2;
    }
    let mut i = 0;
    while n < ENTRIES {
        writeln!(s, "/usr/lib/lib{i}.so = lib{i}.so").unwrap();
        n += 1;
        i += 1;
    }
    s
}

fn opts() -> BOptions {
    BOptions {
        no_host_files: true,
        host_access: false,
        ..BOptions::default()
    }
}

fn bench(c: &mut Criterion) {
    let src = host();
    let check_opts = hostcheck::Options::default();
    // The host must be a real one: resolved, every VM read, clean.
    let mut map = diag::SourceMap::new();
    let (m, d) = buildfile::load(
        &mut map,
        &[],
        "host.build",
        src.clone().into_bytes(),
        &opts(),
    );
    assert!(d.is_empty(), "{}", diag::render::human_to_string(&map, &d));
    let m = m.expect("manifest");
    assert_eq!(m.entries.len(), ENTRIES, "entries");
    let loaded = hostcheck::load_vms(&mut map, &m, &check_opts);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        diag::render::human_to_string(&map, &loaded.diagnostics)
    );
    assert_eq!(loaded.vms.len(), VMS);
    let r = hostcheck::check(&m, &loaded.vms, &check_opts);
    assert!(
        r.diagnostics.is_empty(),
        "{}",
        diag::render::human_to_string(&map, &r.diagnostics)
    );

    let mut g = c.benchmark_group("host16");
    g.bench_function("end-to-end", |b| {
        b.iter(|| {
            let mut map = diag::SourceMap::new();
            let (m, _) = buildfile::load(
                &mut map,
                &[],
                "host.build",
                src.clone().into_bytes(),
                &opts(),
            );
            let m = m.expect("manifest");
            let loaded = hostcheck::load_vms(&mut map, &m, &check_opts);
            hostcheck::check(&m, &loaded.vms, &check_opts)
                .diagnostics
                .len()
        })
    });
    g.bench_function("rules", |b| {
        b.iter(|| {
            hostcheck::check(&m, &loaded.vms, &check_opts)
                .diagnostics
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
