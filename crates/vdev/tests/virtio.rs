//! virtio devices on guest memory built here, driven through the
//! transport-neutral queue plumbing (`vdev::virtio::drain`): well-formed
//! requests of each device, and malformed chains that must be refused.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use vdev::virtio::blk::{Blk, S_IOERR, S_OK, S_UNSUPP};
use vdev::virtio::console::Console;
use vdev::virtio::entropy::Entropy;
use vdev::virtio::{Drained, Malformed, Memory, VirtioDevice, drain};
use virtio_queue::desc::RawDescriptor;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress};

/// A descriptor as the test writes it: (index, addr, len, flags, next).
type Desc = (u16, u64, u32, u16, u16);

const NEXT: u16 = 1;
const WRITE: u16 = 2;
const QSIZE: u16 = 16;
/// Data buffers live from here; guest memory is 1 MiB.
const DATA: u64 = 0x1_0000;
const MEM: u64 = 0x10_0000;

struct Guest {
    mem: Memory,
    heads: u16,
    avail: u64,
    used: u64,
}

impl Guest {
    fn new() -> Guest {
        let mem = Memory::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap();
        // the mock lays out (and zeroes) the rings once
        let m = MockSplitQueue::create(&mem, GuestAddress(0), QSIZE);
        let (avail, used) = (m.avail_addr().0, m.used_addr().0);
        drop(m);
        Guest {
            mem,
            heads: 0,
            avail,
            used,
        }
    }

    fn queue(&self) -> Queue {
        MockSplitQueue::create(&self.mem, GuestAddress(0), QSIZE)
            .create_queue::<Queue>()
            .unwrap()
    }

    /// Store descriptors `(index, addr, len, flags, next)` and make `head` available.
    fn offer(&mut self, descs: &[Desc], head: u16) {
        for &(i, addr, len, flags, next) in descs {
            let d = RawDescriptor::from(Descriptor::new(addr, len, flags, next));
            self.mem
                .write_obj(d, GuestAddress(u64::from(i) * 16))
                .unwrap();
        }
        let slot = self.avail + 4 + 2 * u64::from(self.heads % QSIZE);
        self.mem.write_obj(head, GuestAddress(slot)).unwrap();
        self.heads = self.heads.wrapping_add(1);
        self.set_avail_idx(self.heads);
    }

    fn set_avail_idx(&self, idx: u16) {
        self.mem
            .write_obj(idx, GuestAddress(self.avail + 2))
            .unwrap();
    }

    /// A chain of `(addr, len, flags)` from descriptor 0, made available.
    fn chain(&mut self, bufs: &[(u64, u32, u16)]) {
        let descs: Vec<_> = bufs
            .iter()
            .enumerate()
            .map(|(i, &(a, l, f))| {
                let last = i + 1 == bufs.len();
                let f = if last { f } else { f | NEXT };
                (i as u16, a, l, f, i as u16 + 1)
            })
            .collect();
        self.offer(&descs, 0);
    }

    fn used(&self, k: u16) -> (u32, u32) {
        let at = self.used + 4 + 8 * u64::from(k);
        let id: u32 = self.mem.read_obj(GuestAddress(at)).unwrap();
        let len: u32 = self.mem.read_obj(GuestAddress(at + 4)).unwrap();
        (id, len)
    }

    fn used_idx(&self) -> u16 {
        self.mem.read_obj(GuestAddress(self.used + 2)).unwrap()
    }

    fn write(&self, addr: u64, data: &[u8]) {
        self.mem.write_slice(data, GuestAddress(addr)).unwrap();
    }

    fn read(&self, addr: u64, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
        v
    }
}

fn run(
    dev: &mut dyn VirtioDevice,
    g: &Guest,
    q: &mut Queue,
    i: usize,
) -> Result<Drained, Malformed> {
    drain(dev, q, i, &g.mem)
}

fn entropy_error(bufs: &[Desc]) -> String {
    let mut g = Guest::new();
    let mut q = g.queue();
    g.offer(bufs, bufs[0].0);
    let e = run(&mut Entropy, &g, &mut q, 0).expect_err("malformed");
    assert_eq!(g.used_idx(), 0, "nothing used");
    e.0
}

#[test]
fn malformed_chains_are_refused_with_what_is_wrong() {
    let cases: &[(&[Desc], &str)] = &[
        (
            &[
                (0, DATA, 16, WRITE | NEXT, 1),
                (1, DATA + 16, 16, WRITE | NEXT, 0),
            ],
            "loops",
        ),
        (&[(0, DATA, 16, WRITE | NEXT, 200)], "loops"),
        (&[(0, MEM - 8, 16, WRITE, 0)], "outside guest memory"),
        (&[(0, u64::MAX - 4, 16, WRITE, 0)], "outside guest memory"),
        (&[(0, DATA, 0, WRITE, 0)], "zero-length"),
        (
            &[(0, DATA, 64, WRITE | NEXT, 1), (1, DATA + 32, 64, WRITE, 0)],
            "overlap",
        ),
        (
            &[(0, DATA, 64, WRITE | NEXT, 1), (1, DATA + 64, 8, 0, 0)],
            "readable descriptor after",
        ),
        (&[(0, DATA, 64, 0, 0)], "device-readable buffer"),
    ];
    for (descs, says) in cases {
        let e = entropy_error(descs);
        assert!(e.contains(says), "{descs:?}: {e}");
    }
}

#[test]
fn a_head_beyond_the_queue_and_a_runaway_avail_index_are_refused() {
    let mut g = Guest::new();
    let mut q = g.queue();
    g.offer(&[], 40);
    let e = run(&mut Entropy, &g, &mut q, 0).expect_err("head 40");
    assert!(e.0.contains("beyond the queue"), "{}", e.0);

    let g = Guest::new();
    let mut q = g.queue();
    g.set_avail_idx(QSIZE + 1);
    let e = run(&mut Entropy, &g, &mut q, 0).expect_err("avail index");
    assert!(e.0.contains("available ring"), "{}", e.0);
}

#[test]
fn entropy_fills_the_buffers_it_is_given() {
    let mut g = Guest::new();
    let mut q = g.queue();
    g.chain(&[(DATA, 24, WRITE), (DATA + 0x100, 40, WRITE)]);
    let d = run(&mut Entropy, &g, &mut q, 0).unwrap();
    assert!(d.notify && !d.more);
    assert_eq!(g.used_idx(), 1);
    assert_eq!(g.used(0), (0, 64));
    let a = g.read(DATA, 24);
    let b = g.read(DATA + 0x100, 40);
    assert!(
        a.iter().chain(&b).any(|&x| x != a[0]),
        "random, not constant"
    );
    assert_eq!(
        g.read(DATA + 24, 8),
        vec![0; 8],
        "nothing beyond the buffer"
    );
}

fn disk(sectors: usize, read_only: bool) -> (tempfile::NamedTempFile, Blk) {
    let f = tempfile::NamedTempFile::new().unwrap();
    let data: Vec<u8> = (0..sectors * 512).map(|i| (i % 253) as u8).collect();
    f.as_file().write_all(&data).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(f.path())
        .unwrap();
    let blk = Blk::with(file, sectors as u64, read_only, true, "/images/disk0.img");
    (f, blk)
}

const HDR: u64 = DATA;
const BUF: u64 = DATA + 0x1000;
const ST: u64 = DATA + 0x800;

/// One request of `kind` at `sector` with `len` bytes of data: the status
/// byte and the used length.
fn blk_request(blk: &mut Blk, kind: u32, sector: u64, len: u32, data_in: bool) -> (u8, u32, Guest) {
    let mut g = Guest::new();
    let mut q = g.queue();
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&kind.to_le_bytes());
    h[8..].copy_from_slice(&sector.to_le_bytes());
    g.write(HDR, &h);
    g.write(ST, &[0xff]);
    let mut bufs = vec![(HDR, 16, 0)];
    if len > 0 {
        bufs.push((BUF, len, if data_in { WRITE } else { 0 }));
    }
    bufs.push((ST, 1, WRITE));
    g.chain(&bufs);
    run(blk, &g, &mut q, 0).unwrap();
    let status = g.read(ST, 1)[0];
    let (_, used) = g.used(0);
    (status, used, g)
}

#[test]
fn blk_reads_writes_flushes_and_names_itself() {
    let (f, mut blk) = disk(8, false);
    assert_eq!(blk.features() & (1 << 5), 0, "not read-only");
    let mut cfg = [0u8; 8];
    blk.read_config(0, &mut cfg);
    assert_eq!(u64::from_le_bytes(cfg), 8, "capacity in sectors");

    let (st, used, g) = blk_request(&mut blk, 0, 2, 1024, true);
    assert_eq!((st, used), (S_OK, 1025));
    let want: Vec<u8> = (1024..2048).map(|i| (i % 253) as u8).collect();
    assert_eq!(g.read(BUF, 1024), want);

    let mut g = Guest::new();
    let mut q = g.queue();
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&1u32.to_le_bytes());
    h[8..].copy_from_slice(&7u64.to_le_bytes());
    g.write(HDR, &h);
    g.write(BUF, &[0xab; 512]);
    g.chain(&[(HDR, 16, 0), (BUF, 512, 0), (ST, 1, WRITE)]);
    run(&mut blk, &g, &mut q, 0).unwrap();
    assert_eq!(g.read(ST, 1)[0], S_OK);
    let on_disk = std::fs::read(f.path()).unwrap();
    assert_eq!(&on_disk[7 * 512..], &[0xab; 512][..]);

    assert_eq!(blk_request(&mut blk, 4, 0, 0, false).0, S_OK, "flush");
    let (st, used, g) = blk_request(&mut blk, 8, 0, 20, true);
    assert_eq!((st, used), (S_OK, 21));
    assert_eq!(&g.read(BUF, 20)[..9], b"disk0.img");
    assert_eq!(blk_request(&mut blk, 99, 0, 0, false).0, S_UNSUPP);
    // beyond the end, and not a whole sector
    assert_eq!(blk_request(&mut blk, 0, 7, 1024, true).0, S_IOERR);
    assert_eq!(blk_request(&mut blk, 0, 0, 100, true).0, S_IOERR);
}

#[test]
fn blk_write_zeroes_and_discard_clear_sectors() {
    let (f, mut blk) = disk(8, false);
    for (kind, sector) in [(13u32, 1u64), (11, 4)] {
        let mut g = Guest::new();
        let mut q = g.queue();
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&kind.to_le_bytes());
        g.write(HDR, &h);
        let mut seg = [0u8; 16];
        seg[..8].copy_from_slice(&sector.to_le_bytes());
        seg[8..12].copy_from_slice(&2u32.to_le_bytes());
        g.write(BUF, &seg);
        g.chain(&[(HDR, 16, 0), (BUF, 16, 0), (ST, 1, WRITE)]);
        run(&mut blk, &g, &mut q, 0).unwrap();
        assert_eq!(g.read(ST, 1)[0], S_OK, "request {kind}");
    }
    let d = std::fs::read(f.path()).unwrap();
    assert_eq!(d.len(), 8 * 512, "the size is kept");
    assert!(d[512..3 * 512].iter().all(|&b| b == 0), "write-zeroes");
    assert!(d[4 * 512..6 * 512].iter().all(|&b| b == 0), "discard");
    assert_eq!(
        d[3 * 512 + 1],
        ((3 * 512 + 1) % 253) as u8,
        "between them untouched"
    );
}

#[test]
fn a_read_only_blk_refuses_every_write_with_ioerr() {
    let (f, mut blk) = disk(4, true);
    let before = std::fs::read(f.path()).unwrap();
    assert_ne!(blk.features() & (1 << 5), 0, "VIRTIO_BLK_F_RO");
    assert_eq!(blk.features() & (1 << 13), 0, "no discard");
    assert_eq!(blk_request(&mut blk, 1, 0, 512, false).0, S_IOERR);
    assert_eq!(blk_request(&mut blk, 13, 0, 16, false).0, S_IOERR);
    assert_eq!(blk_request(&mut blk, 0, 0, 512, true).0, S_OK, "reads work");
    assert_eq!(std::fs::read(f.path()).unwrap(), before);
}

#[test]
fn blk_requests_without_header_or_status_are_malformed() {
    let (_f, mut blk) = disk(4, false);
    let mut g = Guest::new();
    let mut q = g.queue();
    g.chain(&[(HDR, 8, 0), (ST, 1, WRITE)]);
    assert!(
        run(&mut blk, &g, &mut q, 0)
            .unwrap_err()
            .0
            .contains("header")
    );
    let mut g = Guest::new();
    let mut q = g.queue();
    g.chain(&[(HDR, 16, 0)]);
    assert!(
        run(&mut blk, &g, &mut q, 0)
            .unwrap_err()
            .0
            .contains("status")
    );
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn console_transmits_and_receives_only_what_there_is() {
    let sink = Sink::default();
    let input: VecDeque<u8> = b"typed".iter().copied().collect();
    let mut con = Console::new(Box::new(sink.clone()), input);
    let mut g = Guest::new();
    let mut tx = g.queue();
    g.write(BUF, b"hello ");
    g.write(BUF + 0x100, b"world\n");
    g.chain(&[(BUF, 6, 0), (BUF + 0x100, 6, 0)]);
    run(&mut con, &g, &mut tx, 1).unwrap();
    assert_eq!(&*sink.0.lock().unwrap(), b"hello world\n");

    let mut g = Guest::new();
    let mut rx = g.queue();
    g.chain(&[(BUF, 3, WRITE)]);
    run(&mut con, &g, &mut rx, 0).unwrap();
    assert_eq!(g.used(0).1, 3);
    assert_eq!(g.read(BUF, 3), b"typ");
    g.chain(&[(BUF, 64, WRITE)]);
    run(&mut con, &g, &mut rx, 0).unwrap();
    assert_eq!(g.used(1).1, 2);
    assert_eq!(g.read(BUF, 2), b"ed");
    // no input left: the buffer stays available
    g.chain(&[(BUF, 64, WRITE)]);
    let d = run(&mut con, &g, &mut rx, 0).unwrap();
    assert_eq!(g.used_idx(), 2);
    assert!(!d.notify);
    assert_eq!(rx.next_avail(), 2, "left in the available ring");
}

#[test]
fn net_receives_what_arrived_and_waits_for_buffers() {
    let logger = vdev::Logger::new(&Default::default(), "t", std::time::Instant::now());
    let mut net = vdev::virtio::net::Net::unplugged([2, 0, 0, 0, 0, 1], logger).unwrap();
    let mut mac = [0u8; 6];
    net.read_config(0, &mut mac);
    assert_eq!(mac, [2, 0, 0, 0, 0, 1]);
    let mut g = Guest::new();
    let mut rx = g.queue();
    g.chain(&[(BUF, 1526, WRITE)]);
    run(&mut net, &g, &mut rx, 0).unwrap();
    assert_eq!(g.used_idx(), 0, "nothing arrived: the buffer waits");
    assert!(net.deliver(&[0xab; 60]));
    run(&mut net, &g, &mut rx, 0).unwrap();
    assert_eq!(g.used(0).1, 12 + 60, "header and frame");
    assert_eq!(g.read(BUF, 12)[10], 1, "num_buffers");
    assert_eq!(g.read(BUF + 12, 60), vec![0xab; 60]);
    // a transmit buffer without its header is malformed
    let mut g = Guest::new();
    let mut tx = g.queue();
    g.chain(&[(BUF, 8, 0)]);
    assert!(
        run(&mut net, &g, &mut tx, 1)
            .unwrap_err()
            .0
            .contains("header")
    );
}
