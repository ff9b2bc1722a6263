//! The VM's PCI bus 0: the host bridge at 00:00.0, configuration space
//! through ports 0xCF8/0xCFC and through ECAM, BARs placed in the PCI hole
//! below 4 GiB (memory) and above port 0x1000 (I/O) and remapped when the
//! guest moves them or toggles decoding, INTx to the IOAPIC and MSI-X
//! through KVM routes ([`msi`]).
//!
//! Where things are (published in the ACPI tables, see docs/vmm.md):
//!
//! | what | where |
//! |---|---|
//! | configuration ports | 0xCF8 (address), 0xCFC–0xCFF (data), 0xCF9 (reset control) |
//! | ECAM (MMCONFIG), bus 0 | [`ECAM_BASE`], 1 MiB |
//! | 32-bit memory BARs | [`MMIO_START`]..[`MMIO_END`], outside RAM, ROM, ECAM and other vdevs |
//! | I/O BARs | [`IO_START`]..0xFFFF, outside other vdevs' ports |
//! | INTx | INTA# of device d on IOAPIC pin 16 + d mod 4 (pin p: 16 + (d + p − 1) mod 4), or the vdev's `intr` |

pub(crate) mod msi;

use std::sync::{Arc, Mutex};

use vdev::pci::{
    Bar, BarKind, CMD_IO, CMD_MEMORY, COMMAND, ConfigSpace, HEADER_TYPE, INTERRUPT_LINE,
    INTERRUPT_PIN, Ids, PciFunction,
};
use vdev::{Effect, IrqLine, PciAddr, Space};

/// The configuration address port (0xCF8, dword) and data ports (0xCFC–0xCFF).
pub(crate) const CONFIG_PORTS: u64 = 0xcf8;
/// Where the ECAM window of bus 0 is.
pub(crate) const ECAM_BASE: u64 = 0xe000_0000;
/// Its size: 32 devices × 8 functions × 4 KiB.
pub(crate) const ECAM_LEN: u64 = 1 << 20;
/// Start of the window for 32-bit memory BARs.
pub(crate) const MMIO_START: u64 = 0xc000_0000;
/// End of it (the IOAPIC, HPET and LAPIC pages follow).
pub(crate) const MMIO_END: u64 = 0xfec0_0000;
/// First port for I/O BARs.
pub(crate) const IO_START: u64 = 0x1000;
/// IOAPIC pin of INTA# for device 0 (PIRQ A–D are pins 16–19).
pub(crate) const INTX_BASE: u32 = 16;

/// The host bridge's IDs: Intel's 82G33/Q35 DRAM controller (0x8086:0x29c0),
/// class 06/00 (host bridge), the chipset whose ECAM Linux and QNX know.
pub(crate) const HOST_BRIDGE: Ids = Ids {
    vendor: 0x8086,
    device: 0x29c0,
    class: 0x06_0000,
    revision: 2,
    subsystem_vendor: 0,
    subsystem: 0,
    multifunction: false,
};

/// The IOAPIC pin INTx `pin` (1 = INTA#) of device `dev` goes to.
pub(crate) fn intx_gsi(dev: u8, pin: u8) -> u32 {
    INTX_BASE + (u32::from(dev) + u32::from(pin.max(1)) - 1) % 4
}

/// A function's INTx line: connected to an irqfd once the VMM knows the
/// function's interrupt pin (a function without one never raises it).
/// Each trigger is one edge on the IOAPIC pin.
#[derive(Default)]
pub(crate) struct IntxLine(std::sync::OnceLock<Arc<dyn IrqLine>>);

impl IntxLine {
    /// Connect the line (once).
    pub(crate) fn connect(&self, to: Arc<dyn IrqLine>) {
        let _ = self.0.set(to);
    }
}

impl IrqLine for IntxLine {
    fn trigger(&self) -> std::io::Result<()> {
        match self.0.get() {
            Some(l) => l.trigger(),
            None => Ok(()),
        }
    }
}

/// The host bridge: a header and nothing else.
struct HostBridge(ConfigSpace);

impl PciFunction for HostBridge {
    fn config(&self) -> &ConfigSpace {
        &self.0
    }
    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.0
    }
}

struct Slot {
    devfn: u8,
    name: String,
    func: Box<dyn PciFunction>,
}

/// A BAR decoding where the guest put it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// Ports or memory.
    pub space: Space,
    /// Where.
    pub base: u64,
    /// Its size.
    pub len: u64,
    slot: usize,
    bar: usize,
}

/// Bus 0.
pub(crate) struct PciBus {
    slots: Vec<Slot>,
    address: u32,
    ecam: Option<u64>,
    maps: Vec<Mapping>,
    windows: Vec<(u64, u64)>,
}

/// A failed BAR or configuration access, for the vCPU.
pub(crate) type Result<T> = std::result::Result<T, vdev::Error>;

impl PciBus {
    /// The bus with its host bridge (no ECAM window yet).
    pub(crate) fn new() -> PciBus {
        let bridge = HostBridge(ConfigSpace::new(&HOST_BRIDGE));
        PciBus {
            slots: vec![Slot {
                devfn: 0,
                name: "host bridge".into(),
                func: Box::new(bridge),
            }],
            address: 0,
            ecam: None,
            maps: Vec::new(),
            windows: vec![(MMIO_START, MMIO_END - 1)],
        }
    }

    /// Publish the ECAM window at `base`.
    pub(crate) fn set_ecam(&mut self, base: u64) {
        self.ecam = Some(base);
    }

    /// Add a function at `addr` (bus 0); fails when the address is taken.
    pub(crate) fn add(
        &mut self,
        addr: PciAddr,
        name: &str,
        func: Box<dyn PciFunction>,
    ) -> std::result::Result<(), String> {
        let devfn = (addr.dev << 3) | (addr.func & 7);
        if addr.bus != 0 || addr.dev > 31 {
            return Err(format!("{name}: PCI address {addr} is not on bus 0"));
        }
        if let Some(s) = self.slots.iter().find(|s| s.devfn == devfn) {
            return Err(format!("{name}: PCI address {addr} is taken by {}", s.name));
        }
        let at = self.slots.partition_point(|s| s.devfn < devfn);
        self.slots.insert(
            at,
            Slot {
                devfn,
                name: name.into(),
                func,
            },
        );
        Ok(())
    }

    /// The functions' addresses, interrupt pins (0: none) and interrupt
    /// lines (the IOAPIC pin each is wired to), for the tables.
    pub(crate) fn functions(&self) -> Vec<(PciAddr, u8, u8)> {
        self.slots
            .iter()
            .map(|s| {
                let addr = PciAddr {
                    bus: 0,
                    dev: s.devfn >> 3,
                    func: s.devfn & 7,
                };
                let c = s.func.config();
                (addr, c.read_u8(INTERRUPT_PIN), c.read_u8(INTERRUPT_LINE))
            })
            .collect()
    }

    /// The 32-bit memory windows memory BARs are placed in (first and last
    /// address): the PCI hole without what [`PciBus::assign`] was told is
    /// busy (RAM, ROM, ECAM, other devices).
    pub(crate) fn mmio_windows(&self) -> Vec<(u64, u64)> {
        self.windows.clone()
    }

    /// The ECAM window's base, when there is one.
    pub(crate) fn ecam(&self) -> Option<u64> {
        self.ecam
    }

    /// Tell each function with an interrupt pin the GSI it is wired to
    /// (its interrupt line register, as firmware sets it).
    pub(crate) fn set_interrupt_line(&mut self, addr: PciAddr, gsi: u32) {
        let devfn = (addr.dev << 3) | addr.func;
        if let Some(s) = self.slots.iter_mut().find(|s| s.devfn == devfn) {
            s.func.config_mut().set_u8(INTERRUPT_LINE, gsi as u8);
        }
    }

    /// Place every BAR, as firmware does: memory BARs in the PCI hole, I/O
    /// BARs above 0x1000, each aligned to its size and clear of `busy`
    /// (RAM, ROM, ECAM, other vdevs); then enable decoding.
    pub(crate) fn assign(&mut self, busy: &[(Space, u64, u64)]) -> std::result::Result<(), String> {
        self.windows = free(busy, MMIO_START, MMIO_END);
        let mut taken: Vec<(Space, u64, u64)> = busy.to_vec();
        let mut bars: Vec<(usize, usize, Bar)> = Vec::new();
        for (si, s) in self.slots.iter().enumerate() {
            for b in 0..6 {
                if let Some(bar) = s.func.config().bar(b) {
                    bars.push((si, b, bar));
                }
            }
        }
        bars.sort_by_key(|&(si, b, bar)| (std::cmp::Reverse(bar.size), si, b));
        for (si, b, bar) in bars {
            let (space, start, end) = match bar.kind {
                BarKind::Io => (Space::Io, IO_START, 0x1_0000),
                _ => (Space::Mem, MMIO_START, MMIO_END),
            };
            let at = place(&taken, space, start, end, bar.size).ok_or_else(|| {
                format!(
                    "{}: no room for a {:#x}-byte BAR {b} in {start:#x}..{end:#x}",
                    self.slots[si].name, bar.size
                )
            })?;
            taken.push((space, at, bar.size));
            self.slots[si].func.config_mut().set_bar_address(b, at);
        }
        for s in &mut self.slots {
            let cfg = s.func.config_mut();
            let has =
                |k: fn(&BarKind) -> bool| (0..6).any(|b| cfg.bar(b).is_some_and(|x| k(&x.kind)));
            let mut cmd = cfg.command();
            if has(|k| *k == BarKind::Io) {
                cmd |= CMD_IO;
            }
            if has(|k| *k != BarKind::Io) {
                cmd |= CMD_MEMORY;
            }
            cfg.set_u16(COMMAND, cmd);
        }
        self.mark_multifunction();
        for i in 0..self.slots.len() {
            self.remap(i);
        }
        Ok(())
    }

    /// Set the multi-function bit of function 0 of every device that has
    /// other functions (guests look for functions 1-7 only then).
    fn mark_multifunction(&mut self) {
        let multi: Vec<u8> = self
            .slots
            .iter()
            .filter(|s| s.devfn & 7 != 0)
            .map(|s| s.devfn >> 3)
            .collect();
        for s in &mut self.slots {
            if s.devfn & 7 == 0 && multi.contains(&(s.devfn >> 3)) {
                let c = s.func.config_mut();
                let h = c.read_u8(HEADER_TYPE) | 0x80;
                c.set_u8(HEADER_TYPE, h);
            }
        }
    }

    /// The BARs decoding now.
    #[cfg(test)]
    pub(crate) fn mappings(&self) -> &[Mapping] {
        &self.maps
    }

    /// Recompute slot `i`'s mappings from its BARs and command register.
    fn remap(&mut self, i: usize) {
        self.maps.retain(|m| m.slot != i);
        let cfg = self.slots[i].func.config();
        let cmd = cfg.command();
        for b in 0..6 {
            let (Some(bar), Some(base)) = (cfg.bar(b), cfg.bar_address(b)) else {
                continue;
            };
            let (space, on, limit) = match bar.kind {
                BarKind::Io => (Space::Io, cmd & CMD_IO != 0, 0x1_0000),
                _ => (Space::Mem, cmd & CMD_MEMORY != 0, u64::MAX),
            };
            let fits = base != 0 && base.checked_add(bar.size).is_some_and(|e| e <= limit);
            if on && fits {
                self.maps.push(Mapping {
                    space,
                    base,
                    len: bar.size,
                    slot: i,
                    bar: b,
                });
            }
        }
    }

    fn slot(&mut self, bus: u8, devfn: u8) -> Option<usize> {
        (bus == 0)
            .then(|| self.slots.iter().position(|s| s.devfn == devfn))
            .flatten()
    }

    /// Read `data.len()` bytes of function `devfn`'s configuration space at
    /// `offset` (an absent function reads all ones).
    pub(crate) fn config_read(&mut self, bus: u8, devfn: u8, offset: usize, data: &mut [u8]) {
        match self.slot(bus, devfn) {
            Some(i) => self.slots[i].func.config().read(offset, data),
            None => data.fill(0xff),
        }
    }

    /// Write function `devfn`'s configuration space; remaps its BARs when
    /// the write touches them or the command register, and updates MSI-X.
    pub(crate) fn config_write(
        &mut self,
        bus: u8,
        devfn: u8,
        offset: usize,
        data: &[u8],
    ) -> Result<()> {
        let Some(i) = self.slot(bus, devfn) else {
            return Ok(());
        };
        let s = &mut self.slots[i];
        s.func.config_mut().write(offset, data);
        let ctl = s
            .func
            .msix()
            .and_then(|m| m.capability())
            .map(|cap| (cap, s.func.config().read_u16(cap + 2)));
        if let Some((cap, ctl)) = ctl
            && offset < cap + 4
            && offset + data.len() > cap + 2
            && let Some(m) = s.func.msix()
        {
            m.control_written(ctl)
                .map_err(|e| runtime(&s.name, format!("MSI-X: {e}")))?;
        }
        s.func.config_written(offset, data.len());
        if ConfigSpace::touches_decode(offset, data.len()) {
            self.remap(i);
        }
        Ok(())
    }

    /// An access to ports 0xCF8–0xCFF (`offset` from 0xCF8).
    pub(crate) fn ports_read(&mut self, offset: u64, data: &mut [u8]) {
        match offset {
            0 if data.len() == 4 => data.copy_from_slice(&self.address.to_le_bytes()),
            4..=7 => match self.selected() {
                Some((bus, devfn, reg)) => {
                    self.config_read(bus, devfn, reg + (offset as usize - 4), data)
                }
                None => data.fill(0xff),
            },
            _ => data.fill(0xff),
        }
    }

    /// A write to ports 0xCF8–0xCFF: the address latch (a dword at 0xCF8),
    /// the reset control register (0xCF9: bit 2 resets), or the data ports.
    pub(crate) fn ports_write(&mut self, offset: u64, data: &[u8]) -> Result<Effect> {
        match offset {
            0 if data.len() == 4 => self.address = vdev::le_value(data) as u32,
            1 if data.len() == 1 && data[0] & 0x04 != 0 => return Ok(Effect::Reset),
            4..=7 => {
                if let Some((bus, devfn, reg)) = self.selected() {
                    self.config_write(bus, devfn, reg + (offset as usize - 4), data)?;
                }
            }
            _ => {}
        }
        Ok(Effect::None)
    }

    /// The function and register the address latch selects, when enabled.
    fn selected(&self) -> Option<(u8, u8, usize)> {
        let a = self.address;
        (a & 0x8000_0000 != 0).then_some(((a >> 16) as u8, (a >> 8) as u8, (a & 0xfc) as usize))
    }

    /// An ECAM read at `offset` of the window.
    pub(crate) fn ecam_read(&mut self, offset: u64, data: &mut [u8]) {
        let (bus, devfn, reg) = ecam_split(offset);
        self.config_read(bus, devfn, reg, data);
    }

    /// An ECAM write.
    pub(crate) fn ecam_write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let (bus, devfn, reg) = ecam_split(offset);
        self.config_write(bus, devfn, reg, data)
    }

    /// An access to a BAR: `None` when no BAR decodes `addr`.
    pub(crate) fn bar_access(
        &mut self,
        space: Space,
        addr: u64,
        read: Option<&mut [u8]>,
        write: Option<&[u8]>,
    ) -> Option<Result<Effect>> {
        let m = *self
            .maps
            .iter()
            .find(|m| m.space == space && addr >= m.base && addr - m.base < m.len)?;
        let offset = addr - m.base;
        let len = read.as_deref().or(write).map_or(0, <[u8]>::len) as u64;
        if offset + len > m.len {
            // straddles the BAR's end: reads all ones, writes are dropped
            if let Some(d) = read {
                d.fill(0xff);
            }
            return Some(Ok(Effect::None));
        }
        let s = &mut self.slots[m.slot];
        if let Some(msix) = s.func.msix()
            && let Some(region) = msix.region(m.bar, offset)
        {
            match (read, write) {
                (Some(d), _) => msix.read(region, d),
                (None, Some(d)) => {
                    if let Err(e) = msix.write(region, d) {
                        return Some(Err(runtime(&s.name, format!("MSI-X: {e}"))));
                    }
                }
                _ => {}
            }
            return Some(Ok(Effect::None));
        }
        Some(match (read, write) {
            (Some(d), _) => s.func.bar_read(m.bar, offset, d).map(|()| Effect::None),
            (None, Some(d)) => s.func.bar_write(m.bar, offset, d),
            _ => Ok(Effect::None),
        })
    }
}

fn runtime(name: &str, msg: String) -> vdev::Error {
    vdev::Error::Runtime {
        vdev: name.into(),
        msg,
    }
}

/// Bus, device/function and register of an ECAM offset.
fn ecam_split(offset: u64) -> (u8, u8, usize) {
    (
        (offset >> 20) as u8,
        (offset >> 12) as u8,
        (offset & 0xfff) as usize,
    )
}

/// The lowest `size`-aligned place for `size` bytes in `start..end` of
/// `space` that meets nothing in `taken`.
fn place(
    taken: &[(Space, u64, u64)],
    space: Space,
    start: u64,
    end: u64,
    size: u64,
) -> Option<u64> {
    let mut at = start.next_multiple_of(size);
    while at.checked_add(size)? <= end {
        match taken
            .iter()
            .filter(|t| t.0 == space && t.1 < at + size && at < t.1.saturating_add(t.2))
            .map(|t| t.1.saturating_add(t.2))
            .max()
        {
            Some(past) => at = past.next_multiple_of(size),
            None => return Some(at),
        }
    }
    None
}

/// The parts of `start..end` (memory) no busy range meets: (first, last).
fn free(busy: &[(Space, u64, u64)], start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut cuts: Vec<(u64, u64)> = busy
        .iter()
        .filter(|b| b.0 == Space::Mem && b.2 > 0)
        .map(|b| (b.1, b.1.saturating_add(b.2)))
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = start;
    for (a, b) in cuts {
        if a > at && at < end {
            out.push((at, a.min(end) - 1));
        }
        at = at.max(b);
    }
    if at < end {
        out.push((at, end - 1));
    }
    out
}

/// Ports 0xCF8–0xCFF on the port bus.
pub(crate) struct ConfigPorts(pub Arc<Mutex<PciBus>>);
/// The ECAM window on the MMIO bus.
pub(crate) struct Ecam(pub Arc<Mutex<PciBus>>);

fn locked(bus: &Mutex<PciBus>) -> Result<std::sync::MutexGuard<'_, PciBus>> {
    bus.lock()
        .map_err(|_| runtime("pci", "the PCI bus failed earlier".into()))
}

impl vdev::Device for ConfigPorts {
    fn read(&mut self, _: usize, offset: u64, data: &mut [u8]) -> Result<()> {
        locked(&self.0)?.ports_read(offset, data);
        Ok(())
    }
    fn write(&mut self, _: usize, offset: u64, data: &[u8]) -> Result<Effect> {
        locked(&self.0)?.ports_write(offset, data)
    }
}

impl vdev::Device for Ecam {
    fn read(&mut self, _: usize, offset: u64, data: &mut [u8]) -> Result<()> {
        locked(&self.0)?.ecam_read(offset, data);
        Ok(())
    }
    fn write(&mut self, _: usize, offset: u64, data: &[u8]) -> Result<Effect> {
        locked(&self.0)?
            .ecam_write(offset, data)
            .map(|()| Effect::None)
    }
}

#[cfg(test)]
mod tests;
