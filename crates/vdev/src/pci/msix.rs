//! MSI-X (PCI Local Bus 3.0 §6.8.2): the capability in configuration space,
//! the vector table and the pending-bit array in a BAR, the per-vector and
//! function masks, and the messages the VMM routes. The state is behind a
//! lock, so that a device's I/O thread can raise vectors ([`Msix::notify`])
//! while the vCPUs' accesses to the table go through the bus.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{ConfigSpace, LayoutError, MsiSink};

/// The MSI-X capability ID.
pub const CAP_MSIX: u8 = 0x11;
/// Bytes per table entry: address low, address high, data, vector control.
const ENTRY: usize = 16;
/// Message control: MSI-X enable.
const ENABLE: u16 = 1 << 15;
/// Message control: function mask.
const FUNCTION_MASK: u16 = 1 << 14;

/// A message a vector sends: a write of `data` at `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiMessage {
    /// Message address (0xFEEx_xxxx on x86: the LAPIC destination).
    pub addr: u64,
    /// Message data (vector, delivery mode, trigger).
    pub data: u32,
}

/// Which MSI-X structure an access in a BAR hits, and its offset there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsixRegion {
    /// The vector table.
    Table(usize),
    /// The pending-bit array.
    Pba(usize),
}

/// A function's MSI-X state.
pub struct Msix {
    state: Mutex<State>,
    vectors: u16,
    cap: Option<usize>,
    bar: usize,
    table_offset: u64,
    pba_offset: u64,
    sink: Arc<dyn MsiSink>,
}

struct State {
    table: Vec<u8>,
    pending: Vec<u64>,
    routed: Vec<Option<MsiMessage>>,
    enabled: bool,
    function_mask: bool,
}

impl std::fmt::Debug for Msix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Msix")
            .field("vectors", &self.vectors)
            .field("bar", &self.bar)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("MSI-X state poisoned")
}

impl State {
    fn masked(&self, v: u16) -> bool {
        let e = usize::from(v) * ENTRY + 12;
        self.function_mask || self.table.get(e).is_none_or(|c| c & 1 != 0)
    }

    fn pending(&self, v: u16) -> bool {
        let v = usize::from(v);
        self.pending
            .get(v / 64)
            .is_some_and(|p| p & (1 << (v % 64)) != 0)
    }

    fn message(&self, v: u16) -> Option<MsiMessage> {
        let at = usize::from(v) * ENTRY;
        let e = self.table.get(at..at + ENTRY)?;
        let word = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
        (self.enabled && !self.masked(v)).then(|| MsiMessage {
            addr: u64::from(word(0)) | (u64::from(word(4)) << 32),
            data: word(8),
        })
    }

    /// Bring vector `v`'s route in line with its entry, and send it if it
    /// became unmasked with its pending bit set.
    fn update(&mut self, v: usize, sink: &dyn MsiSink) -> std::io::Result<()> {
        let vector = v as u16;
        let msg = self.message(vector);
        if self.routed[v] != msg {
            sink.route(vector, msg)?;
            self.routed[v] = msg;
        }
        if msg.is_some() && self.pending(vector) {
            self.pending[v / 64] &= !(1 << (v % 64));
            sink.signal(vector)?;
        }
        Ok(())
    }
}

impl Msix {
    /// `vectors` vectors (1–2048), their table at `table_offset` and their
    /// PBA at `pba_offset` of BAR `bar` (both 8-byte aligned). Every vector
    /// starts masked, MSI-X disabled.
    pub fn new(
        vectors: u16,
        bar: usize,
        table_offset: u64,
        pba_offset: u64,
        sink: Arc<dyn MsiSink>,
    ) -> Msix {
        let n = usize::from(vectors.clamp(1, 2048));
        let mut table = vec![0u8; n * ENTRY];
        for e in table.chunks_mut(ENTRY) {
            e[12] = 1;
        }
        Msix {
            state: Mutex::new(State {
                table,
                pending: vec![0; n.div_ceil(64)],
                routed: vec![None; n],
                enabled: false,
                function_mask: false,
            }),
            vectors: n as u16,
            cap: None,
            bar,
            table_offset: table_offset & !7,
            pba_offset: pba_offset & !7,
            sink,
        }
    }

    fn lock(&self) -> std::io::Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Number of vectors.
    pub fn vectors(&self) -> u16 {
        self.vectors
    }

    /// Bytes of the table in its BAR.
    pub fn table_len(&self) -> u64 {
        u64::from(self.vectors) * ENTRY as u64
    }

    /// Bytes of the PBA in its BAR.
    pub fn pba_len(&self) -> u64 {
        u64::from(self.vectors).div_ceil(64) * 8
    }

    /// Add the capability to `cfg` (before the function is shared);
    /// returns its offset.
    pub fn install(&mut self, cfg: &mut ConfigSpace) -> Result<usize, LayoutError> {
        let mut body = [0u8; 10];
        body[0..2].copy_from_slice(&(self.vectors - 1).to_le_bytes());
        body[2..6].copy_from_slice(&((self.table_offset as u32) | self.bar as u32).to_le_bytes());
        body[6..10].copy_from_slice(&((self.pba_offset as u32) | self.bar as u32).to_le_bytes());
        let wmask = (ENABLE | FUNCTION_MASK).to_le_bytes();
        let at = cfg.add_capability(CAP_MSIX, &body, &wmask)?;
        self.cap = Some(at);
        Ok(at)
    }

    /// The offset of the capability, once installed.
    pub fn capability(&self) -> Option<usize> {
        self.cap
    }

    /// MSI-X is enabled.
    pub fn enabled(&self) -> bool {
        self.lock().is_ok_and(|s| s.enabled)
    }

    /// What an access at `offset` of BAR `bar` hits.
    pub fn region(&self, bar: usize, offset: u64) -> Option<MsixRegion> {
        if bar != self.bar {
            return None;
        }
        if let Some(o) = offset
            .checked_sub(self.table_offset)
            .filter(|&o| o < self.table_len())
        {
            return Some(MsixRegion::Table(o as usize));
        }
        offset
            .checked_sub(self.pba_offset)
            .filter(|&o| o < self.pba_len())
            .map(|o| MsixRegion::Pba(o as usize))
    }

    /// A guest read of the table or the PBA.
    pub fn read(&self, region: MsixRegion, data: &mut [u8]) {
        let Ok(s) = self.lock() else {
            data.fill(0xff);
            return;
        };
        let pba: Vec<u8> = s.pending.iter().flat_map(|p| p.to_le_bytes()).collect();
        let (bytes, at) = match region {
            MsixRegion::Table(o) => (&s.table[..], o),
            MsixRegion::Pba(o) => (&pba[..], o),
        };
        for (i, d) in data.iter_mut().enumerate() {
            *d = bytes.get(at + i).copied().unwrap_or(0);
        }
    }

    /// A guest write of the table (the PBA is read-only).
    pub fn write(&self, region: MsixRegion, data: &[u8]) -> std::io::Result<()> {
        let MsixRegion::Table(at) = region else {
            return Ok(());
        };
        let mut s = self.lock()?;
        let end = (at + data.len()).min(s.table.len());
        if at >= end {
            return Ok(());
        }
        s.table[at..end].copy_from_slice(&data[..end - at]);
        let (first, last) = (at / ENTRY, (end - 1) / ENTRY);
        for v in first..=last {
            s.update(v, &*self.sink)?;
        }
        Ok(())
    }

    /// After a configuration write: `ctl` is the message control register
    /// now (at [`Msix::capability`] + 2).
    pub fn control_written(&self, ctl: u16) -> std::io::Result<()> {
        let mut s = self.lock()?;
        let (enabled, fmask) = (ctl & ENABLE != 0, ctl & FUNCTION_MASK != 0);
        if (enabled, fmask) == (s.enabled, s.function_mask) {
            return Ok(());
        }
        s.enabled = enabled;
        s.function_mask = fmask;
        for v in 0..s.routed.len() {
            s.update(v, &*self.sink)?;
        }
        Ok(())
    }

    /// Vector `v` is masked (by its own bit or the function mask).
    pub fn masked(&self, v: u16) -> bool {
        self.lock().is_ok_and(|s| s.masked(v))
    }

    /// The pending bit of vector `v`.
    pub fn pending(&self, v: u16) -> bool {
        self.lock().is_ok_and(|s| s.pending(v))
    }

    /// The message vector `v` sends while MSI-X is enabled and it is unmasked.
    pub fn message(&self, v: u16) -> Option<MsiMessage> {
        self.lock().ok()?.message(v)
    }

    /// The device raises vector `v` (from any thread): sent when it is
    /// unmasked, else its pending bit is set (and it is sent when
    /// unmasked). Returns false when MSI-X is disabled (the device should
    /// use INTx) or `v` does not exist.
    pub fn notify(&self, v: u16) -> std::io::Result<bool> {
        let mut s = self.lock()?;
        if !s.enabled || v >= self.vectors {
            return Ok(false);
        }
        if s.masked(v) {
            let v = usize::from(v);
            s.pending[v / 64] |= 1 << (v % 64);
            return Ok(true);
        }
        // under the lock: the guest cannot mask it in between
        self.sink.signal(v)?;
        drop(s);
        Ok(true)
    }
}
