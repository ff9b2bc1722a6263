//! Throughput checks over virtio-mmio, for the virtio benchmark
//! (`crates/vmm/benches/virtio.rs`), the same words under hvhost's VMM and
//! under QEMU microvm:
//!
//! - `vblkbench=ADDR[,N[,M]]`: virtio-blk at ADDR: N (default 100 hex = 256)
//!   4 KiB reads at pseudo-random 4 KiB-aligned sectors one at a time, N more
//!   with up to 8 in flight, then M (default 8) sequential 1 MiB reads;
//! - `vnetbench=ADDR[,N]`: virtio-net at ADDR: N (default 400 hex = 1024)
//!   60-byte broadcast frames on the transmit queue, as many in flight as the
//!   queue allows, notified once per refill.
//!
//! ADDR is hexadecimal; `auto` (or nothing) takes the first device of the
//! right type named by a `virtio_mmio.device=SIZE@ADDR:IRQ` word of the
//! command line, else the first one found in QEMU microvm's transport slots
//! (0xfeb00000 + 0x200 × slot, 24 slots). Reports give the TSC frequency
//! (`tsc-hz`, from CPUID 0x15, else 0x16, else counted against the PIT) and
//! TSC cycles per phase, so the host turns them into IOPS and MiB/s. The
//! probe polls the used ring with interrupts suppressed
//! (VIRTQ_AVAIL_F_NO_INTERRUPT): one notification exit per refill and no
//! interrupt injection.

use core::sync::atomic::{Ordering, fence};

use super::virtio::{At, Dev};
use super::{Probe, cpuid, inb, outb, parse_hex, rd32, rdtsc, wr32};

const QS: usize = 64;
const DEPTH: usize = 8;
const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const BIG: usize = 1 << 20;
const FRAME: usize = 12 + 60;

#[repr(C, align(4096))]
struct Ring {
    desc: [[u64; 2]; QS],
    avail: [u16; 3 + QS],
    _pad: [u8; 4096 - QS * 16 - (3 + QS) * 2],
    used: [u32; 2 + 2 * QS],
}

const EMPTY: Ring = Ring { desc: [[0; 2]; QS], avail: [0; 3 + QS], _pad: [0; 4096 - QS * 16 - (3 + QS) * 2], used: [0; 2 + 2 * QS] };
static mut RINGS: [Ring; 2] = [EMPTY, EMPTY];

#[repr(C, align(4096))]
struct Bufs {
    data: [[u8; 4096]; DEPTH],
    hdr: [[u8; 16]; DEPTH],
    status: [[u8; 16]; DEPTH],
    frames: [[u8; 128]; QS],
}
static mut BUFS: Bufs = Bufs { data: [[0; 4096]; DEPTH], hdr: [[0; 16]; DEPTH], status: [[0; 16]; DEPTH], frames: [[0; 128]; QS] };

#[repr(C, align(4096))]
struct Big([u8; BIG]);
static mut BIGBUF: Big = Big([0; BIG]);

fn bufs() -> *mut Bufs {
    &raw mut BUFS
}

/// One split queue of `size` descriptors on ring `which`, polled.
struct Queue {
    base: u64,
    index: u32,
    ring: *mut Ring,
    size: u16,
    avail: u16,
    used: u16,
}

impl Queue {
    /// Set up queue `index` of the device at `base` on ring `which`, with at
    /// most `QS` descriptors.
    fn new(base: u64, index: u32, which: usize) -> Result<Queue, &'static str> {
        let ring = (&raw mut RINGS).cast::<Ring>().wrapping_add(which.min(1));
        // SAFETY: single-threaded guest; a static ring used only by this queue.
        unsafe { core::ptr::write_bytes(ring, 0, 1) };
        wr32(base + 0x30, index);
        let max = rd32(base + 0x34) as usize;
        if max == 0 {
            return Err("queue not available");
        }
        let size = max.min(QS) as u16;
        wr32(base + 0x38, u32::from(size));
        // SAFETY: addresses of fields of a static ring; suppress interrupts.
        let (avail, used) = unsafe {
            (*ring).avail[0] = 1;
            (&raw const (*ring).avail as u64, &raw const (*ring).used as u64)
        };
        for (off, a) in [(0x80, ring as u64), (0x90, avail), (0xa0, used)] {
            wr32(base + off, a as u32);
            wr32(base + off + 4, (a >> 32) as u32);
        }
        wr32(base + 0x44, 1);
        Ok(Queue { base, index, ring, size, avail: 0, used: 0 })
    }

    fn desc(&mut self, i: usize, addr: u64, len: u32, flags: u16, next: usize) {
        let word = u64::from(len) | (u64::from(flags) << 32) | ((next as u64) << 48);
        // SAFETY: single-threaded guest; descriptor i < size of our ring.
        unsafe { (*self.ring).desc[i] = [addr, word] };
    }

    /// Make chain `head` available (without notifying).
    fn put(&mut self, head: usize) {
        let slot = 2 + usize::from(self.avail % self.size);
        self.avail = self.avail.wrapping_add(1);
        // SAFETY: single-threaded guest; our ring's available ring.
        unsafe {
            core::ptr::write_volatile(&raw mut (*self.ring).avail[slot], head as u16);
            fence(Ordering::SeqCst);
            core::ptr::write_volatile(&raw mut (*self.ring).avail[1], self.avail);
        }
    }

    fn kick(&self) {
        fence(Ordering::SeqCst);
        wr32(self.base + 0x50, self.index);
    }

    /// The next used element (head, length), waiting at most `limit` cycles.
    fn reap(&mut self, limit: u64) -> Option<(usize, u32)> {
        let t0 = rdtsc();
        loop {
            // SAFETY: the used ring's idx, written by the device.
            let idx = (unsafe { core::ptr::read_volatile(&raw const (*self.ring).used[0]) } >> 16) as u16;
            if idx != self.used {
                let e = 1 + 2 * usize::from(self.used % self.size);
                self.used = self.used.wrapping_add(1);
                fence(Ordering::SeqCst);
                // SAFETY: as above.
                let (id, len) = unsafe {
                    (core::ptr::read_volatile(&raw const (*self.ring).used[e]), core::ptr::read_volatile(&raw const (*self.ring).used[e + 1]))
                };
                return Some((id as usize, len));
            }
            if rdtsc().wrapping_sub(t0) > limit {
                return None;
            }
            core::hint::spin_loop();
        }
    }
}

/// TSC frequency in Hz and where it came from.
fn tsc_hz() -> (u64, &'static str) {
    let (max, _, _, _) = cpuid(0, 0);
    if max >= 0x15 {
        let (a, b, c, _) = cpuid(0x15, 0);
        if a != 0 && b != 0 && c != 0 {
            return (u64::from(c) * u64::from(b) / u64::from(a), "cpuid15");
        }
    }
    if max >= 0x16 {
        let (a, _, _, _) = cpuid(0x16, 0);
        if a & 0xffff != 0 {
            return (u64::from(a & 0xffff) * 1_000_000, "cpuid16");
        }
    }
    (pit_hz(), "pit")
}

/// Count TSC cycles over ~20 ms of PIT channel 0 (mode 2, 1193182 Hz),
/// read back with latch commands (no speaker port needed).
fn pit_hz() -> u64 {
    let read = || {
        outb(0x43, 0x00);
        let lo = inb(0x40);
        u16::from(lo) | (u16::from(inb(0x40)) << 8)
    };
    outb(0x43, 0x34);
    outb(0x40, 0);
    outb(0x40, 0);
    let mut last = read();
    let t0 = rdtsc();
    let mut ticks = 0u64;
    while ticks < 23_864 {
        let now = read();
        ticks += u64::from(last.wrapping_sub(now));
        last = now;
        if rdtsc().wrapping_sub(t0) > 20_000_000_000 {
            return 0;
        }
    }
    let cycles = rdtsc().wrapping_sub(t0);
    outb(0x43, 0x30);
    cycles * 1_193_182 / ticks
}

/// The device address named by `arg` (before any `,`), or found for `id`.
fn device(probe: &Probe, arg: &[u8], id: u32) -> Option<u64> {
    let a = arg.split(|&c| c == b',').next().unwrap_or(&[]);
    if !a.is_empty() && a != b"auto" {
        return parse_hex(a);
    }
    let is = |b: u64| rd32(b) == 0x7472_6976 && rd32(b + 8) == id;
    let line = super::cmdline(probe.kind, probe.info);
    for w in line.split(|&c| c == b' ') {
        let Some(rest) = w.strip_prefix(b"virtio_mmio.device=") else { continue };
        let Some(at) = rest.iter().position(|&c| c == b'@') else { continue };
        let addr = rest[at + 1..].split(|&c| c == b':').next().and_then(parse_hex);
        if let Some(b) = addr.filter(|&b| is(b)) {
            return Some(b);
        }
    }
    (0..24).map(|s| 0xfeb0_0000 + 0x200 * s).find(|&b| is(b))
}

/// The `i`-th number after ADDR in `arg` (`ADDR,N,M`), hexadecimal.
fn count(arg: &[u8], i: usize, default: u64) -> u64 {
    arg.split(|&c| c == b',').nth(i).and_then(parse_hex).filter(|&n| n > 0).unwrap_or(default)
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A virtio-blk request set: `n` reads of `len` bytes, at most `depth` in
/// flight; `sector(i)` is request i's first sector, `data(slot)` its
/// buffer. (requests completed with status 0, TSC cycles.)
fn blk_reads(q: &mut Queue, n: u64, depth: usize, len: u32, sector: &mut dyn FnMut(u64) -> u64, data: &dyn Fn(usize) -> u64) -> (u64, u64) {
    let b = bufs();
    let depth = depth.min(usize::from(q.size) / 3).clamp(1, DEPTH);
    let mut free = (1u32 << depth) - 1;
    let (mut issued, mut done, mut good) = (0u64, 0u64, 0u64);
    let t0 = rdtsc();
    while done < n {
        let mut posted = false;
        while issued < n && free != 0 {
            let s = free.trailing_zeros() as usize;
            free &= !(1 << s);
            let mut h = [0u8; 16];
            h[8..].copy_from_slice(&sector(issued).to_le_bytes());
            // SAFETY: single-threaded guest; slot s is not in flight.
            let (hdr, status) = unsafe {
                (*b).hdr[s] = h;
                (*b).status[s][0] = 0xff;
                (&raw const (*b).hdr[s] as u64, &raw const (*b).status[s] as u64)
            };
            q.desc(3 * s, hdr, 16, F_NEXT, 3 * s + 1);
            q.desc(3 * s + 1, data(s), len, F_WRITE | F_NEXT, 3 * s + 2);
            q.desc(3 * s + 2, status, 1, F_WRITE, 0);
            q.put(3 * s);
            issued += 1;
            posted = true;
        }
        if posted {
            q.kick();
        }
        let Some((head, _)) = q.reap(4_000_000_000) else { break };
        let s = head / 3;
        if head % 3 != 0 || s >= depth || free & (1 << s) != 0 {
            break;
        }
        free |= 1 << s;
        done += 1;
        // SAFETY: written by the device before the used element.
        if unsafe { core::ptr::read_volatile(&raw const (*b).status[s][0]) } == 0 {
            good += 1;
        }
    }
    (good, rdtsc().wrapping_sub(t0))
}

impl Probe {
    /// `vblkbench=ADDR[,N[,M]]`.
    pub(crate) fn vblkbench(&self, arg: &[u8]) {
        let r = device(self, arg, 2).ok_or("no virtio-blk device").and_then(|base| {
            Dev::negotiate(At::Mmio(base), 2, 0)?;
            let q = Queue::new(base, 0, 0)?;
            wr32(base + 0x70, 1 | 2 | 4 | 8);
            Ok((base, q))
        });
        let (base, mut q) = match r {
            Ok(x) => x,
            Err(e) => {
                self.report("vblkbench").s("FAIL ").s(e).s("\n");
                return;
            }
        };
        let (n, m) = (count(arg, 1, 256), count(arg, 2, 8));
        let sectors = u64::from(rd32(base + 0x100)) | (u64::from(rd32(base + 0x104)) << 32);
        let (hz, src) = tsc_hz();
        let pages = (sectors / 8).max(1);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = |_| xorshift(&mut seed) % pages * 8;
        // SAFETY: addresses of static buffers.
        let small = |s: usize| unsafe { &raw const (*bufs()).data[s] as u64 };
        let (g1, c1) = blk_reads(&mut q, n, 1, 4096, &mut random, &small);
        let (g8, c8) = blk_reads(&mut q, n, DEPTH, 4096, &mut random, &small);
        let chunks = (sectors / 2048).max(1);
        let mut seq = |i: u64| i % chunks * 2048;
        let big = |_| &raw const BIGBUF as u64;
        let (gs, cs) = blk_reads(&mut q, m, 1, BIG as u32, &mut seq, &big);
        let depth = DEPTH.min(usize::from(q.size) / 3);
        let o = self.report("vblkbench");
        o.s(if g1 == n && g8 == n && gs == m && hz > 0 { "ok" } else { "FAIL" });
        o.s(" at=").hex(base).s(" tsc-hz=").dec(hz, 1).s(" tsc-src=").s(src).s(" sectors=").dec(sectors, 1);
        o.s(" qd1-reqs=").dec(g1, 1).s(" qd1-cycles=").dec(c1, 1);
        o.s(" depth=").dec(depth as u64, 1).s(" qdn-reqs=").dec(g8, 1).s(" qdn-cycles=").dec(c8, 1);
        o.s(" seq-reqs=").dec(gs, 1).s(" seq-bytes=").dec(BIG as u64, 1).s(" seq-cycles=").dec(cs, 1).s("\n");
    }

    /// `vnetbench=ADDR[,N]`.
    pub(crate) fn vnetbench(&self, arg: &[u8]) {
        let r = device(self, arg, 1).ok_or("no virtio-net device").and_then(|base| {
            Dev::negotiate(At::Mmio(base), 1, 1 << 5)?;
            let rx = Queue::new(base, 0, 0)?;
            let tx = Queue::new(base, 1, 1)?;
            wr32(base + 0x70, 1 | 2 | 4 | 8);
            Ok((base, rx, tx))
        });
        let (base, _rx, mut tx) = match r {
            Ok(x) => x,
            Err(e) => {
                self.report("vnetbench").s("FAIL ").s(e).s("\n");
                return;
            }
        };
        let n = count(arg, 1, 1024);
        let (hz, src) = tsc_hz();
        let b = bufs();
        let slots = usize::from(tx.size);
        for s in 0..slots {
            // SAFETY: single-threaded guest; nothing is in flight yet.
            let f = unsafe { &mut (*b).frames[s] };
            f[..12].fill(0);
            f[12..18].fill(0xff);
            for (i, m) in f[18..24].iter_mut().enumerate() {
                *m = super::rd8(base + 0x100 + i as u64);
            }
            f[24..26].copy_from_slice(&[0x88, 0xb5]);
            f[26..28].copy_from_slice(&(s as u16).to_be_bytes());
            let addr = f.as_ptr() as u64;
            tx.desc(s, addr, FRAME as u32, 0, 0);
        }
        let (mut free, mut issued, mut done, mut bytes) = (slots, 0u64, 0u64, 0u64);
        let mut next = 0usize;
        let t0 = rdtsc();
        while done < n {
            let mut posted = false;
            while issued < n && free > 0 {
                tx.put(next);
                next = (next + 1) % slots;
                free -= 1;
                issued += 1;
                posted = true;
            }
            if posted {
                tx.kick();
            }
            let Some((head, len)) = tx.reap(4_000_000_000) else { break };
            if head >= slots {
                break;
            }
            bytes += u64::from(len);
            free += 1;
            done += 1;
        }
        let cycles = rdtsc().wrapping_sub(t0);
        let o = self.report("vnetbench");
        o.s(if done == n && hz > 0 { "ok" } else { "FAIL" }).s(" at=").hex(base).s(" tsc-hz=").dec(hz, 1).s(" tsc-src=").s(src);
        o.s(" frames=").dec(done, 1).s(" frame-bytes=").dec(FRAME as u64 - 12, 1).s(" depth=").dec(slots as u64, 1);
        o.s(" cycles=").dec(cycles, 1).s(" used-bytes=").dec(bytes, 1).s("\n");
    }

    /// `tschz`: the TSC frequency the bench words report.
    pub(crate) fn tschz(&self) {
        let (hz, src) = tsc_hz();
        self.report("tschz").s(if hz > 0 { "ok " } else { "FAIL " }).dec(hz, 1).s(" ").s(src).s("\n");
    }
}
