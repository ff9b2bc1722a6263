//! A type-0 configuration space: 256 bytes of legacy space and the 4 KiB of
//! extended space ECAM reaches, with a write mask (which bits the guest may
//! change) and a write-one-to-clear mask per byte, the six BARs, the
//! command register and the capability list.

use super::{Bar, BarKind, Ids};

/// Bytes of configuration space per function (PCI Express, through ECAM).
pub const CONFIG_LEN: usize = 4096;
/// Bytes reachable through ports 0xCF8/0xCFC.
pub const LEGACY_LEN: usize = 256;

/// Vendor ID (16 bits).
pub const VENDOR_ID: usize = 0x00;
/// Device ID (16 bits).
pub const DEVICE_ID: usize = 0x02;
/// Command register (16 bits).
pub const COMMAND: usize = 0x04;
/// Status register (16 bits).
pub const STATUS: usize = 0x06;
/// Revision ID (8 bits), then the 24-bit class code.
pub const REVISION_ID: usize = 0x08;
/// Header type (8 bits; bit 7: multi-function).
pub const HEADER_TYPE: usize = 0x0e;
/// BAR 0 (BARs 1–5 follow, 4 bytes apart).
pub const BAR0: usize = 0x10;
/// Subsystem vendor ID (16 bits).
pub const SUBSYSTEM_VENDOR_ID: usize = 0x2c;
/// Subsystem ID (16 bits).
pub const SUBSYSTEM_ID: usize = 0x2e;
/// Capabilities pointer (8 bits).
pub const CAPABILITIES: usize = 0x34;
/// Interrupt line (8 bits, scratch for the guest's driver).
pub const INTERRUPT_LINE: usize = 0x3c;
/// Interrupt pin (8 bits: 0 none, 1–4 INTA#–INTD#).
pub const INTERRUPT_PIN: usize = 0x3d;

/// Command: I/O space decode.
pub const CMD_IO: u16 = 1 << 0;
/// Command: memory space decode.
pub const CMD_MEMORY: u16 = 1 << 1;
/// Command: bus master (DMA and MSI/MSI-X).
pub const CMD_BUS_MASTER: u16 = 1 << 2;
/// Command: INTx disable.
pub const CMD_INTX_DISABLE: u16 = 1 << 10;
/// The command bits a guest may set here (I/O, memory, bus master,
/// parity error response, SERR#, INTx disable).
const CMD_WRITABLE: u16 =
    CMD_IO | CMD_MEMORY | CMD_BUS_MASTER | (1 << 6) | (1 << 8) | CMD_INTX_DISABLE;
/// Status: the function has a capability list.
pub const STATUS_CAP_LIST: u16 = 1 << 4;
/// Status: INTx asserted (read-only).
pub const STATUS_INTERRUPT: u16 = 1 << 3;
/// Status bits cleared by writing one (parity, aborts, SERR#).
const STATUS_W1C: u16 = 0xf900;

/// Where capabilities are placed: after the type-0 header, 4-byte aligned.
const FIRST_CAP: usize = 0x40;

/// Why a configuration space cannot be built as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A BAR's size is not a power of two of at least 16 bytes (memory) or 4 (I/O).
    #[error("BAR {0}: size {1:#x} is not a power of two of the minimum size")]
    BarSize(usize, u64),
    /// A BAR index beyond 5, or a 64-bit BAR at 5 (it takes two registers).
    #[error("BAR {0}: no such register (0-5, a 64-bit BAR takes two)")]
    BarIndex(usize),
    /// The capabilities do not fit in the 256 bytes of legacy space.
    #[error("capability of {0} bytes does not fit below 0x100")]
    CapabilityFull(usize),
}

/// A function's configuration space.
#[derive(Clone)]
pub struct ConfigSpace {
    bytes: Vec<u8>,
    wmask: Vec<u8>,
    w1c: Vec<u8>,
    bars: [Option<Bar>; 6],
    next_cap: usize,
    last_cap: Option<usize>,
}

impl std::fmt::Debug for ConfigSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSpace")
            .field("vendor", &self.read_u16(VENDOR_ID))
            .field("device", &self.read_u16(DEVICE_ID))
            .field("bars", &self.bars)
            .finish_non_exhaustive()
    }
}

impl ConfigSpace {
    /// A type-0 header with these IDs, no BARs, no capability, no
    /// interrupt pin; the guest may write the command register, the cache
    /// line size, the latency timer and the interrupt line.
    pub fn new(ids: &Ids) -> ConfigSpace {
        let mut c = ConfigSpace {
            bytes: vec![0; CONFIG_LEN],
            wmask: vec![0; CONFIG_LEN],
            w1c: vec![0; CONFIG_LEN],
            bars: [None; 6],
            next_cap: FIRST_CAP,
            last_cap: None,
        };
        c.set_u16(VENDOR_ID, ids.vendor);
        c.set_u16(DEVICE_ID, ids.device);
        c.set_u32(REVISION_ID, (ids.class << 8) | u32::from(ids.revision));
        c.set_u16(SUBSYSTEM_VENDOR_ID, ids.subsystem_vendor);
        c.set_u16(SUBSYSTEM_ID, ids.subsystem);
        c.set_u8(HEADER_TYPE, u8::from(ids.multifunction) << 7);
        c.set_wmask(COMMAND, &CMD_WRITABLE.to_le_bytes());
        c.set_wmask(0x0c, &[0xff, 0xff]); // cache line size, latency timer
        c.set_wmask(INTERRUPT_LINE, &[0xff]);
        c.w1c[STATUS..STATUS + 2].copy_from_slice(&STATUS_W1C.to_le_bytes());
        c
    }

    /// Declare BAR `index`: its registers become sizable and movable.
    pub fn set_bar(&mut self, index: usize, bar: Bar) -> Result<(), LayoutError> {
        let wide = bar.kind == BarKind::Mem64;
        if index > 5 || (wide && index > 4) {
            return Err(LayoutError::BarIndex(index));
        }
        let min = if bar.kind == BarKind::Io { 4 } else { 16 };
        if !bar.size.is_power_of_two()
            || bar.size < min
            || (bar.kind != BarKind::Mem64 && bar.size > 1 << 31)
        {
            return Err(LayoutError::BarSize(index, bar.size));
        }
        let off = BAR0 + 4 * index;
        let mask = !(bar.size - 1);
        let (low_bits, low_mask) = match bar.kind {
            BarKind::Io => (1u32, (mask as u32) & 0xffff & !3),
            BarKind::Mem32 => (u32::from(bar.prefetchable) << 3, (mask as u32) & !0xf),
            BarKind::Mem64 => (
                (u32::from(bar.prefetchable) << 3) | 0b100,
                (mask as u32) & !0xf,
            ),
        };
        self.set_u32(off, low_bits);
        self.set_wmask(off, &low_mask.to_le_bytes());
        if wide {
            self.set_u32(off + 4, 0);
            self.set_wmask(off + 4, &((mask >> 32) as u32).to_le_bytes());
        }
        self.bars[index] = Some(bar);
        Ok(())
    }

    /// Set the interrupt pin (1 = INTA# ... 4 = INTD#; 0 none).
    pub fn set_interrupt_pin(&mut self, pin: u8) {
        self.set_u8(INTERRUPT_PIN, pin);
    }

    /// Append a capability: `id`, then `body` (the bytes after the ID and
    /// next pointer) with `wmask` (same length or shorter: the rest is
    /// read-only). Returns its offset.
    pub fn add_capability(
        &mut self,
        id: u8,
        body: &[u8],
        wmask: &[u8],
    ) -> Result<usize, LayoutError> {
        let len = 2 + body.len();
        let at = self.next_cap;
        if at + len > LEGACY_LEN {
            return Err(LayoutError::CapabilityFull(len));
        }
        self.set_u8(at, id);
        self.set_u8(at + 1, 0);
        self.bytes[at + 2..at + len].copy_from_slice(body);
        let n = wmask.len().min(body.len());
        self.wmask[at + 2..at + 2 + n].copy_from_slice(&wmask[..n]);
        match self.last_cap {
            Some(prev) => self.set_u8(prev + 1, at as u8),
            None => {
                self.set_u8(CAPABILITIES, at as u8);
                let s = self.read_u16(STATUS) | STATUS_CAP_LIST;
                self.set_u16(STATUS, s);
            }
        }
        self.last_cap = Some(at);
        self.next_cap = (at + len + 3) & !3;
        Ok(at)
    }

    /// The capabilities in list order: (ID, offset). Stops at a loop or a
    /// pointer outside the legacy space.
    pub fn capabilities(&self) -> Vec<(u8, usize)> {
        let mut out = Vec::new();
        if self.read_u16(STATUS) & STATUS_CAP_LIST == 0 {
            return out;
        }
        let mut at = usize::from(self.bytes[CAPABILITIES] & !3);
        while at >= FIRST_CAP && at + 2 <= LEGACY_LEN && out.len() < 48 {
            out.push((self.bytes[at], at));
            at = usize::from(self.bytes[at + 1] & !3);
        }
        out
    }

    /// A guest read at `offset` (any width; beyond the space reads ones).
    pub fn read(&self, offset: usize, data: &mut [u8]) {
        for (i, d) in data.iter_mut().enumerate() {
            *d = self.bytes.get(offset + i).copied().unwrap_or(0xff);
        }
    }

    /// A guest write at `offset`: only bits of the write mask change, and
    /// ones written to write-one-to-clear bits clear them.
    pub fn write(&mut self, offset: usize, data: &[u8]) {
        for (i, &v) in data.iter().enumerate() {
            let Some(old) = self.bytes.get(offset + i).copied() else {
                return;
            };
            let (m, c) = (self.wmask[offset + i], self.w1c[offset + i]);
            self.bytes[offset + i] = ((old & !m) | (v & m)) & !(v & c);
        }
    }

    /// Set a register's value as the device (or a preset) gives it; the
    /// guest's write mask is unchanged.
    pub fn set(&mut self, offset: usize, value: &[u8]) {
        let end = (offset + value.len()).min(CONFIG_LEN);
        if offset < end {
            self.bytes[offset..end].copy_from_slice(&value[..end - offset]);
        }
    }

    /// Make bytes read-only (a preset that the guest cannot change).
    pub fn lock(&mut self, offset: usize, len: usize) {
        let end = (offset + len).min(CONFIG_LEN);
        if offset < end {
            self.wmask[offset..end].fill(0);
            self.w1c[offset..end].fill(0);
        }
    }

    /// Which bits of these bytes the guest may write.
    pub fn set_wmask(&mut self, offset: usize, mask: &[u8]) {
        let end = (offset + mask.len()).min(CONFIG_LEN);
        if offset < end {
            self.wmask[offset..end].copy_from_slice(&mask[..end - offset]);
        }
    }

    /// Set one byte.
    pub fn set_u8(&mut self, offset: usize, v: u8) {
        self.set(offset, &[v]);
    }
    /// Set a 16-bit register.
    pub fn set_u16(&mut self, offset: usize, v: u16) {
        self.set(offset, &v.to_le_bytes());
    }
    /// Set a 32-bit register.
    pub fn set_u32(&mut self, offset: usize, v: u32) {
        self.set(offset, &v.to_le_bytes());
    }
    /// One byte.
    pub fn read_u8(&self, offset: usize) -> u8 {
        self.bytes.get(offset).copied().unwrap_or(0xff)
    }
    /// A 16-bit register.
    pub fn read_u16(&self, offset: usize) -> u16 {
        let mut b = [0; 2];
        self.read(offset, &mut b);
        u16::from_le_bytes(b)
    }
    /// A 32-bit register.
    pub fn read_u32(&self, offset: usize) -> u32 {
        let mut b = [0; 4];
        self.read(offset, &mut b);
        u32::from_le_bytes(b)
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.read_u16(COMMAND)
    }

    /// BAR `index` as declared.
    pub fn bar(&self, index: usize) -> Option<Bar> {
        self.bars.get(index).copied().flatten()
    }

    /// Where the guest put BAR `index` (0 until it is programmed).
    pub fn bar_address(&self, index: usize) -> Option<u64> {
        let bar = self.bar(index)?;
        let off = BAR0 + 4 * index;
        let low = self.read_u32(off);
        Some(match bar.kind {
            BarKind::Io => u64::from(low & !3),
            BarKind::Mem32 => u64::from(low & !0xf),
            BarKind::Mem64 => u64::from(low & !0xf) | (u64::from(self.read_u32(off + 4)) << 32),
        })
    }

    /// Program BAR `index` to `addr` (as the firmware would).
    pub fn set_bar_address(&mut self, index: usize, addr: u64) {
        let Some(bar) = self.bar(index) else { return };
        let off = BAR0 + 4 * index;
        let low_bits = if bar.kind == BarKind::Io { 3 } else { 0xf };
        let flags = self.read_u32(off) & low_bits;
        self.set_u32(off, ((addr as u32) & !low_bits) | flags);
        if bar.kind == BarKind::Mem64 {
            self.set_u32(off + 4, (addr >> 32) as u32);
        }
    }

    /// True when a write at `offset` of `len` bytes touches a BAR or the
    /// command register (the function's mappings may have changed).
    pub fn touches_decode(offset: usize, len: usize) -> bool {
        let end = offset + len;
        (offset < COMMAND + 2 && end > COMMAND) || (offset < BAR0 + 24 && end > BAR0)
    }
}
