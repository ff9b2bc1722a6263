//! The static ACPI tables (ACPI 6.5, chapter 5.2): RSDP, RSDT, XSDT, FADT,
//! FACS, MADT, MCFG, HPET. Each is built as bytes with its header and
//! checksum; the DSDT's AML is in `dsdt.rs`.

use super::{Machine, PM_BASE, PM_TMR, SCI_IRQ};

/// OEM ID in every header.
pub(super) const OEM_ID: &[u8; 6] = b"HVHOST";
/// OEM table ID in every header.
const OEM_TABLE: &[u8; 8] = b"HVHOSTVM";

/// The byte that makes `bytes` sum to zero.
pub(super) fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

/// A table: the 36-byte header (signature, length, revision, checksum,
/// OEM IDs, creator) and `body`.
pub(super) fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(36 + body.len());
    t.extend_from_slice(signature);
    t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
    t.push(revision);
    t.push(0);
    t.extend_from_slice(OEM_ID);
    t.extend_from_slice(OEM_TABLE);
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(b"HVHT");
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// The RSDP (revision 2, 36 bytes): both checksums, the RSDT and the XSDT.
pub(super) fn rsdp(rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut r = Vec::with_capacity(36);
    r.extend_from_slice(b"RSD PTR ");
    r.push(0);
    r.extend_from_slice(OEM_ID);
    r.push(2);
    r.extend_from_slice(&rsdt.to_le_bytes());
    r.extend_from_slice(&36u32.to_le_bytes());
    r.extend_from_slice(&xsdt.to_le_bytes());
    r.extend_from_slice(&[0; 4]);
    r[8] = checksum(&r[..20]);
    r[32] = checksum(&r);
    r
}

/// The RSDT (32-bit pointers) and the XSDT (64-bit) to the same tables.
pub(super) fn rsdt_xsdt(tables: &[u64]) -> (Vec<u8>, Vec<u8>) {
    let r: Vec<u8> = tables
        .iter()
        .flat_map(|&a| (a as u32).to_le_bytes())
        .collect();
    let x: Vec<u8> = tables.iter().flat_map(|&a| a.to_le_bytes()).collect();
    (table(b"RSDT", 1, &r), table(b"XSDT", 1, &x))
}

/// A Generic Address Structure: system I/O (1) or memory (0).
fn gas(space: u8, bits: u8, access: u8, addr: u64) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = space;
    g[1] = bits;
    g[3] = access;
    g[4..].copy_from_slice(&addr.to_le_bytes());
    g
}

/// The FADT (revision 6, minor 5; 276 bytes): a PC with the fixed ACPI
/// hardware (PM1a event and control blocks, PM timer) in ports, not the
/// hardware-reduced model: Linux and QNX x86 PC guests read the PM timer,
/// the century register, IAPC_BOOT_ARCH (8042, legacy devices) and the
/// SCI from it, and reset through its RESET_REG (port 0xCF9, value 6).
pub(super) fn fadt(m: &Machine, facs: u64, dsdt: u64) -> Vec<u8> {
    let mut b = vec![0u8; 276 - 36];
    let put =
        |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at - 36..at - 36 + v.len()].copy_from_slice(v);
    put(&mut b, 36, &(facs as u32).to_le_bytes());
    put(&mut b, 40, &(dsdt as u32).to_le_bytes());
    put(&mut b, 46, &u16::from(SCI_IRQ).to_le_bytes());
    // SMI_CMD 0: the machine is in ACPI mode from the start (SCI_EN is set)
    put(&mut b, 56, &(PM_BASE as u32).to_le_bytes()); // PM1a_EVT_BLK
    put(&mut b, 64, &(PM_BASE as u32 + 4).to_le_bytes()); // PM1a_CNT_BLK
    put(&mut b, 76, &(PM_TMR as u32).to_le_bytes()); // PM_TMR_BLK
    put(&mut b, 88, &[4, 2, 0, 4]); // PM1_EVT_LEN, PM1_CNT_LEN, PM2, PM_TMR_LEN
    put(&mut b, 96, &101u16.to_le_bytes()); // P_LVL2_LAT > 100: no C2
    put(&mut b, 98, &1001u16.to_le_bytes()); // P_LVL3_LAT > 1000: no C3
    put(&mut b, 108, &[0x32]); // CENTURY: CMOS register 0x32
    let mut boot_arch: u16 = 1 << 2; // VGA not present
    if m.legacy_devices {
        boot_arch |= 1 << 0;
    }
    if m.i8042 {
        boot_arch |= 1 << 1;
    }
    if !m.rtc {
        boot_arch |= 1 << 5;
    }
    put(&mut b, 109, &boot_arch.to_le_bytes());
    // WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON absent, RESET_REG_SUP
    let flags: u32 = 1 | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 10);
    put(&mut b, 112, &flags.to_le_bytes());
    put(&mut b, 116, &gas(1, 8, 1, 0xcf9));
    put(&mut b, 128, &[0x06]);
    put(&mut b, 131, &[5]); // FADT minor version
    put(&mut b, 132, &facs.to_le_bytes());
    put(&mut b, 140, &dsdt.to_le_bytes());
    put(&mut b, 148, &gas(1, 32, 2, PM_BASE));
    put(&mut b, 172, &gas(1, 16, 2, PM_BASE + 4));
    put(&mut b, 208, &gas(1, 32, 3, PM_TMR));
    put(&mut b, 268, b"HVHOSTVM");
    table(b"FACP", 6, &b)
}

/// The FACS (64 bytes, version 2; no waking vector, no global lock owner).
pub(super) fn facs() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..4].copy_from_slice(b"FACS");
    f[4..8].copy_from_slice(&64u32.to_le_bytes());
    f[32] = 2;
    f
}

/// The MADT: the LAPICs (IDs 0..n), the IOAPIC (GSIs from 0), the
/// interrupt source overrides (IRQ 0 to the PIT's pin when it is not 0;
/// the SCI, IRQ 9, level and active high) and LINT1 as NMI on every LAPIC.
/// PCAT_COMPAT is set when the VM has the 8259 pair.
pub(super) fn madt(m: &Machine) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
    b.extend_from_slice(&u32::from(m.pic).to_le_bytes());
    for id in 0..m.cpus {
        b.extend_from_slice(&[0, 8, id as u8, id as u8, 1, 0, 0, 0]);
    }
    if let Some(base) = m.ioapic {
        b.extend_from_slice(&[1, 12, 0, 0]);
        b.extend_from_slice(&(base as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        let mut iso = |irq: u8, gsi: u32, flags: u16| {
            b.extend_from_slice(&[2, 10, 0, irq]);
            b.extend_from_slice(&gsi.to_le_bytes());
            b.extend_from_slice(&flags.to_le_bytes());
        };
        if let Some(pin) = m.pit_pin.filter(|&p| p != 0) {
            iso(0, pin, 0);
        }
        iso(SCI_IRQ, u32::from(SCI_IRQ), 0b1101);
    }
    b.extend_from_slice(&[4, 6, 0xff, 0, 0, 1]);
    table(b"APIC", 5, &b)
}

/// The MCFG: one ECAM window, segment 0, bus 0 only.
pub(super) fn mcfg(ecam: u64) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b.extend_from_slice(&ecam.to_le_bytes());
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    table(b"MCFG", 1, &b)
}

/// The HPET table for a block at `base`: 3 comparators, 64-bit counter,
/// legacy-replacement capable, PCI vendor 0x8086; minimum tick 128.
pub(super) fn hpet(base: u64) -> Vec<u8> {
    let mut b = Vec::new();
    let id: u32 = 0x8086_0000 | (1 << 15) | (1 << 13) | (2 << 8) | 1;
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&gas(0, 64, 0, base));
    b.push(0);
    b.extend_from_slice(&128u16.to_le_bytes());
    b.push(0);
    table(b"HPET", 1, &b)
}
