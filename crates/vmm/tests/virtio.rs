//! The virtio-mmio devices, driven by the probe guest on real KVM.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{disk, hostdev, kvm, probe_spec, run, vdev, virtio};
use vmm::ExitCode;

const AT: u64 = 0xd000_0000;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn virtio_blk_writes_a_sector_and_reads_it_back() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = disk(dir.path(), 8);
    let mut spec = probe_spec(&format!("vblk={AT:x}"));
    let opt = hostdev(path.to_str().unwrap());
    spec.vdevs.push(virtio("virtio-blk", AT, 10, vec![opt]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let line = r.ok("vblk");
    assert_eq!(
        line,
        format!(
            "rw sectors=8 write=0 readback=same sector0={}",
            hex(&before[..8])
        )
    );
    let after = std::fs::read(&path).unwrap();
    let pattern: Vec<u8> = (0..512u32)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(0x5a))
        .collect();
    assert_eq!(
        &after[512..1024],
        &pattern[..],
        "sector 1 holds what the guest wrote"
    );
    assert_eq!(&after[..512], &before[..512], "sector 0 unchanged");
    assert_eq!(&after[1024..], &before[1024..], "sectors 2.. unchanged");
}

#[test]
fn virtio_blk_read_only_refuses_writes_with_ioerr() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = disk(dir.path(), 4);
    let mut spec = probe_spec(&format!("vblk={AT:x}"));
    let opt = hostdev(&format!("<{}", path.display()));
    spec.vdevs.push(virtio("virtio-blk", AT, 10, vec![opt]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let line = r.ok("vblk");
    assert!(line.starts_with("ro sectors=4 write=1 "), "{line}");
    assert!(
        line.ends_with(&format!("sector0={}", hex(&before[..8]))),
        "{line}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
}

#[test]
fn virtio_blk_missing_or_short_file_is_a_configuration_error() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.img");
    std::fs::write(&short, [0u8; 100]).unwrap();
    for (file, says) in [
        (dir.path().join("missing.img"), "cannot open it"),
        (short, "has 100 bytes"),
    ] {
        let mut spec = probe_spec("hello");
        let opt = hostdev(file.to_str().unwrap());
        spec.vdevs.push(virtio("virtio-blk", AT, 10, vec![opt]));
        let r = run(&spec);
        assert_eq!(r.code, i32::from(ExitCode::Config.code()), "{}", r.err);
        assert!(
            r.err.contains(says) && r.err.contains("hostdev"),
            "{}",
            r.err
        );
    }
}

#[test]
fn virtio_entropy_gives_random_bytes() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec(&format!("vrng={AT:x} vrng={AT:x}"));
    spec.vdevs.push(virtio("virtio-entropy", AT, 11, vec![]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let got = r.report("vrng");
    assert_eq!(got.len(), 2, "{}", r.out);
    assert!(got.iter().all(|l| l.starts_with("ok 32 bytes ")), "{got:?}");
    assert_ne!(got[0], got[1], "two requests gave the same bytes");
}

#[test]
fn virtio_console_output_reaches_the_host_file() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("console.txt");
    let mut spec = probe_spec(&format!("vcon={AT:x}"));
    let opt = hostdev(&format!(">{}", out.display()));
    spec.vdevs.push(virtio("virtio-console", AT, 12, vec![opt]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("vcon"), "sent 41 bytes");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, "hello from the probe over virtio-console\n");
}

#[test]
fn a_looping_chain_sets_needs_reset_and_a_reset_recovers() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = disk(dir.path(), 4);
    let mut spec = probe_spec(&format!("vbad={AT:x} vblk={AT:x} vbad={:x}", AT + 0x1000));
    spec.vdevs.push(virtio(
        "virtio-blk",
        AT,
        10,
        vec![hostdev(path.to_str().unwrap())],
    ));
    spec.vdevs
        .push(virtio("virtio-entropy", AT + 0x1000, 11, vec![]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let bad = r.report("vbad");
    assert_eq!(bad.len(), 2, "{}", r.out);
    for l in &bad {
        assert_eq!(l, "ok status=4f isr=2 after-reset=f", "{}", r.out);
    }
    assert!(
        r.ok("vblk").starts_with("rw "),
        "the disk works after its reset"
    );
    let warned = r.err.matches("device needs reset").count();
    assert_eq!(warned, 2, "one line per broken device\n{}", r.err);
}

/// The cost of one notification round trip, printed (`--nocapture`): 256
/// entropy requests, each notified through the ioeventfd and served by the
/// device's worker thread.
#[test]
fn virtio_notification_round_trip() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec(&format!("vbench={AT:x}"));
    spec.vdevs.push(virtio("virtio-entropy", AT, 11, vec![]));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    let line = r.ok("vbench");
    assert!(line.starts_with("256 requests "), "{line}");
    println!("virtio-entropy round trip: {line}");
}

#[test]
fn two_vms_exchange_frames_over_a_seqpacket_socket() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("net0.sock");
    let peer = vdev::OptionValue::new(
        "peer",
        vdev::Value::Text(format!("unix:{}", sock.display())),
    );
    let mac = |m: [u8; 6]| vdev::OptionValue::new("mac", vdev::Value::Mac(m));
    let mut a = probe_spec(&format!("vnetrx={AT:x}"));
    a.vdevs.push(virtio(
        "virtio-net",
        AT,
        10,
        vec![peer.clone(), mac([2, 0, 0, 0, 0, 0xa])],
    ));
    let mut b = probe_spec(&format!("vnettx={AT:x}"));
    b.vdevs.push(virtio(
        "virtio-net",
        AT,
        10,
        vec![peer, mac([2, 0, 0, 0, 0, 0xb])],
    ));
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let first = common::spawn(&a, &da);
    // the first VM listens; the second connects
    let t = std::time::Instant::now();
    while !sock.exists() && t.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = common::spawn(&b, &db);
    let limit = std::time::Duration::from_secs(60);
    let (ra, rb) = (common::finish(first, limit), common::finish(second, limit));
    assert_eq!((ra.code, rb.code), (0, 0), "{}\n{}", ra.err, rb.err);
    let got_a = ra.ok("vnetrx");
    let got_b = rb.ok("vnettx");
    assert!(
        got_a.contains("from=02000000000b 'hello from vnett'"),
        "{got_a}"
    );
    assert!(
        got_b.contains("from=02000000000a 'reply from vnetr'"),
        "{got_b}"
    );
}

#[test]
fn a_frame_goes_to_a_tap_and_the_answer_comes_back() {
    use std::io::{Read, Write};
    if !kvm() {
        return;
    }
    let Some(tap) = testkit::tap::Tap::create("hvt") else {
        return;
    };
    let sock = tap.socket();
    let peer = vdev::OptionValue::new("peer", vdev::Value::Text(format!("tap:{}", tap.name)));
    let mac = vdev::OptionValue::new("mac", vdev::Value::Mac([2, 0, 0, 0, 0, 0xd]));
    let mut spec = probe_spec(&format!("vnettx={AT:x}"));
    spec.vdevs
        .push(virtio("virtio-net", AT, 10, vec![peer, mac]));
    let dir = tempfile::tempdir().unwrap();
    let vm = common::spawn(&spec, dir.path());
    let mut frame = [0u8; 1600];
    let n = (&sock).read(&mut frame).unwrap_or(0);
    let mut reply = vec![2, 0, 0, 0, 0, 0xd, 2, 0, 0, 0, 0, 0xe, 0x88, 0xb5];
    reply.extend_from_slice(b"reply from the host");
    reply.resize(60, 0);
    (&sock).write_all(&reply).unwrap();
    let r = common::finish(vm, std::time::Duration::from_secs(60));
    drop(tap);
    assert!(
        n >= 60,
        "the guest's frame reached the TAP ({n} bytes)\n{}",
        r.err
    );
    assert_eq!(&frame[6..12], &[2, 0, 0, 0, 0, 0xd], "from the guest's MAC");
    assert_eq!(&frame[14..31], b"hello from vnettx");
    assert_eq!(r.code, 0, "{}", r.err);
    let got = r.ok("vnettx");
    assert!(
        got.contains("from=02000000000e 'reply from the h'"),
        "{got}"
    );
}

#[test]
fn virtio_entropy_on_virtio_pci_without_loc() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("vpcirng=3 vpcimsix=3");
    let mut v = vdev("virtio-entropy");
    v.pci = Some(vdev::PciAddr {
        bus: 0,
        dev: 3,
        func: 0,
    });
    spec.vdevs.push(v);
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("vpcirng"), "32 bytes isr=1 caps=1342");
    // with MSI-X on, the queue's vector is sent and the ISR stays clear
    assert_eq!(r.ok("vpcimsix"), "32 bytes msi=1 isr=0");
}
