//! The MultiProcessor Specification 1.4 tables: the floating pointer
//! structure and the configuration table with its processors, buses (PCI
//! 0 and ISA 1), the IOAPIC, the interrupt assignments (ISA IRQs to their
//! IOAPIC pins, each PCI device's INTA#–INTD# to the pins `_PRT` gives)
//! and the local interrupts (LINT0 ExtINT, LINT1 NMI).

use super::Machine;
use super::acpi::checksum;

const PCI_BUS: u8 = 0;
const ISA_BUS: u8 = 1;

/// The floating pointer (16 bytes) pointing at `config`.
pub(super) fn floating(config: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(16);
    f.extend_from_slice(b"_MP_");
    f.extend_from_slice(&config.to_le_bytes());
    f.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]);
    f[10] = checksum(&f);
    f
}

/// The configuration table.
pub(super) fn config(m: &Machine, routes: &[(u8, u8, u32)]) -> Vec<u8> {
    let mut e = Vec::new();
    let mut n = 0u16;
    for id in 0..m.cpus {
        let flags = if id == 0 { 3 } else { 1 };
        e.extend_from_slice(&[0, id as u8, 0x14, flags]);
        e.extend_from_slice(&0x0600u32.to_le_bytes()); // family 6
        e.extend_from_slice(&0x0201u32.to_le_bytes()); // FPU, APIC
        e.extend_from_slice(&[0; 8]);
        n += 1;
    }
    e.extend_from_slice(&[1, PCI_BUS]);
    e.extend_from_slice(b"PCI   ");
    e.extend_from_slice(&[1, ISA_BUS]);
    e.extend_from_slice(b"ISA   ");
    n += 2;
    let apic_id = 0u8;
    if let Some(base) = m.ioapic {
        e.extend_from_slice(&[2, apic_id, 0x11, 1]);
        e.extend_from_slice(&(base as u32).to_le_bytes());
        n += 1;
        let mut int = |kind: u8, flags: u16, bus: u8, irq: u8, pin: u32| {
            e.extend_from_slice(&[3, kind]);
            e.extend_from_slice(&flags.to_le_bytes());
            e.extend_from_slice(&[bus, irq, apic_id, pin as u8]);
            n += 1;
        };
        let pit = m.pit_pin.unwrap_or(2);
        if m.pic && pit != 0 {
            int(3, 0, ISA_BUS, 0, 0); // ExtINT: the 8259 pair on pin 0
        }
        for irq in 0..16u8 {
            let pin = if irq == 0 { pit } else { u32::from(irq) };
            if irq == 2 || (irq != 0 && pin == pit) {
                continue;
            }
            int(0, 0, ISA_BUS, irq, pin);
        }
        for &(dev, pin, gsi) in routes {
            int(0, 0b1111, PCI_BUS, (dev << 2) | pin, gsi); // level, active low
        }
    }
    for (kind, lint) in [(3u8, 0u8), (1, 1)] {
        e.extend_from_slice(&[4, kind, 0, 0, ISA_BUS, 0, 0xff, lint]);
        n += 1;
    }
    let mut t = Vec::with_capacity(44 + e.len());
    t.extend_from_slice(b"PCMP");
    t.extend_from_slice(&((44 + e.len()) as u16).to_le_bytes());
    t.extend_from_slice(&[4, 0]);
    t.extend_from_slice(b"HVHOST  ");
    t.extend_from_slice(b"KVM VM      ");
    t.extend_from_slice(&[0; 6]);
    t.extend_from_slice(&n.to_le_bytes());
    t.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(&e);
    t[7] = checksum(&t);
    t
}
