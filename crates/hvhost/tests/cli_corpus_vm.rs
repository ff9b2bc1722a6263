//! The corpus's real x86 configuration (`hvguest_linux_x86_64_hs0n4_linux`)
//! on KVM through `hvhost qvm @FILE`: only what names the QNX host (the
//! kernel, the disk, the network peer, the shared region's name, the
//! command line) is pointed at this machine; every vdev stays as written
//! (same slots, the ioapic at 0xf8000000, the hpet at 0xf8008000). Two
//! probe VMs with that configuration check every device.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::kvm;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testkit::process::{Finished, Running};

/// The corpus file, beside the repository (as in `cli_qvm.rs`).
fn corpus() -> PathBuf {
    common::root().join("../shared/corpus/qvmconf/hvguest_linux_x86_64_hs0n4_linux.qvmcfg")
}

/// The corpus file with `load`, `cmdline`, `hostdev`, `peer` and the shmem
/// region's name replaced, and the serial port's output on stdout; each of them must be there to be replaced.
fn localise(text: &str, disk: &Path, peer: &str, region: &str, words: &str) -> String {
    let mut hits = [0; 6];
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        let new = if t.starts_with("load ") {
            hits[0] += 1;
            format!("load {}", vmm::probe::ELF)
        } else if t.starts_with("cmdline ") {
            hits[1] += 1;
            format!("cmdline \"{words}\"")
        } else if t == "hostdev /dev/lxdisk0" {
            hits[2] += 1;
            format!("hostdev {}", disk.display())
        } else if t == "peer /dev/vdevpeers/hc_vp0" {
            hits[3] += 1;
            format!("peer {peer}")
        } else if t == "vdev ser8250" {
            // the corpus leaves the serial's host end to qvm's default:
            // here it is this process's standard output
            hits[5] += 1;
            "vdev ser8250\n    hostdev >-".to_string()
        } else if t.contains("hc_shmem") {
            hits[4] += 1;
            t.replace("hc_shmem", region)
        } else {
            t.to_string()
        };
        out.push_str(indent);
        out.push_str(&new);
        out.push('\n');
    }
    assert_eq!(hits, [1, 1, 1, 1, 2, 1], "the corpus file changed");
    out
}

/// A temporary host tree: the disk (2 sectors of 0x11 and 0x22) and the
/// configuration of a VM running `words`.
fn vm_conf(dir: &Path, peer: &str, region: &str, words: &str) -> PathBuf {
    let disk = dir.join("lxdisk0");
    let mut bytes = vec![0x11; 512];
    bytes.extend([0x22; 512]);
    std::fs::write(&disk, bytes).unwrap();
    let text = std::fs::read_to_string(corpus()).unwrap();
    let conf = dir.join("linux.qvmcfg");
    std::fs::write(&conf, localise(&text, &disk, peer, region, words)).unwrap();
    conf
}

fn start(dir: &Path, conf: &Path) -> Running {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hvhost"));
    c.arg("qvm")
        .arg(format!("@{}", conf.display()))
        .args(["set", "exit-on-halt", "on"])
        .current_dir(dir)
        .env("NO_COLOR", "1");
    Running::start(&mut c, false)
}

/// The text after `probe: CHECK: ok ` (the run's output when missing).
fn ok(r: &Finished, check: &str) -> String {
    let head = format!("probe: {check}: ok ");
    r.out
        .lines()
        .find_map(|l| l.strip_prefix(&head))
        .unwrap_or_else(|| panic!("no `{head}`\n--- stdout\n{}\n--- stderr\n{}", r.out, r.err))
        .to_string()
}

/// The sector the probe's `vblk` check writes.
fn written() -> Vec<u8> {
    (0..512usize)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(0x5a))
        .collect()
}

#[test]
fn the_corpus_linux_configuration_runs_every_device_on_kvm() {
    if !kvm() {
        return;
    }
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sock = da.path().join("hc_vp0.sock");
    let peer = format!("unix:{}", sock.display());
    let region = format!("hc_shmem_{}", std::process::id());
    let a = vm_conf(
        da.path(),
        &peer,
        &region,
        &format!(
            "ioapic=f8000000 vnetrx=pci:2 shmem=pci,{region},recv pci acpi \
             hpet=f8008000 rtc vblk=pci:1"
        ),
    );
    let b = vm_conf(
        db.path(),
        &peer,
        &region,
        &format!("ioapic=f8000000 vnettx=pci:2 shmem=pci,{region},send"),
    );
    let first = start(da.path(), &a);
    // the first VM listens on the peer socket; the second connects
    let t = std::time::Instant::now();
    while !sock.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = start(db.path(), &b);
    let limit = Duration::from_secs(90);
    let (ra, rb) = (first.finish(limit), second.finish(limit));
    let all = format!("{}\n{}\n--- B\n{}\n{}", ra.out, ra.err, rb.out, rb.err);
    assert_eq!((ra.code, rb.code), (0, 0), "{all}");
    println!("{}\n{}", ra.out, rb.out);

    // ser8250: every line above came through it; PCI: the slots qvmconf
    // allocates, in file order (virtio-blk, virtio-net, shmem)
    let pci = ok(&ra, "pci");
    assert!(
        pci.starts_with(
            "n=4 0.0=8086:29c0/60000 1.0=1af4:1042/18000 2.0=1af4:1041/20000 \
             3.0=1234:5348/58000 widths=ok"
        ),
        "{pci}"
    );
    let acpi = ok(&ra, "acpi");
    assert!(
        acpi.starts_with("rsdp=e0000 tables=FACP,APIC,MCFG,HPET, bad=0 dsdt=ok"),
        "{acpi}"
    );
    assert!(acpi.ends_with("lapics=2 ioapics=1 mp=ok"), "{acpi}");
    // hpet at 0xf8008000, timer 0 on its first `intr` (ioapic pin 0)
    let hpet = ok(&ra, "hpet");
    assert!(hpet.starts_with("20 irqs via ioapic pin 0 in "), "{hpet}");
    assert!(hpet.ends_with(" fs, period 143181 timers=3"), "{hpet}");
    let ticks: f64 = hpet.split_whitespace().nth(7).unwrap().parse().unwrap();
    assert!((19.5..60.0).contains(&(ticks / 143_181.0)), "{hpet}");
    // mc146818
    // mc146818 with the corpus's `reg 0x0b,0x02` (24-hour, BCD)
    let rtc = ok(&ra, "rtc");
    assert!(rtc.ends_with(" b=2 d=80"), "{rtc}");
    // virtio-blk over PCI: sector 1 written, sector 0 read back as the file has it
    assert_eq!(
        ok(&ra, "vblk"),
        "rw sectors=2 write=0 readback=same sector0=1111111111111111"
    );
    let disk = std::fs::read(da.path().join("lxdisk0")).unwrap();
    assert_eq!(&disk[..512], &[0x11; 512][..], "sector 0 untouched");
    assert_eq!(
        &disk[512..],
        &written()[..],
        "sector 1 is what the guest wrote"
    );
    // virtio-net over PCI between the two VMs, both ways
    assert!(ok(&ra, "vnetrx").ends_with("'hello from vnett'"), "{all}");
    assert!(ok(&rb, "vnettx").ends_with("'reply from vnetr'"), "{all}");
    // shmem over PCI: the message and its interrupt
    let got = ok(&ra, "shmem");
    // (slot 3's INTA#: ioapic pin 16 + 3 % 4)
    assert!(got.starts_with("1 irqs via ioapic pin 19 "), "{got}");
    assert!(got.ends_with("'hello through shmem'"), "{got}");
    assert!(ok(&rb, "shmem").starts_with("sent to peer "), "{all}");
}

#[test]
fn the_corpus_linux_configuration_s_watchdog_ends_the_vm_with_exit_4() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let peer = format!("unix:{}", d.path().join("hc_vp0.sock").display());
    let region = format!("hc_shmem_wdt_{}", std::process::id());
    let conf = vm_conf(d.path(), &peer, &region, "ioapic=f8000000 wdt");
    let r = start(d.path(), &conf).finish(Duration::from_secs(60));
    assert_eq!(r.code, 4, "{}\n{}", r.out, r.err);
    assert_eq!(ok(&r, "wdt"), "petted 4 times; waiting");
    assert!(r.err.contains("watchdog (wdt-ib700) expired"), "{}", r.err);
}

/// The corpus file's virtio-net with its peer on a host TAP: the guest's
/// frame is read on the TAP, and the host's answer reaches the guest.
#[test]
fn the_corpus_linux_configuration_s_network_reaches_a_host_tap() {
    use std::io::{Read, Write};
    if !kvm() {
        return;
    }
    let Some(tap) = testkit::tap::Tap::create("hvc") else {
        return;
    };
    let sock = tap.socket();
    let d = tempfile::tempdir().unwrap();
    let region = format!("hc_shmem_tap_{}", std::process::id());
    let peer = format!("tap:{}", tap.name);
    let conf = vm_conf(d.path(), &peer, &region, "ioapic=f8000000 vnettx=pci:2");
    let vm = start(d.path(), &conf);
    let mut frame = [0u8; 1600];
    let n = (&sock).read(&mut frame).unwrap_or(0);
    assert!(n >= 60, "the guest's frame reached the TAP ({n} bytes)");
    assert_eq!(&frame[14..31], b"hello from vnettx");
    // back to the guest's MAC, from a host MAC
    let mut reply = frame[6..12].to_vec();
    reply.extend([2, 0, 0, 0, 0, 0xe, 0x88, 0xb5]);
    reply.extend_from_slice(b"reply from the host");
    reply.resize(60, 0);
    (&sock).write_all(&reply).unwrap();
    let r = vm.finish(Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let got = ok(&r, "vnettx");
    assert!(
        got.contains("from=02000000000e 'reply from the h'"),
        "{got}"
    );
}

/// The probe's virtio driver over virtio-pci for what the corpus file has
/// no device for: virtio-console (its line reaches the host file) and a
/// read-only virtio-blk (the write refused).
#[test]
fn virtio_console_and_a_read_only_disk_over_pci() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (con, disk) = (d.path().join("con.txt"), d.path().join("d.img"));
    std::fs::write(&disk, [0x33; 4096]).unwrap();
    let text = format!(
        "system probe\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,31m\ncpu\nload {}\n\
         cmdline \"ioapic=f8000000 pci vcon=pci:1 vblk=pci:2\"\n\
         vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n\
         vdev virtio-console hostdev >{}\nvdev virtio-blk hostdev <{}\n",
        vmm::probe::ELF,
        con.display(),
        disk.display()
    );
    let conf = d.path().join("p.qvmcfg");
    std::fs::write(&conf, text).unwrap();
    let r = start(d.path(), &conf).finish(Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(
        ok(&r, "pci")
            .starts_with("n=3 0.0=8086:29c0/60000 1.0=1af4:1043/78000 2.0=1af4:1042/18000"),
        "{}",
        r.out
    );
    assert_eq!(ok(&r, "vcon"), "sent 41 bytes");
    assert_eq!(
        std::fs::read_to_string(&con).unwrap(),
        "hello from the probe over virtio-console\n"
    );
    assert_eq!(
        ok(&r, "vblk"),
        "ro sectors=8 write=1 readback=differs sector0=3333333333333333"
    );
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        [0x33; 4096],
        "the disk untouched"
    );
}
