//! The PCI bus, driven by the probe guest on real KVM: enumeration over
//! CF8/CFC and ECAM, pci-dummy's IDs and presets, the firmware tables.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{kvm, probe_spec, run, vdev};
use vmm::spec::VdevSpec;

fn dummy(regs: &[(&str, u64)], dev: Option<u8>) -> VdevSpec {
    let mut v = vdev("pci-dummy");
    for &(name, value) in regs {
        let reg = match name.split_once('/') {
            Some((o, s)) => vdev::PciReg::Offset {
                offset: u32::from_str_radix(o, 16).unwrap(),
                size: s.parse().unwrap(),
                value,
            },
            None => vdev::PciReg::Named {
                name: name.into(),
                value,
            },
        };
        v.options
            .push(vdev::OptionValue::new("reg", vdev::Value::PciReg(reg)));
    }
    v.pci = dev.map(|dev| vdev::PciAddr {
        bus: 0,
        dev,
        func: 0,
    });
    v
}

#[test]
fn the_host_bridge_alone_is_enumerated_over_cf8() {
    if !kvm() {
        return;
    }
    let r = run(&probe_spec("pci"));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("pci"), "n=1 0.0=8086:29c0/60000 widths=ok");
}

#[test]
fn pci_dummy_ids_are_read_back_at_their_slots() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("pci pcicfg=140 pcicfg=104 pcicfg=502");
    // allocated: the first free device number (1); then one at 5
    spec.vdevs.push(dummy(
        &[
            ("Vendor_ID", 0x8086),
            ("Device_ID", 0x7000),
            ("40/4", 0x1234_5678),
        ],
        None,
    ));
    spec.vdevs
        .push(dummy(&[("Class_Code", 0x0c_0330)], Some(5)));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.ok("pci"),
        "n=3 0.0=8086:29c0/60000 1.0=8086:7000/ff0000 5.0=1234:1/c0330 widths=ok"
    );
    assert_eq!(
        r.report("pcicfg"),
        vec![
            "ok 1.0+40=12345678 after-write=12345678",
            // the command register is writable (its defined bits only)
            "ok 1.0+4=0 after-write=547",
            "ok 5.0+0=11234 after-write=11234",
        ]
    );
}

#[test]
fn ecam_shows_the_same_functions_as_cf8() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("ecam=e0000000");
    spec.vdevs.push(dummy(&[], None));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("ecam"), "n=2 same as cf8 ext=0");
}

#[test]
fn a_pci_address_taken_twice_is_refused_before_start() {
    let mut spec = probe_spec("pci");
    spec.vdevs.push(dummy(&[], Some(3)));
    spec.vdevs.push(dummy(&[], Some(3)));
    let dir = tempfile::tempdir().unwrap();
    let out = common::command(&spec, dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0:3.0 is taken by vdev pci-dummy"), "{err}");
}
