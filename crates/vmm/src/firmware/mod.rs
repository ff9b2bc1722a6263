//! The firmware tables a PC guest reads to find its machine without a
//! BIOS: the ACPI tables (RSDP, RSDT and XSDT, FADT with FACS and DSDT,
//! MADT, MCFG, HPET) and the MP tables, in the BIOS area at
//! [`TABLES`]..+64 KiB (the RSDP and the MP floating pointer where guests
//! scan for them, 0xE0000–0xFFFFF), and the ACPI fixed hardware the FADT
//! names ([`pm`]).

mod acpi;
mod dsdt;
mod mptable;
pub(crate) mod pm;

use crate::memory::Memory;
use crate::{Error, pci};

/// Where the tables go: the RSDP first, the MP floating pointer at +0x40.
pub(crate) const TABLES: u64 = 0xe_0000;
/// Room for them.
pub(crate) const TABLES_LEN: u64 = 0x1_0000;
/// The PM1a event block (the control block at +4).
pub(crate) const PM_BASE: u64 = 0x600;
/// The PM timer.
pub(crate) const PM_TMR: u64 = 0x608;
/// The SCI's ISA IRQ (and GSI).
pub(crate) const SCI_IRQ: u8 = 9;

/// A PCI function as the tables describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PciFn {
    /// Device number.
    pub dev: u8,
    /// Interrupt pin (1 = INTA#; 0 none).
    pub pin: u8,
    /// The IOAPIC pin it is wired to.
    pub gsi: u32,
}

/// What the tables describe.
#[derive(Clone, Debug, Default)]
pub(crate) struct Machine {
    /// vCPUs (LAPIC IDs 0..cpus).
    pub cpus: u32,
    /// The IOAPIC's base, when the VM has one.
    pub ioapic: Option<u64>,
    /// The PIT's IOAPIC pin.
    pub pit_pin: Option<u32>,
    /// The 8259 pair is there.
    pub pic: bool,
    /// An 8042 is there.
    pub i8042: bool,
    /// The CMOS RTC is there.
    pub rtc: bool,
    /// Legacy ISA devices (a UART, the RTC) are there.
    pub legacy_devices: bool,
    /// The HPET's base, when one is configured.
    pub hpet: Option<u64>,
    /// The ECAM window, when there is one.
    pub ecam: Option<u64>,
    /// The 32-bit memory windows BARs are placed in (first, last address).
    pub mmio_windows: Vec<(u64, u64)>,
    /// The PCI functions with an interrupt pin.
    pub pci: Vec<PciFn>,
}

/// Where the tables were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    /// The RSDP.
    pub rsdp: u64,
}

/// The tables of `m`, laid out from [`TABLES`]: (address, bytes) each.
pub(crate) fn build(m: &Machine) -> Vec<(u64, Vec<u8>)> {
    let mut at = TABLES + 0x1000;
    let mut out = Vec::new();
    let mut place = |bytes: Vec<u8>, out: &mut Vec<(u64, Vec<u8>)>| {
        let a = at;
        at = (at + bytes.len() as u64).next_multiple_of(64);
        out.push((a, bytes));
        a
    };
    let facs = place(acpi::facs(), &mut out);
    let dsdt = place(dsdt::dsdt(m), &mut out);
    let mut tables = vec![place(acpi::fadt(m, facs, dsdt), &mut out)];
    tables.push(place(acpi::madt(m), &mut out));
    if let Some(ecam) = m.ecam {
        tables.push(place(acpi::mcfg(ecam), &mut out));
    }
    if let Some(hpet) = m.hpet {
        tables.push(place(acpi::hpet(hpet), &mut out));
    }
    let (rsdt, xsdt) = acpi::rsdt_xsdt(&tables);
    let rsdt = place(rsdt, &mut out);
    let xsdt = place(xsdt, &mut out);
    out.push((TABLES, acpi::rsdp(rsdt as u32, xsdt)));
    let mp = TABLES + 0x100;
    out.push((TABLES + 0x40, mptable::floating(mp as u32)));
    let routes: Vec<(u8, u8, u32)> = m
        .pci
        .iter()
        .map(|f| (f.dev, f.pin.saturating_sub(1), f.gsi))
        .collect();
    out.push((mp, mptable::config(m, &routes)));
    out
}

/// Write the tables into guest memory when it covers [`TABLES`]; `None`
/// (no tables) when it does not.
pub(crate) fn write(m: &Machine, mem: &Memory) -> Result<Option<Written>, Error> {
    if !mem.contains(TABLES, TABLES_LEN) {
        return Ok(None);
    }
    let tables = build(m);
    for (addr, bytes) in &tables {
        if addr + bytes.len() as u64 > TABLES + TABLES_LEN {
            return Err(Error::Config("the ACPI tables do not fit in 64 KiB".into()));
        }
        mem.write(*addr, bytes, "ACPI tables")?;
    }
    Ok(Some(Written { rsdp: TABLES }))
}

/// The PCI functions of `bus` with an interrupt pin, as the tables give them.
pub(crate) fn pci_functions(bus: &pci::PciBus) -> Vec<PciFn> {
    bus.functions()
        .into_iter()
        .filter(|&(_, pin, _)| pin != 0)
        .map(|(a, pin, line)| PciFn {
            dev: a.dev,
            pin,
            gsi: u32::from(line),
        })
        .collect()
}

#[cfg(test)]
mod tests;
