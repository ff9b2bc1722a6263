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
fn pci_addresses_taken_twice_off_bus_0_or_the_bridges_are_refused_before_start() {
    let off_bus = |mut v: VdevSpec| {
        v.pci = Some(vdev::PciAddr {
            bus: 1,
            dev: 2,
            func: 0,
        });
        v
    };
    for (extra, msg) in [
        (
            vec![dummy(&[], Some(3)), dummy(&[], Some(3))],
            "0:3.0 is taken by vdev pci-dummy",
        ),
        (vec![dummy(&[], Some(0))], "0:0.0 is the host bridge's"),
        (vec![off_bus(dummy(&[], None))], "1:2.0 is not on bus 0"),
        (
            vec![dummy(&[("Nonsense", 1)], None)],
            "reg Nonsense: no such register",
        ),
    ] {
        let mut spec = probe_spec("pci");
        spec.vdevs.extend(extra);
        let dir = tempfile::tempdir().unwrap();
        let out = common::command(&spec, dir.path()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{err}");
        assert!(err.contains(msg), "{msg}: {err}");
    }
}

#[test]
fn the_guest_finds_and_checks_the_acpi_and_mp_tables() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("acpi");
    spec.cpus = 2;
    spec.vdevs.push(dummy(&[], None));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.ok("acpi"),
        "rsdp=e0000 tables=FACP,APIC,MCFG, bad=0 dsdt=ok ecam=e0000000 lapics=2 ioapics=1 mp=ok"
    );
}

#[test]
fn the_slots_qvmconf_allocates_are_the_slots_that_run() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "system probe
ram 0,0xa0000
rom 0xc0000,0x40000
ram 1m,31m
load {}
cmdline \"ioapic=f8000000 pci\"
vdev ioapic loc 0xf8000000 intr apic name myioapic
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
vdev progress
vdev pci-dummy reg Device_ID=0x2
vdev pci-dummy loc pci:0:1 reg Device_ID=0x1
set exit-on-halt 1
",
        vmm::probe::ELF
    );
    let spec = common::spec_from_qvmconf(&text, dir.path());
    let slots: Vec<_> = spec
        .vdevs
        .iter()
        .filter_map(|v| v.pci)
        .map(|a| a.dev)
        .collect();
    assert_eq!(
        slots,
        vec![2, 1],
        "the validator's allocation is in the spec"
    );
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.ok("pci"),
        "n=3 0.0=8086:29c0/60000 1.0=1234:1/ff0000 2.0=1234:2/ff0000 widths=ok"
    );
}

/// The time of `progress: milestone N` in the VMM's log.
fn milestone(err: &str, n: u32) -> f64 {
    let tail = format!("progress: milestone {n}");
    err.lines()
        .find(|l| l.ends_with(&tail))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|t| t.trim_start_matches('+').parse().ok())
        .unwrap_or_else(|| panic!("no milestone {n}:\n{err}"))
}

#[test]
fn configuration_reads_cost_over_cf8_and_ecam() {
    if !kvm() {
        return;
    }
    let n = 2000;
    // iobench: N port writes to the progress device, the cost of one exit
    let r = run(&probe_spec(&format!(
        "progress iobench={n:x} pcibench={n:x}"
    )));
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("pcibench"), format!("{n} reads each"));
    let (a, b, c) = (
        milestone(&r.err, 20),
        milestone(&r.err, 21),
        milestone(&r.err, 22),
    );
    let io = milestone(&r.err, 11) - milestone(&r.err, 10);
    let us = |d: f64| d * 1e6 / f64::from(n);
    eprintln!(
        "config read: CF8/CFC {:.1} µs, ECAM {:.1} µs; one port exit {:.1} µs",
        us(b - a),
        us(c - b),
        us(io)
    );
    assert!(b > a && c > b);
}

#[test]
fn random_configuration_writes_from_the_guest_leave_the_vmm_running() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("pcifuzz=1000 pci");
    spec.vdevs.push(dummy(&[("Vendor_ID", 0x8086)], Some(4)));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    r.done();
    assert_eq!(r.ok("pcifuzz"), "4096 accesses, bridge=29c08086");
    // the preset IDs survive; the rest of the bus still answers
    assert!(r.ok("pci").contains("4.0=8086:1/ff0000"), "{}", r.out);
}
