//! virtio figures of the VMM against `qemu-system-x86_64 -M microvm -accel
//! kvm`, the same probe ELF and the same probe words on both, in one run
//! (`nice -n 10 cargo bench -p vmm --bench virtio`):
//!
//! - virtio-blk (64 MiB file, page-cached): 4 KiB random read IOPS at one
//!   request in flight and at 8, 1 MiB sequential read MiB/s (`vblkbench`);
//! - virtio-net with a TAP peer: 60-byte frames/s probe → TAP (`vnetbench`);
//! - one notification round trip on virtio-entropy (`vbench`), in µs;
//! - the VMM's resident memory outside guest RAM with these devices, after
//!   the checks (as in `vmm.rs`); QEMU: its Rss minus its guest RAM mapping.
//!
//! All devices are virtio-mmio (QEMU: `force-legacy=false`, version 2, at
//! its slots 0xfeb00000 + 0x200 × slot, filled from slot 23 down). The guest
//! reports TSC cycles and the TSC frequency; figures are medians of
//! `VMM_BENCH_RUNS` (default 5) runs of each VMM. `VMM_BENCH_ONLY=blk|net|notify`
//! runs one check (resident memory is measured in every run).

#![allow(clippy::unwrap_used, reason = "bench")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use vmm::spec::{Intr, Loc, Space, VdevSpec};

/// hvhost's addresses for blk, net and entropy; QEMU's are its slots 23, 22, 21.
const OURS: [u64; 3] = [0xd000_0000, 0xd000_1000, 0xd000_2000];
const QEMU: [u64; 3] = [0xfeb0_2e00, 0xfeb0_2c00, 0xfeb0_2a00];

/// The probe's command line for devices at `at` (blk, net, entropy).
fn words(at: &[u64; 3], only: &str, net: bool) -> String {
    let mut w = vec!["tschz".to_string()];
    if only.is_empty() || only == "notify" {
        w.push(format!("vbench={:x}", at[2]));
    }
    if only.is_empty() || only == "blk" {
        w.push(format!("vblkbench={:x},100,10", at[0]));
    }
    if net && (only.is_empty() || only == "net") {
        w.push(format!("vnetbench={:x},400", at[1]));
    }
    w.push("spin".into());
    w.join(" ")
}

fn virtio(kind: vdev::VdevKind, base: u64, pin: u32, options: Vec<vdev::OptionValue>) -> VdevSpec {
    VdevSpec {
        loc: Some(Loc {
            space: Space::Mem,
            base,
            len: None,
        }),
        intr: Some(Intr::line("myioapic", pin)),
        options,
        ..VdevSpec::new(kind)
    }
}

fn ours_spec(disk: &Path, tap: Option<&str>, cmdline: &str) -> vmm::VmSpec {
    use vdev::VdevKind as K;
    let mut s = common::spec(cmdline, true);
    s.vdevs.push(VdevSpec {
        loc: Some(Loc {
            space: Space::Mem,
            base: 0xfec0_0000,
            len: None,
        }),
        name: Some("myioapic".into()),
        ..VdevSpec::new(K::Ioapic)
    });
    s.vdevs.push(VdevSpec {
        intr: Some(Intr::line("myioapic", 2)),
        ..VdevSpec::new(K::Timer8254)
    });
    let hostdev = vdev::HostDev {
        direction: None,
        path: disk.to_string_lossy().into_owned(),
    };
    let hostdev = vdev::OptionValue::new("hostdev", vdev::Value::HostDev(hostdev));
    s.vdevs
        .push(virtio(K::VirtioBlk, OURS[0], 10, vec![hostdev]));
    if let Some(t) = tap {
        let peer = vdev::OptionValue::new("peer", vdev::Value::Text(format!("tap:{t}")));
        let mac = vdev::OptionValue::new("mac", vdev::Value::Mac([2, 0, 0, 0, 0, 0x42]));
        s.vdevs
            .push(virtio(K::VirtioNet, OURS[1], 11, vec![peer, mac]));
    }
    s.vdevs.push(virtio(K::VirtioEntropy, OURS[2], 12, vec![]));
    s
}

fn qemu_cmd(qemu: &str, disk: &Path, tap: Option<&str>, cmdline: &str) -> Command {
    let mut c = Command::new(qemu);
    c.args(["-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "32"]);
    c.args([
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-serial",
        "stdio",
    ]);
    c.args(["-no-reboot", "-global", "virtio-mmio.force-legacy=false"]);
    c.args(["-kernel", vmm::probe::ELF, "-append", cmdline]);
    c.arg("-drive")
        .arg(format!("id=d0,file={},format=raw,if=none", disk.display()));
    c.args(["-device", "virtio-blk-device,drive=d0"]);
    if let Some(t) = tap {
        c.arg("-netdev")
            .arg(format!("tap,id=n0,ifname={t},script=no,downscript=no"));
        c.args(["-device", "virtio-net-device,netdev=n0"]);
    } else {
        // keep the entropy device in slot 21
        c.args(["-device", "virtio-rng-device"]);
    }
    c.args(["-device", "virtio-rng-device"]);
    c
}

/// The `key=value` numbers of the probe's `check` line, if it said ok.
fn report(lines: &[String], check: &str) -> Option<HashMap<String, u64>> {
    let prefix = format!("probe: {check}: ok");
    let l = lines.iter().find_map(|l| l.strip_prefix(&prefix))?;
    let mut m = HashMap::new();
    for (i, w) in l.split_whitespace().enumerate() {
        match w.split_once('=') {
            Some((k, v)) => v.parse().ok().map(|v| m.insert(k.to_string(), v)),
            None => w.parse().ok().map(|v| m.insert(format!("#{i}"), v)),
        };
    }
    Some(m)
}

/// Each figure's values over the runs.
type Samples = HashMap<&'static str, Vec<f64>>;

/// One run's figures, by name.
fn figures(lines: &[String], resident_kib: u64) -> HashMap<&'static str, f64> {
    let mut f = HashMap::new();
    f.insert("resident MiB", resident_kib as f64 / 1024.0);
    let Some(hz) = report(lines, "tschz").and_then(|m| m.get("#0").copied()) else {
        println!("  no tschz report: {lines:?}");
        return f;
    };
    if let Some(l) = lines.iter().find(|l| l.contains("probe: tschz: ")) {
        println!("  {l}");
    }
    let secs = |c: u64| c as f64 / hz as f64;
    if let Some(m) = report(lines, "vblkbench") {
        f.insert(
            "blk 4 KiB random read IOPS, 1 in flight",
            m["qd1-reqs"] as f64 / secs(m["qd1-cycles"]),
        );
        f.insert(
            "blk 4 KiB random read IOPS, 8 in flight",
            m["qdn-reqs"] as f64 / secs(m["qdn-cycles"]),
        );
        let mib = (m["seq-reqs"] * m["seq-bytes"]) as f64 / f64::from(1 << 20);
        f.insert(
            "blk 1 MiB sequential read MiB/s",
            mib / secs(m["seq-cycles"]),
        );
    }
    if let Some(m) = report(lines, "vnetbench") {
        f.insert(
            "net frames/s probe -> TAP",
            m["frames"] as f64 / secs(m["cycles"]),
        );
    }
    if let Some(m) = report(lines, "vbench") {
        // "ok 256 requests C cycles each"
        f.insert("notification round trip us", secs(m["#2"]) * 1e6);
    }
    f
}

const ROWS: [&str; 6] = [
    "blk 4 KiB random read IOPS, 1 in flight",
    "blk 4 KiB random read IOPS, 8 in flight",
    "blk 1 MiB sequential read MiB/s",
    "net frames/s probe -> TAP",
    "notification round trip us",
    "resident MiB",
];

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A TAP interface for the net check, up, without IPv6 chatter.
fn make_tap() -> Option<String> {
    let name = format!("hvb{}", std::process::id() % 100_000);
    if !ip(&["tuntap", "add", "dev", &name, "mode", "tap"]) {
        println!("no TAP (needs CAP_NET_ADMIN and /dev/net/tun): virtio-net skipped");
        return None;
    }
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
    ip(&["link", "set", &name, "up"]).then_some(name)
}

/// QEMU's Rss outside its guest RAM (the mapping of exactly `-m 32`).
fn qemu_resident(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut total, mut guest, mut is_guest) = (0, 0, false);
    for l in smaps.lines() {
        let kb = |p: &str| -> Option<u64> {
            l.strip_prefix(p)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        if let Some(size) = kb("Size:") {
            is_guest = size == 32 * 1024;
        } else if let Some(rss) = kb("Rss:") {
            total += rss;
            if is_guest {
                guest += rss;
            }
        }
    }
    total - guest
}

fn main() {
    if !Path::new("/dev/kvm").exists() {
        println!("virtio bench skipped: /dev/kvm is absent");
        return;
    }
    let runs: usize = std::env::var("VMM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("VMM_BENCH_ONLY").unwrap_or_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("disk.img");
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&disk, data).expect("disk image");
    let tap = make_tap();
    let qemu = common::which("qemu-system-x86_64");
    if qemu.is_none() {
        println!("qemu-system-x86_64 not found: QEMU column skipped");
    }
    let mut ours: Samples = HashMap::new();
    let mut theirs: Samples = HashMap::new();
    for _ in 0..runs {
        let cmdline = words(&OURS, &only, tap.is_some());
        let spec = ours_spec(&disk, tap.as_deref(), &cmdline);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmm-run"));
        cmd.arg(common::write_spec(&spec, dir.path()));
        let (lines, kib) = common::follow(cmd, |pid, lines| {
            let guest: Vec<_> = lines
                .iter()
                .filter_map(|l| common::guest_range(l))
                .collect();
            let (total, in_guest) = common::rss_split(pid, &guest);
            total - in_guest
        });
        for (k, v) in figures(&lines, kib) {
            ours.entry(k).or_default().push(v);
        }
        if let Some(q) = &qemu {
            let cmdline = words(&QEMU, &only, tap.is_some());
            let (lines, kib) =
                common::follow(qemu_cmd(q, &disk, tap.as_deref(), &cmdline), |pid, _| {
                    qemu_resident(pid)
                });
            for (k, v) in figures(&lines, kib) {
                theirs.entry(k).or_default().push(v);
            }
        }
    }
    if let Some(t) = &tap {
        ip(&["link", "del", t]);
    }
    println!("virtio over virtio-mmio, probe guest polling its queues, median of {runs} runs:");
    println!("| figure | vmm-run | qemu -M microvm | vmm-run / qemu |");
    println!("|---|---|---|---|");
    for row in ROWS {
        let o = ours.get_mut(row).and_then(|v| median(v));
        let q = theirs.get_mut(row).and_then(|v| median(v));
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let ratio = o
            .zip(q)
            .map(|(o, q)| format!("{:.2}", o / q))
            .unwrap_or_else(|| "-".into());
        println!("| {row} | {} | {} | {ratio} |", show(o), show(q));
    }
}
