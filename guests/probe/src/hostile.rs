//! The hostile guest: `hostile=N` makes N (hexadecimal; 0: without end) random operations against the
//! VMM, with interrupts off, then reports `probe: hostile: ok N ops` if the
//! UART still works (the VMM kept running) — the host side checks that the
//! VMM neither panicked nor grew without bound.
//!
//! Operations, picked at random:
//! - port reads and writes of every width across 0–0xffff, except the ports
//!   that end a VM on purpose (the 8042's 0x64, 0x92, the PCI reset
//!   register 0xcf9, the PM1a blocks 0x600–0x60f, the IB700 watchdog
//!   0x441–0x443, the progress device 0xef0–0xeff) and the report UART;
//! - memory-mapped reads and writes in the PCI hole, the HPET, ECAM, the
//!   PCI functions' BARs and the virtio-mmio windows named by `hmmio=ADDR`
//!   words (which come before `hostile`), never the LAPIC or IOAPIC;
//! - PCI configuration writes (random function, register, width, value,
//!   BARs included) over CF8/CFC;
//! - virtqueue chaos on each virtio device (virtio-mmio windows and
//!   virtio-pci functions, found through their capabilities): a reset,
//!   random features and status, a random queue size, rings placed in the
//!   chaos buffer, overlapping or outside RAM, filled with descriptor chains
//!   that loop, overlap, point outside RAM, have zero or huge lengths and
//!   random flags (indirect too), then a storm of notifications.
//!
//! The chaos buffer is the last MiB of RAM (`hchaos=ADDR`, default
//! 0x1000000 for the tests' 17 MiB guests): a device that writes past it
//! writes past the end of RAM, where the VMM must refuse.

use super::{Probe, inb, inl, inw, outb, outl, outw, rd32, wr8, wr16, wr32, wr64};
use crate::pci::cfg_read;

/// Bytes of the chaos buffer.
const CHAOS_LEN: u64 = 1 << 20;
/// The most virtio-mmio windows `hmmio=` can name.
const MAX_MMIO: usize = 8;

static mut MMIO: [u64; MAX_MMIO] = [0; MAX_MMIO];
static mut N_MMIO: usize = 0;
static mut CHAOS: u64 = 0x100_0000;

/// xorshift64: the same sequence for the same N, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn rd(a: u64, width: u64) {
    // SAFETY: as wr8; the value is discarded.
    unsafe {
        match width {
            0 => _ = core::ptr::read_volatile(a as *const u8),
            1 => _ = core::ptr::read_volatile((a & !1) as *const u16),
            2 => _ = core::ptr::read_volatile((a & !3) as *const u32),
            _ => _ = core::ptr::read_volatile((a & !7) as *const u64),
        }
    }
}

/// A port access of width 1, 2 or 4 bytes (`width` 0, 1, else).
fn port_access(port: u16, width: u64, write: bool, v: u64) {
    match (width, write) {
        (0, false) => _ = inb(port),
        (0, true) => outb(port, v as u8),
        (1, false) => _ = inw(port),
        (1, true) => outw(port, v as u16),
        (_, false) => _ = inl(port),
        (_, true) => outl(port, v as u32),
    }
}
fn wr(a: u64, width: u64, v: u64) {
    match width {
        0 => wr8(a, v as u8),
        1 => wr16(a & !1, v as u16),
        2 => wr32(a & !3, v as u32),
        _ => wr64(a & !7, v),
    }
}

/// Ports that end a VM on purpose, and the report UART.
fn spared(port: u16, uart: u16) -> bool {
    matches!(port, 0x64 | 0x92 | 0xcf9 | 0x441..=0x443 | 0x600..=0x60f | 0xef0..=0xeff)
        || (uart..uart.saturating_add(8)).contains(&port)
}

/// A virtio device to put in disorder.
#[derive(Clone, Copy)]
enum Virtio {
    /// A virtio-mmio window.
    Mmio(u64),
    /// A virtio-pci function: its common configuration and notify area
    /// (address, multiplier).
    Pci { common: u64, notify: u64, mult: u32 },
}

/// The memory BAR `bar` of function `dev.func` (0 when it is not one).
fn bar_address(dev: u64, func: u64, bar: u64) -> u64 {
    let lo = cfg_read(dev, func, 0x10 + 4 * bar);
    if lo & 1 != 0 {
        return 0;
    }
    let hi = if lo & 6 == 4 { cfg_read(dev, func, 0x14 + 4 * bar) } else { 0 };
    (u64::from(hi) << 32) | u64::from(lo & !0xf)
}

/// The virtio-pci functions of bus 0, through their vendor capabilities.
fn virtio_pci(out: &mut [Virtio; 8], mut n: usize) -> usize {
    for dev in 0..32 {
        let id = cfg_read(dev, 0, 0);
        if id & 0xffff != 0x1af4 || cfg_read(dev, 0, 4) >> 16 & 0x10 == 0 {
            continue;
        }
        let (mut common, mut notify, mut mult) = (0, 0, 0);
        let mut cap = u64::from(cfg_read(dev, 0, 0x34) & 0xfc);
        let mut hops = 0;
        while cap != 0 && hops < 48 {
            let head = cfg_read(dev, 0, cap);
            if head & 0xff == 0x09 {
                let kind = head >> 24 & 0xff;
                let bar = u64::from(cfg_read(dev, 0, cap + 4) & 0xff);
                let at = bar_address(dev, 0, bar.min(5)) + u64::from(cfg_read(dev, 0, cap + 8));
                match kind {
                    1 => common = at,
                    2 => {
                        notify = at;
                        mult = cfg_read(dev, 0, cap + 16);
                    }
                    _ => {}
                }
            }
            cap = u64::from(head >> 8 & 0xfc);
            hops += 1;
        }
        // an unassigned BAR (below the PCI hole) is not written
        if common >= 0xc000_0000 && n < out.len() {
            out[n] = Virtio::Pci { common, notify, mult };
            n += 1;
        }
    }
    n
}

/// A guest address for a ring or buffer: in the chaos buffer (often), at
/// its very end, outside RAM or anywhere at all.
fn place(r: &mut Rng, chaos: u64) -> u64 {
    match r.below(8) {
        0..=3 => chaos + (r.below(CHAOS_LEN) & !0xf),
        4 => chaos + CHAOS_LEN - 16,
        5 => chaos + CHAOS_LEN + r.below(1 << 30),
        6 => r.next() | 1 << 63,
        _ => r.next(),
    }
}

/// Descriptors written at a ring placed in the chaos buffer.
const FILLED: u64 = 64;

/// Fills the split-queue descriptors at `desc` (when it is in the chaos
/// buffer) with chains that loop, overlap, leave RAM and have zero or huge
/// lengths and any flags (NEXT, WRITE, INDIRECT), and the available ring at
/// `avail` with a random index and random heads.
fn fill_chaos(r: &mut Rng, chaos: u64, qsize: u64, desc: u64, avail: u64) {
    let inside = |a: u64, len: u64| a >= chaos && a.saturating_add(len) <= chaos + CHAOS_LEN;
    if inside(desc, FILLED * 16) {
        for i in 0..FILLED {
            let len = match r.below(4) {
                0 => 0,
                1 => 0xffff_ffff,
                2 => r.below(8192),
                _ => r.next() & 0xffff_ffff,
            };
            let flags = r.below(8);
            let next = r.below(qsize + 2);
            wr64(desc + i * 16, place(r, chaos));
            wr32(desc + i * 16 + 8, len as u32);
            wr32(desc + i * 16 + 12, (flags | next << 16) as u32);
        }
    }
    if inside(avail, 4 + FILLED * 2) {
        wr32(avail, (r.next() as u32) & 0xffff_0001);
        for i in 0..FILLED {
            wr16(avail + 4 + i * 2, r.below(qsize + 4) as u16);
        }
    }
}

/// Puts one virtio device in disorder and rings it `storm` times.
fn chaos_virtio(v: Virtio, r: &mut Rng, chaos: u64) {
    let qsize = match r.below(6) {
        0 => 0,
        1 => 1,
        2 => 0x8000,
        3 => 0xffff,
        4 => 256,
        _ => r.below(1024),
    };
    let queue = r.below(4);
    let (desc, driver, device) = if r.below(4) == 0 {
        let a = place(r, chaos);
        (a, a, a) // all three rings on one another
    } else {
        (place(r, chaos), place(r, chaos), place(r, chaos))
    };
    fill_chaos(r, chaos, qsize, desc, driver);
    let storm = r.below(64) + 1;
    match v {
        Virtio::Mmio(b) => {
            wr32(b + 0x70, 0);
            wr32(b + 0x70, 3);
            wr32(b + 0x24, r.below(2) as u32);
            wr32(b + 0x20, r.next() as u32);
            wr32(b + 0x70, if r.below(4) == 0 { r.next() as u32 } else { 0xb });
            wr32(b + 0x30, queue as u32);
            wr32(b + 0x38, qsize as u32);
            for (off, a) in [(0x80, desc), (0x90, driver), (0xa0, device)] {
                wr32(b + off, a as u32);
                wr32(b + off + 4, (a >> 32) as u32);
            }
            wr32(b + 0x44, 1);
            wr32(b + 0x70, 0xf);
            for _ in 0..storm {
                wr32(b + 0x50, r.below(5) as u32);
            }
            wr32(b + 0x64, r.next() as u32);
        }
        Virtio::Pci { common, notify, mult } => {
            wr8(common + 0x14, 0);
            wr8(common + 0x14, 3);
            wr32(common + 0x08, r.below(2) as u32);
            wr32(common + 0x0c, r.next() as u32);
            wr8(common + 0x14, if r.below(4) == 0 { r.next() as u8 } else { 0xb });
            wr16(common + 0x16, queue as u16);
            wr16(common + 0x18, qsize as u16);
            wr16(common + 0x1a, r.next() as u16);
            wr64(common + 0x20, desc);
            wr64(common + 0x28, driver);
            wr64(common + 0x30, device);
            wr16(common + 0x1c, 1);
            wr8(common + 0x14, 0xf);
            let off = u64::from(rd32(common + 0x1c) >> 16) * u64::from(mult);
            for _ in 0..storm {
                wr16(notify + (off & 0xffff), r.below(5) as u16);
            }
        }
    }
}

impl Probe {
    /// `hmmio=ADDR`: a virtio-mmio window for `hostile` (before it).
    pub(crate) fn hmmio(&self, addr: u64) {
        // SAFETY: single-threaded guest; the list is only touched by the command-line loop.
        unsafe {
            if N_MMIO < MAX_MMIO {
                MMIO[N_MMIO] = addr;
                N_MMIO += 1;
            }
        }
    }

    /// `hchaos=ADDR`: the chaos buffer (the last MiB of RAM).
    pub(crate) fn hchaos(&self, addr: u64) {
        // SAFETY: as hmmio.
        unsafe { CHAOS = addr }
    }

    /// `hostile=N`: N random operations (see the module's documentation);
    /// `hostile=0` runs until the VM is stopped.
    pub(crate) fn hostile(&self, n: u64) {
        // SAFETY: as hmmio: read once here.
        let (mmio, n_mmio, chaos) = unsafe { (MMIO, N_MMIO, CHAOS) };
        let mut r = Rng(0x2545_f491_4f6c_dd1d ^ n);
        let mut virtio = [Virtio::Mmio(0); 8];
        let mut nv = 0;
        for &b in &mmio[..n_mmio] {
            virtio[nv] = Virtio::Mmio(b);
            nv += 1;
        }
        let nv = virtio_pci(&mut virtio, nv);
        let uart = self.out.0;
        let mut i = 0u64;
        while n == 0 || i < n {
            i += 1;
            let op = r.below(16);
            let (width, v) = (r.below(4), r.next());
            match op {
                0..=4 => {
                    let port = r.below(0x1_0000) as u16;
                    if spared(port, uart) {
                        continue;
                    }
                    port_access(port, width, op & 1 == 1, v);
                }
                5..=7 => {
                    let a = match r.below(4) {
                        // the PCI hole below the IOAPIC
                        0 => 0xc000_0000 + r.below(0x3ec0_0000),
                        1 => 0xfed0_0000 + r.below(0x400),
                        2 => 0xe000_0000 + r.below(1 << 20),
                        _ if n_mmio > 0 => mmio[r.below(n_mmio as u64) as usize] + r.below(0x200),
                        _ => 0xc000_0000 + r.below(0x3ec0_0000),
                    };
                    if op == 5 {
                        rd(a, width);
                    } else {
                        wr(a, width, v);
                    }
                }
                8..=9 => {
                    let (dev, func, reg) = (r.below(32), r.below(8), r.below(256));
                    outl(0xcf8, 0x8000_0000 | (dev << 11 | func << 8 | reg & 0xfc) as u32);
                    match width {
                        0 => outb(0xcfc + (reg & 3) as u16, v as u8),
                        1 => outw(0xcfc + (reg & 2) as u16, v as u16),
                        _ => outl(0xcfc, v as u32),
                    }
                }
                _ if nv > 0 => chaos_virtio(virtio[r.below(nv as u64) as usize], &mut r, chaos),
                _ => {}
            }
            if i % 4096 == 0 {
                self.report("hostile").s("... ").dec(i, 1).s(" ops\n");
            }
        }
        self.report("hostile").s("ok ").dec(n, 1).s(" ops, ").dec(nv as u64, 1).s(" virtio devices\n");
    }
}
