//! The guest side of the fuzz targets: guest memory of two regions with a
//! hole between them, one queue of 16 whose descriptor table, available
//! ring and data come from the fuzzer's bytes, served by a device through
//! `vdev::virtio::drain` as the worker thread would.

use vdev::virtio::{Memory, VirtioDevice, drain};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress};

/// Queue size.
pub const QSIZE: u16 = 16;
const DESC: u64 = 0;
const AVAIL: u64 = 0x100;
const USED: u64 = 0x200;
const DATA: u64 = 0x1000;

/// Guest memory: RAM at 0-64 KiB and 128-192 KiB (a hole between them).
pub fn memory() -> Memory {
    Memory::from_ranges(&[
        (GuestAddress(0), 0x1_0000),
        (GuestAddress(0x2_0000), 0x1_0000),
    ])
    .expect("guest memory")
}

/// Lay out `data` as descriptor table (256 bytes), available ring (38
/// bytes) and buffers (the rest, at 0x1000), then let `dev` serve its
/// queue `queue` until it has nothing left to do (a bounded number of
/// rounds) or refuses the queue.
pub fn run(dev: &mut dyn VirtioDevice, queue: usize, data: &[u8]) {
    let mem = memory();
    let (table, rest) = data.split_at(data.len().min(256));
    let (avail, bufs) = rest.split_at(rest.len().min(38));
    let bufs = &bufs[..bufs.len().min(0xf000)];
    mem.write_slice(table, GuestAddress(DESC)).expect("table");
    mem.write_slice(avail, GuestAddress(AVAIL)).expect("avail");
    mem.write_slice(bufs, GuestAddress(DATA)).expect("data");
    let mut q = Queue::new(QSIZE).expect("queue");
    q.set_size(QSIZE);
    q.set_desc_table_address(Some(DESC as u32), Some(0));
    q.set_avail_ring_address(Some(AVAIL as u32), Some(0));
    q.set_used_ring_address(Some(USED as u32), Some(0));
    q.set_ready(true);
    assert!(q.is_valid(&mem));
    for _ in 0..4 {
        match drain(dev, &mut q, queue, &mem) {
            Ok(d) if d.more => continue,
            _ => break,
        }
    }
}
