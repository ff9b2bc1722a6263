//! A small virtio driver, over virtio-mmio (virtio 1.2 §4.2, version 2) or
//! the modern virtio-pci transport (§4.1), for the checks `vblk=AT`,
//! `vcon=AT`, `vnetrx=AT`, `vnettx=AT` (AT: a virtio-mmio address, or
//! `pci:DD` for the function at bus 0 device DD), `vrng=ADDR`, `vbad=ADDR`,
//! `vbench=ADDR`, `vpcirng=DD` and `vpcimsix=DD`: one split queue of
//! 8 descriptors in static memory (identity-mapped, so its addresses are
//! guest-physical), polled for used buffers.

use core::sync::atomic::{Ordering, fence};

use super::{Probe, rd16, rd32, rdtsc, wr8, wr16, wr32};

const QSIZE: usize = 8;
const F_WRITE: u16 = 2;
const F_NEXT: u16 = 1;

#[repr(C, align(4096))]
struct Ring {
    desc: [[u64; 2]; QSIZE],
    avail: [u16; 2 + QSIZE + 1],
    _pad: [u8; 4096 - QSIZE * 16 - (3 + QSIZE) * 2],
    used: [u32; 1 + 2 * QSIZE + 1],
}

#[repr(C, align(4096))]
struct Bufs {
    hdr: [u8; 16],
    data: [u8; 512],
    status: [u8; 16],
}

static mut RING: Ring = Ring { desc: [[0; 2]; QSIZE], avail: [0; 2 + QSIZE + 1], _pad: [0; 4096 - QSIZE * 16 - (3 + QSIZE) * 2], used: [0; 1 + 2 * QSIZE + 1] };
static mut RING2: Ring = Ring { desc: [[0; 2]; QSIZE], avail: [0; 2 + QSIZE + 1], _pad: [0; 4096 - QSIZE * 16 - (3 + QSIZE) * 2], used: [0; 1 + 2 * QSIZE + 1] };
static mut FRAMES: [[u8; 1536]; 2] = [[0; 1536]; 2];
static mut BUFS: Bufs = Bufs { hdr: [0; 16], data: [0; 512], status: [0; 16] };

fn ring() -> *mut Ring {
    &raw mut RING
}
fn ring2() -> *mut Ring {
    &raw mut RING2
}
fn frames() -> *mut [[u8; 1536]; 2] {
    &raw mut FRAMES
}
fn bufs() -> *mut Bufs {
    &raw mut BUFS
}

/// Where a virtio device is: a virtio-mmio window, or a virtio-pci
/// function on bus 0 (device number), driven through its common
/// configuration structure as its vendor capabilities describe it.
#[derive(Clone, Copy)]
pub(crate) enum At {
    Mmio(u64),
    Pci(u64),
}

impl At {
    /// The argument of a word: `ADDR` (virtio-mmio) or `pci:DD`.
    pub(crate) fn parse(word: &[u8], default: u64) -> At {
        let arg = word.iter().position(|&c| c == b'=').map(|i| &word[i + 1..]);
        match arg {
            Some(a) if a.starts_with(b"pci:") => At::Pci(super::parse_hex(&a[4..]).unwrap_or(3)),
            Some(a) => At::Mmio(super::parse_hex(a).unwrap_or(default)),
            None => At::Mmio(default),
        }
    }
}

/// The registers of one transport: a virtio-mmio window, or the
/// structures a virtio-pci function's capabilities point at.
#[derive(Clone, Copy)]
pub(crate) struct Regs {
    /// virtio-mmio: the window; virtio-pci: the common configuration.
    base: u64,
    pci: Option<PciCaps>,
}

#[derive(Clone, Copy)]
struct PciCaps {
    bar0: u64,
    notify: u64,
    mult: u64,
    isr: u64,
    device: u64,
    /// Configuration-space offset of the MSI-X capability (0: none).
    msix: u64,
    /// The cfg types of the vendor capabilities, one hex digit each.
    kinds: u64,
}

/// The transport-neutral registers (virtio 1.2 §4.1.4.3 and §4.2.2).
#[derive(Clone, Copy)]
enum R {
    DevFeatSel,
    DevFeat,
    DrvFeatSel,
    DrvFeat,
    QSel,
    QMax,
    QNum,
    QReady,
    Status,
}

impl Regs {
    /// (address, width in bytes) of `r`.
    fn at(&self, r: R) -> (u64, u8) {
        let (mmio, pci, w) = match r {
            R::DevFeatSel => (0x14, 0x00, 4),
            R::DevFeat => (0x10, 0x04, 4),
            R::DrvFeatSel => (0x24, 0x08, 4),
            R::DrvFeat => (0x20, 0x0c, 4),
            R::QSel => (0x30, 0x16, 2),
            R::QMax => (0x34, 0x18, 2),
            R::QNum => (0x38, 0x18, 2),
            R::QReady => (0x44, 0x1c, 2),
            R::Status => (0x70, 0x14, 1),
        };
        match self.pci {
            None => (self.base + mmio, 4),
            Some(_) => (self.base + pci, w),
        }
    }
    fn get(&self, r: R) -> u32 {
        match self.at(r) {
            (a, 1) => u32::from(super::rd8(a)),
            (a, 2) => u32::from(rd16(a)),
            (a, _) => rd32(a),
        }
    }
    fn put(&self, r: R, v: u32) {
        match self.at(r) {
            (a, 1) => wr8(a, v as u8),
            (a, 2) => wr16(a, v as u16),
            (a, _) => wr32(a, v),
        }
    }
    /// Address of byte `off` of the device-specific configuration.
    fn device(&self, off: u64) -> u64 {
        match self.pci {
            None => self.base + 0x100 + off,
            Some(p) => p.device + off,
        }
    }

    /// Check the device's identity: the registers, or an error text.
    fn find(at: At, id: u32) -> Result<Regs, &'static str> {
        match at {
            At::Mmio(base) => {
                if rd32(base) != 0x7472_6976 || rd32(base + 4) != 2 {
                    return Err("no virtio-mmio v2 device");
                }
                if rd32(base + 8) != id {
                    return Err("wrong device id");
                }
                Ok(Regs { base, pci: None })
            }
            At::Pci(dev) => pci_regs(dev, id),
        }
    }
}

/// The virtio-pci function at device `dev` (function 0) with virtio device
/// `id`: its structures from the vendor capabilities.
fn pci_regs(dev: u64, id: u32) -> Result<Regs, &'static str> {
    use super::pci::cfg_read;
    if cfg_read(dev, 0, 0) != (0x1040 + id) << 16 | 0x1af4 {
        return Err("not the virtio-pci function expected (1af4:1040+id)");
    }
    let bar0 = u64::from(cfg_read(dev, 0, 0x10) & !0xf);
    let mut caps = PciCaps { bar0, notify: 0, mult: 0, isr: 0, device: 0, msix: 0, kinds: 0 };
    let mut common = None;
    let mut at = u64::from(cfg_read(dev, 0, 0x34) & 0xfc);
    let mut n = 0;
    while at != 0 && n < 16 {
        let w = cfg_read(dev, 0, at);
        if w & 0xff == 0x11 {
            caps.msix = at;
        }
        if w & 0xff == 0x09 {
            let off = bar0 + u64::from(cfg_read(dev, 0, at + 8));
            caps.kinds = caps.kinds << 4 | u64::from((w >> 24) & 0xf);
            match (w >> 24) & 0xff {
                1 => common = Some(off),
                2 => {
                    caps.notify = off;
                    caps.mult = u64::from(cfg_read(dev, 0, at + 16));
                }
                3 => caps.isr = off,
                4 => caps.device = off,
                _ => {}
            }
        }
        at = u64::from((w >> 8) & 0xfc);
        n += 1;
    }
    match common {
        Some(base) if caps.notify != 0 && caps.isr != 0 => Ok(Regs { base, pci: Some(caps) }),
        _ => Err("missing virtio capabilities"),
    }
}

/// One queue of a virtio device (virtio-mmio or virtio-pci), on its own ring.
pub(crate) struct Dev {
    base: u64,
    next_avail: u16,
    ring: *mut Ring,
    regs: Regs,
    /// Where this queue's notifications go.
    notify: u64,
}

impl Dev {
    fn reg(&self, off: u64) -> u32 {
        rd32(self.base + off)
    }
    fn set(&self, off: u64, v: u32) {
        wr32(self.base + off, v);
    }

    /// Reset, negotiate VERSION_1 (and `want` of the low bits), set up queue
    /// `q` on the first ring and start: the device's low feature bits, or
    /// an error text. `base`: a virtio-mmio window.
    fn init(base: u64, id: u32, want: u32, q: u32) -> Result<(Dev, u32), &'static str> {
        Dev::open(At::Mmio(base), id, want, q)
    }

    /// As `init`, on either transport.
    fn open(at: At, id: u32, want: u32, q: u32) -> Result<(Dev, u32), &'static str> {
        let (regs, low) = Dev::negotiate(at, id, want)?;
        let d = Dev::queue(regs, q, ring())?;
        regs.put(R::Status, 1 | 2 | 4 | 8);
        Ok((d, low))
    }

    pub(crate) fn negotiate(at: At, id: u32, want: u32) -> Result<(Regs, u32), &'static str> {
        let r = Regs::find(at, id)?;
        r.put(R::Status, 0);
        r.put(R::Status, 1 | 2);
        r.put(R::DevFeatSel, 0);
        let low = r.get(R::DevFeat);
        r.put(R::DevFeatSel, 1);
        if r.get(R::DevFeat) & 1 == 0 {
            return Err("no VIRTIO_F_VERSION_1");
        }
        r.put(R::DrvFeatSel, 0);
        r.put(R::DrvFeat, low & want);
        r.put(R::DrvFeatSel, 1);
        r.put(R::DrvFeat, 1);
        r.put(R::Status, 1 | 2 | 8);
        if r.get(R::Status) & 8 == 0 {
            return Err("FEATURES_OK refused");
        }
        Ok((r, low))
    }

    /// Set up queue `q` on `ring` (zeroed).
    fn queue(regs: Regs, q: u32, ring: *mut Ring) -> Result<Dev, &'static str> {
        // SAFETY: single-threaded guest; the ring is only touched here.
        unsafe { core::ptr::write_bytes(ring, 0, 1) };
        regs.put(R::QSel, q);
        if (regs.get(R::QMax) as usize) < QSIZE {
            return Err("queue too small");
        }
        regs.put(R::QNum, QSIZE as u32);
        // SAFETY: addresses of fields of a static ring.
        let (avail, used) = unsafe { (&raw const (*ring).avail as u64, &raw const (*ring).used as u64) };
        let (offs, notify) = match regs.pci {
            None => ([0x80, 0x90, 0xa0], regs.base + 0x50),
            Some(p) => ([0x20, 0x28, 0x30], p.notify + u64::from(rd16(regs.base + 0x1e)) * p.mult),
        };
        for (off, a) in offs.into_iter().zip([ring as u64, avail, used]) {
            wr32(regs.base + off, a as u32);
            wr32(regs.base + off + 4, (a >> 32) as u32);
        }
        regs.put(R::QReady, 1);
        Ok(Dev { base: regs.base, next_avail: 0, ring, regs, notify })
    }

    /// Post a chain of `(addr, len, flags)` on queue `q`, notify, wait for
    /// it to be used: the used length, or None after ~2 s.
    fn submit(&mut self, q: u32, chain: &[(u64, u32, u16)]) -> Option<u32> {
        self.chain(chain);
        self.post(q, 0)
    }

    fn chain(&mut self, chain: &[(u64, u32, u16)]) {
        for (i, &(addr, len, flags)) in chain.iter().enumerate() {
            let next = if i + 1 < chain.len() { F_NEXT } else { 0 };
            let word = u64::from(len) | (u64::from(flags | next) << 32) | ((i as u64 + 1) << 48);
            // SAFETY: single-threaded guest; descriptor i of our ring.
            unsafe { (*self.ring).desc[i] = [addr, word] };
        }
    }

    /// Make descriptor `head` available, notify, wait for the used ring.
    fn post(&mut self, q: u32, head: u16) -> Option<u32> {
        self.offer(q, head);
        self.wait(4_000_000_000)
    }

    fn offer(&mut self, q: u32, head: u16) {
        let slot = 2 + usize::from(self.next_avail) % QSIZE;
        self.next_avail = self.next_avail.wrapping_add(1);
        // SAFETY: single-threaded guest; our ring's available ring.
        unsafe {
            core::ptr::write_volatile(&raw mut (*self.ring).avail[slot], head);
            fence(Ordering::SeqCst);
            core::ptr::write_volatile(&raw mut (*self.ring).avail[1], self.next_avail);
        }
        fence(Ordering::SeqCst);
        wr32(self.notify, q);
    }

    fn status(&self) -> u32 {
        self.regs.get(R::Status)
    }

    /// Wait (at most `limit` TSC cycles) for the last chain offered to be
    /// used: its used length.
    fn wait(&self, limit: u64) -> Option<u32> {
        let start = rdtsc();
        let mut spins = 0u32;
        loop {
            spins = spins.wrapping_add(1);
            // SAFETY: the used ring's idx, written by the device.
            let used = unsafe { core::ptr::read_volatile(&raw const (*self.ring).used[0]) } >> 16;
            if used as u16 == self.next_avail {
                let e = 1 + 2 * ((usize::from(self.next_avail) + QSIZE - 1) % QSIZE);
                // SAFETY: as above.
                return Some(unsafe { core::ptr::read_volatile(&raw const (*self.ring).used[e + 1]) });
            }
            // the status register costs a VM exit: look at it now and then
            let broken = spins % 4096 == 0 && self.status() & 0x40 != 0;
            if broken || rdtsc().wrapping_sub(start) > limit {
                return None;
            }
            core::hint::spin_loop();
        }
    }
}

fn hdr_addr() -> u64 {
    // SAFETY: address of a field of the static buffers.
    unsafe { &raw const (*bufs()).hdr as u64 }
}
fn data_addr() -> u64 {
    // SAFETY: as above.
    unsafe { &raw const (*bufs()).data as u64 }
}
fn status_addr() -> u64 {
    // SAFETY: as above.
    unsafe { &raw const (*bufs()).status as u64 }
}
fn data() -> &'static mut [u8; 512] {
    // SAFETY: single-threaded guest; the device writes it only while a
    // request is in flight, and the probe waits for it.
    unsafe { &mut (*bufs()).data }
}

impl Probe {
    /// Read (type 0) or write (type 1) sector `sector`: the status byte.
    fn blk_rw(&self, d: &mut Dev, kind: u32, sector: u64) -> Option<u8> {
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&kind.to_le_bytes());
        h[8..].copy_from_slice(&sector.to_le_bytes());
        // SAFETY: single-threaded guest.
        unsafe { (*bufs()).hdr = h; (*bufs()).status[0] = 0xff; }
        let dir = if kind == 0 { F_WRITE } else { 0 };
        d.submit(0, &[(hdr_addr(), 16, 0), (data_addr(), 512, dir), (status_addr(), 1, F_WRITE)])?;
        // SAFETY: written by the device before the used ring.
        Some(unsafe { core::ptr::read_volatile(&raw const (*bufs()).status[0]) })
    }

    pub(crate) fn vblk(&self, at: At) {
        let (mut d, feats) = match Dev::open(at, 2, 1 << 5, 0) {
            Ok(x) => x,
            Err(e) => {
                self.report("vblk").s("FAIL ").s(e).s("\n");
                return;
            }
        };
        let cap = u64::from(rd32(d.regs.device(0))) | (u64::from(rd32(d.regs.device(4))) << 32);
        let ro = feats & (1 << 5) != 0;
        for (i, b) in data().iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(0x5a);
        }
        let w = self.blk_rw(&mut d, 1, 1);
        let r0 = self.blk_rw(&mut d, 0, 0);
        let mut first = [0u8; 8];
        first.copy_from_slice(&data()[..8]);
        let r1 = self.blk_rw(&mut d, 0, 1);
        let same = data().iter().enumerate().all(|(i, &b)| b == (i as u8).wrapping_mul(7).wrapping_add(0x5a));
        let o = self.report("vblk");
        let good = if ro { w == Some(1) && r0 == Some(0) } else { w == Some(0) && r0 == Some(0) && r1 == Some(0) && same };
        o.s(if good { "ok " } else { "FAIL " }).s(if ro { "ro" } else { "rw" });
        o.s(" sectors=").dec(cap, 1).s(" write=").hex(u64::from(w.unwrap_or(0xee)));
        o.s(" readback=").s(if same { "same" } else { "differs" }).s(" sector0=");
        for b in first {
            o.hex(u64::from(b >> 4)).hex(u64::from(b & 0xf));
        }
        o.s("\n");
    }

    pub(crate) fn vrng(&self, base: u64) {
        let mut d = match Dev::init(base, 4, 0, 0) {
            Ok((d, _)) => d,
            Err(e) => {
                self.report("vrng").s("FAIL ").s(e).s("\n");
                return;
            }
        };
        data().fill(0);
        let n = d.submit(0, &[(data_addr(), 32, F_WRITE)]);
        let got = &data()[..32];
        let varied = got.iter().any(|&b| b != got[0]);
        let o = self.report("vrng");
        o.s(if n == Some(32) && varied { "ok " } else { "FAIL " }).dec(u64::from(n.unwrap_or(0)), 1).s(" bytes ");
        for &b in &got[..8] {
            o.hex(u64::from(b >> 4)).hex(u64::from(b & 0xf));
        }
        o.s("\n");
    }

    pub(crate) fn vcon(&self, at: At) {
        let mut d = match Dev::open(at, 3, 0, 1) {
            Ok((d, _)) => d,
            Err(e) => {
                self.report("vcon").s("FAIL ").s(e).s("\n");
                return;
            }
        };
        let line = b"hello from the probe over virtio-console\n";
        data()[..line.len()].copy_from_slice(line);
        let n = d.submit(1, &[(data_addr(), line.len() as u32, 0)]);
        self.report("vcon").s(if n.is_some() { "ok sent " } else { "FAIL not used " }).dec(line.len() as u64, 1).s(" bytes\n");
    }

    /// Set up virtio-net at `base`: (rx on the first ring with a buffer
    /// posted, tx on the second, the MAC).
    fn vnet_init(&self, check: &str, at: At) -> Option<(Dev, Dev, [u8; 6])> {
        let r = Dev::negotiate(at, 1, 1 << 5).and_then(|(regs, _)| {
            let rx = Dev::queue(regs, 0, ring())?;
            let tx = Dev::queue(regs, 1, ring2())?;
            regs.put(R::Status, 1 | 2 | 4 | 8);
            Ok((rx, tx))
        });
        let (mut rx, tx) = match r {
            Ok(x) => x,
            Err(e) => {
                self.report(check).s("FAIL ").s(e).s("\n");
                return None;
            }
        };
        let mut mac = [0u8; 6];
        for (i, m) in mac.iter_mut().enumerate() {
            *m = super::rd8(rx.regs.device(i as u64));
        }
        // SAFETY: address of a static frame buffer.
        let rxbuf = unsafe { &raw const (*frames())[0] as u64 };
        rx.chain(&[(rxbuf, 1536, F_WRITE)]);
        rx.offer(0, 0);
        Some((rx, tx, mac))
    }

    /// Send a broadcast frame from `mac` whose payload is `text`.
    fn vnet_send(tx: &mut Dev, mac: &[u8; 6], text: &[u8]) -> Option<u32> {
        // SAFETY: single-threaded guest; the transmit frame buffer.
        let f = unsafe { &mut (*frames())[1] };
        f[..12].fill(0); // virtio_net_hdr
        f[12..18].fill(0xff);
        f[18..24].copy_from_slice(mac);
        f[24..26].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
        f[26..26 + text.len()].copy_from_slice(text);
        let len = (26 + text.len()).max(12 + 60);
        tx.submit(1, &[(f.as_ptr() as u64, len as u32, 0)])
    }

    /// Report the frame received (`got`: its used length).
    fn vnet_report(&self, check: &str, got: Option<u32>, sent: Option<u32>) {
        // SAFETY: the receive frame buffer, written by the device.
        let f = unsafe { &(*frames())[0] };
        let o = self.report(check);
        o.s(if got.is_some() && sent.is_some() { "ok " } else { "FAIL " });
        o.s("rx=").dec(u64::from(got.unwrap_or(0)), 1).s(" from=");
        for b in &f[18..24] {
            o.hex(u64::from(b >> 4)).hex(u64::from(b & 0xf));
        }
        let text = &f[26..26 + 16];
        o.s(" '").bytes(text).s("'\n");
    }

    /// `vnetrx=ADDR`: wait (about 10 s) for a frame, then answer it.
    pub(crate) fn vnetrx(&self, at: At) {
        let Some((rx, mut tx, mac)) = self.vnet_init("vnetrx", at) else { return };
        let got = rx.wait(25_000_000_000);
        let sent = Probe::vnet_send(&mut tx, &mac, b"reply from vnetrx");
        self.vnet_report("vnetrx", got, sent);
    }

    /// `vnettx=ADDR`: send a frame, then wait for the answer.
    pub(crate) fn vnettx(&self, at: At) {
        let Some((mut rx, mut tx, mac)) = self.vnet_init("vnettx", at) else { return };
        let sent = Probe::vnet_send(&mut tx, &mac, b"hello from vnettx");
        let mut got = rx.wait(10_000_000_000);
        // a host's own frames (IPv6 neighbour discovery on a TAP) are skipped
        for _ in 0..16 {
            // SAFETY: the receive frame buffer, written by the device.
            let ethertype = unsafe { [(*frames())[0][24], (*frames())[0][25]] };
            if got.is_none() || ethertype == [0x88, 0xb5] {
                break;
            }
            rx.offer(0, 0);
            got = rx.wait(10_000_000_000);
        }
        self.vnet_report("vnettx", got, sent);
    }

    /// `vpcirng=DD`: the virtio-entropy function at PCI device DD, driven
    /// through its BAR0 as the vendor capabilities describe it.
    pub(crate) fn vpcirng(&self, dev: u64) {
        match pci_rng(dev, false) {
            Ok((n, isr, caps)) => {
                let got = &data()[..32];
                let varied = got.iter().any(|&b| b != got[0]);
                let o = self.report("vpcirng");
                o.s(if n == 32 && varied { "ok " } else { "FAIL " }).dec(u64::from(n), 1);
                o.s(" bytes isr=").hex(u64::from(isr)).s(" caps=").hex(caps).s("\n");
            }
            Err(e) => {
                self.report("vpcirng").s("FAIL ").s(e).s("\n");
            }
        }
    }

    /// `vpcimsix=DD`: as `vpcirng`, with MSI-X on: queue 0's vector 0 sends
    /// interrupt vector 0x31 to the boot CPU, counted by its handler.
    pub(crate) fn vpcimsix(&self, dev: u64) {
        self.lapic_on();
        let before = super::UART_IRQS.load(core::sync::atomic::Ordering::Relaxed);
        let r = pci_rng(dev, true);
        let got = self.wait_for(&super::UART_IRQS, before + 1) - before;
        let o = self.report("vpcimsix");
        match r {
            Ok((n, isr, _)) => {
                o.s(if n == 32 && got >= 1 { "ok " } else { "FAIL " }).dec(u64::from(n), 1);
                o.s(" bytes msi=").dec(u64::from(got), 1).s(" isr=").hex(u64::from(isr)).s("\n");
            }
            Err(e) => {
                o.s("FAIL ").s(e).s("\n");
            }
        }
    }

    /// `vbench=ADDR`: 256 entropy requests of 8 bytes, one at a time: the
    /// TSC cycles of one notification round trip (notify, device thread,
    /// used ring seen by polling).
    pub(crate) fn vbench(&self, base: u64) {
        let Ok((mut d, _)) = Dev::init(base, 4, 0, 0) else {
            self.report("vbench").s("FAIL init\n");
            return;
        };
        let n = 256u64;
        let t0 = rdtsc();
        let mut good = 0;
        for _ in 0..n {
            if d.submit(0, &[(data_addr(), 8, F_WRITE)]) == Some(8) {
                good += 1;
            }
        }
        let each = rdtsc().wrapping_sub(t0) / n;
        let o = self.report("vbench");
        o.s(if good == n { "ok " } else { "FAIL " }).dec(good, 1).s(" requests ").dec(each, 1).s(" cycles each\n");
    }

    /// A looping chain (descriptor 0 → 1 → 0): the device must set
    /// NEEDS_RESET, and work again after a reset.
    pub(crate) fn vbad(&self, base: u64) {
        let id = rd32(base + 8);
        let Ok((mut d, _)) = Dev::init(base, id, 0, 0) else {
            self.report("vbad").s("FAIL init\n");
            return;
        };
        // SAFETY: single-threaded guest; descriptors of the static ring.
        unsafe {
            (*d.ring).desc[0] = [data_addr(), 16 | (u64::from(F_WRITE | F_NEXT) << 32) | (1 << 48)];
            (*d.ring).desc[1] = [data_addr() + 16, 16 | (u64::from(F_WRITE | F_NEXT) << 32)];
        }
        let used = d.post(0, 0);
        let st = d.reg(0x70);
        let isr = d.reg(0x60);
        d.set(0x64, isr);
        let again = Dev::init(base, id, 0, 0).map(|(_, _)| rd32(base + 0x70)).unwrap_or(0);
        let o = self.report("vbad");
        let good = used.is_none() && st & 0x40 != 0 && isr & 2 != 0 && again == 0xf;
        o.s(if good { "ok " } else { "FAIL " }).s("status=").hex(u64::from(st)).s(" isr=").hex(u64::from(isr));
        o.s(" after-reset=").hex(u64::from(again)).s("\n");
    }
}


/// Drive the virtio-pci entropy function at device `dev`: (bytes received,
/// ISR status, the cfg types of its vendor capabilities as hex digits).
fn pci_rng(dev: u64, msix: bool) -> Result<(u32, u8, u64), &'static str> {
    let (regs, _) = Dev::negotiate(At::Pci(dev), 4, 0)?;
    let Some(caps) = regs.pci else { return Err("not virtio-pci") };
    let c = regs.base;
    if msix {
        if caps.msix == 0 {
            return Err("no MSI-X capability");
        }
        // MSI-X enable in the message control word
        let w = super::pci::cfg_read(dev, 0, caps.msix);
        super::outl(0xcf8, 0x8000_0000 | ((dev as u32) << 11) | caps.msix as u32);
        super::outl(0xcfc, w | (1 << 31));
        // table entry 0 (BAR0 + 0x4000): the boot CPU's LAPIC, vector 0x31, unmasked
        let t = caps.bar0 + 0x4000;
        wr32(t, 0xfee0_0000);
        wr32(t + 4, 0);
        wr32(t + 8, 0x31);
        wr32(t + 12, 0);
        wr16(c + 0x10, 0xffff);
        regs.put(R::QSel, 0);
        wr16(c + 0x1a, 0);
        if rd16(c + 0x1a) != 0 {
            return Err("queue vector not taken");
        }
    }
    let mut d = Dev::queue(regs, 0, ring())?;
    regs.put(R::Status, 1 | 2 | 4 | 8);
    data().fill(0);
    let got = d.submit(0, &[(data_addr(), 32, F_WRITE)]).ok_or("request not used")?;
    Ok((got, super::rd8(caps.isr), caps.kinds))
}
