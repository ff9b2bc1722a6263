//! virtio devices (virtio 1.2), independent of their transport.
//!
//! A device implements [`VirtioDevice`]: its type, its feature bits, its
//! configuration space, its queues' maximum sizes and what it does with one
//! descriptor chain ([`VirtioDevice::serve`]). [`Core`] is what every
//! transport shares: the device status, feature negotiation, the queues
//! (rust-vmm's `virtio-queue`), the interrupt status and the worker thread
//! that serves the queues off the vCPU thread. A transport ([`mmio`]; PCI
//! later) only decodes its registers into [`Core`] calls.
//!
//! Each device has one worker thread, waiting in an [`EventLoop`] on one
//! eventfd per queue. The VMM registers those eventfds as KVM ioeventfds on
//! the transport's notification register, so a guest's notification wakes
//! the worker without a VM exit to user space.
//!
//! The guest is never trusted. Every chain is walked and checked before a
//! device sees it ([`Chain`]): a loop, a `next` out of the table, a
//! descriptor outside guest memory, a zero length, a readable descriptor
//! after a writable one, a writable descriptor overlapping another, more
//! descriptors than the queue has, or an available index more than a queue
//! ahead all make the device stop serving its queues and set
//! DEVICE_NEEDS_RESET (status bit 0x40) with a configuration-change
//! interrupt; the VMM logs one line, and the driver recovers by resetting
//! the device. Host memory per request is bounded by the devices (copies go
//! through fixed buffers).

pub mod blk;
pub mod console;
pub mod entropy;
pub mod mmio;
pub mod net;
pub mod pci;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::event::{EventLoop, Flow, Stopper};
use crate::{Error, IrqLine, Logger};

/// Guest memory as the VMM hands it to devices.
pub type Memory = vm_memory::GuestMemoryMmap;

/// Device status bits (virtio 1.2 §2.1).
pub mod status {
    use virtio_bindings::virtio_config as c;
    /// The guest found the device.
    pub const ACKNOWLEDGE: u32 = c::VIRTIO_CONFIG_S_ACKNOWLEDGE;
    /// The guest has a driver for it.
    pub const DRIVER: u32 = c::VIRTIO_CONFIG_S_DRIVER;
    /// The driver is ready.
    pub const DRIVER_OK: u32 = c::VIRTIO_CONFIG_S_DRIVER_OK;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = c::VIRTIO_CONFIG_S_FEATURES_OK;
    /// The device met an error it cannot recover from without a reset.
    pub const NEEDS_RESET: u32 = c::VIRTIO_CONFIG_S_NEEDS_RESET;
    /// The driver gave up on the device.
    pub const FAILED: u32 = c::VIRTIO_CONFIG_S_FAILED;
}

/// `VIRTIO_F_VERSION_1`: the device is a virtio 1.x device.
pub const F_VERSION_1: u64 = 1 << virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;

/// Interrupt status bit: a queue has new used buffers.
pub const INT_USED: u32 = virtio_bindings::virtio_mmio::VIRTIO_MMIO_INT_VRING;
/// Interrupt status bit: the configuration (or the device status) changed.
pub const INT_CONFIG: u32 = virtio_bindings::virtio_mmio::VIRTIO_MMIO_INT_CONFIG;

/// Why a request is refused: the guest broke the virtqueue rules. The
/// device stops and asks for a reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Malformed {
    /// A malformed request, with what is wrong.
    pub fn new(msg: impl Into<String>) -> Malformed {
        Malformed(msg.into())
    }
}

/// One buffer of a checked chain: inside guest memory, not empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical address.
    pub addr: u64,
    /// Length in bytes (not zero).
    pub len: u32,
    /// Written by the device (else read by it).
    pub writable: bool,
}

/// A descriptor chain, walked and checked against guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Index of its head descriptor (what the used ring names).
    pub head: u16,
    /// Its buffers in order: the readable ones, then the writable ones.
    pub segments: Vec<Segment>,
}

impl Chain {
    /// Walk the chain at the head of `chain` and check it (see the module
    /// documentation). `queue_size` bounds its length.
    pub fn check<M>(
        chain: virtio_queue::DescriptorChain<M>,
        mem: &Memory,
        queue_size: u16,
    ) -> Result<Chain, Malformed>
    where
        M: std::ops::Deref,
        M::Target: vm_memory::GuestMemory,
    {
        let head = chain.head_index();
        if head >= queue_size {
            return Err(Malformed::new(format!(
                "head descriptor {head} beyond the queue's {queue_size}"
            )));
        }
        let mut segments: Vec<Segment> = Vec::new();
        let mut last_next = true;
        for d in chain {
            if segments.len() >= usize::from(queue_size) {
                return Err(Malformed::new("chain longer than the queue (a loop?)"));
            }
            let seg = Segment {
                addr: d.addr().0,
                len: d.len(),
                writable: d.is_write_only(),
            };
            check_segment(&seg, mem)?;
            if !seg.writable && segments.last().is_some_and(|s| s.writable) {
                return Err(Malformed::new(
                    "a device-readable descriptor after a device-writable one",
                ));
            }
            segments.push(seg);
            last_next = d.has_next();
        }
        if segments.is_empty() {
            return Err(Malformed::new(format!(
                "descriptor {head} cannot be read (table outside guest memory)"
            )));
        }
        if last_next {
            return Err(Malformed::new(
                "chain loops, leaves the descriptor table or exceeds 4 GiB",
            ));
        }
        check_overlaps(&segments)?;
        Ok(Chain { head, segments })
    }

    /// The device-readable buffers.
    pub fn readable(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| !s.writable)
    }

    /// The device-writable buffers.
    pub fn writable(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| s.writable)
    }

    /// Total bytes the device may read.
    pub fn readable_len(&self) -> u64 {
        self.readable().map(|s| u64::from(s.len)).sum()
    }

    /// Total bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.writable().map(|s| u64::from(s.len)).sum()
    }
}

fn check_segment(seg: &Segment, mem: &Memory) -> Result<(), Malformed> {
    if seg.len == 0 {
        return Err(Malformed::new(format!(
            "zero-length descriptor at {:#x}",
            seg.addr
        )));
    }
    let inside = seg.addr.checked_add(u64::from(seg.len)).is_some()
        && mem.check_range(GuestAddress(seg.addr), seg.len as usize);
    if !inside {
        return Err(Malformed::new(format!(
            "descriptor {:#x}+{:#x} is outside guest memory",
            seg.addr, seg.len
        )));
    }
    Ok(())
}

/// A writable buffer may not overlap any other buffer of its chain.
fn check_overlaps(segments: &[Segment]) -> Result<(), Malformed> {
    let end = |s: &Segment| s.addr + u64::from(s.len);
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            if (a.writable || b.writable) && a.addr < end(b) && b.addr < end(a) {
                return Err(Malformed::new(format!(
                    "descriptors {:#x}+{:#x} and {:#x}+{:#x} overlap",
                    a.addr, a.len, b.addr, b.len
                )));
            }
        }
    }
    Ok(())
}

/// Reads the readable buffers of a chain in order, as one byte stream.
pub struct ChainReader<'a> {
    mem: &'a Memory,
    segs: Vec<Segment>,
    at: usize,
    off: u32,
}

impl<'a> ChainReader<'a> {
    /// A reader over `chain`'s readable buffers.
    pub fn new(chain: &Chain, mem: &'a Memory) -> ChainReader<'a> {
        ChainReader {
            mem,
            segs: chain.readable().copied().collect(),
            at: 0,
            off: 0,
        }
    }

    /// Bytes left.
    pub fn left(&self) -> u64 {
        self.segs[self.at.min(self.segs.len())..]
            .iter()
            .map(|s| u64::from(s.len))
            .sum::<u64>()
            - u64::from(self.off)
    }

    /// Fill `buf` as far as the buffers go; the number of bytes read.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Malformed> {
        let mut done = 0;
        while done < buf.len() && self.at < self.segs.len() {
            let s = self.segs[self.at];
            let n = ((s.len - self.off) as usize).min(buf.len() - done);
            self.mem
                .read_slice(
                    &mut buf[done..done + n],
                    GuestAddress(s.addr + u64::from(self.off)),
                )
                .map_err(|e| Malformed::new(format!("guest memory: {e}")))?;
            done += n;
            self.off += n as u32;
            if self.off == s.len {
                self.at += 1;
                self.off = 0;
            }
        }
        Ok(done)
    }
}

/// Writes into the writable buffers of a chain in order.
pub struct ChainWriter<'a> {
    mem: &'a Memory,
    segs: Vec<Segment>,
    at: usize,
    off: u32,
    written: u32,
}

impl<'a> ChainWriter<'a> {
    /// A writer over `chain`'s writable buffers.
    pub fn new(chain: &Chain, mem: &'a Memory) -> ChainWriter<'a> {
        ChainWriter {
            mem,
            segs: chain.writable().copied().collect(),
            at: 0,
            off: 0,
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u32 {
        self.written
    }

    /// Write as much of `data` as the buffers hold; the number of bytes written.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Malformed> {
        let mut done = 0;
        while done < data.len() && self.at < self.segs.len() {
            let s = self.segs[self.at];
            let n = ((s.len - self.off) as usize).min(data.len() - done);
            self.mem
                .write_slice(
                    &data[done..done + n],
                    GuestAddress(s.addr + u64::from(self.off)),
                )
                .map_err(|e| Malformed::new(format!("guest memory: {e}")))?;
            done += n;
            self.off += n as u32;
            self.written = self.written.saturating_add(n as u32);
            if self.off == s.len {
                self.at += 1;
                self.off = 0;
            }
        }
        Ok(done)
    }
}

/// What a device did with a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Done: give it back with this many bytes written into it.
    Used(u32),
    /// Not now (a receive buffer with nothing to receive): leave it, and
    /// every chain after it, in the available ring.
    Later,
}

/// A virtio device, independent of its transport.
pub trait VirtioDevice: Send {
    /// The vdev's name, for messages (`virtio-blk`).
    fn name(&self) -> &'static str;
    /// The virtio device type (§5: 2 block, 3 console, 4 entropy).
    fn device_type(&self) -> u32;
    /// The device-specific feature bits it offers (the transport adds
    /// `VIRTIO_F_VERSION_1`).
    fn features(&self) -> u64;
    /// The maximum size of each queue; its length is the number of queues.
    fn queue_max_sizes(&self) -> &'static [u16];
    /// Read the device configuration space (bytes beyond it read as 0).
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Write the device configuration space (ignored by default).
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}
    /// The driver accepted `features`; the device starts.
    fn activate(&mut self, _features: u64) {}
    /// Serve one checked chain of queue `queue`.
    fn serve(&mut self, queue: usize, chain: &Chain, mem: &Memory) -> Result<Served, Malformed>;
    /// The device is reset: forget any request state.
    fn reset(&mut self) {}
    /// Eventfds the device's host side signals (a received frame), each
    /// with the queue the worker then serves (none by default).
    fn host_events(&self) -> Vec<(Arc<EventFd>, usize)> {
        Vec::new()
    }
}

/// A device's interrupt line and its message-signalled vectors, each optional.
pub type Lines = (Option<Arc<dyn IrqLine>>, Option<Arc<dyn Vectors>>);

/// Message-signalled interrupts a transport may have (virtio-pci's MSI-X).
pub trait Vectors: Send + Sync {
    /// Signal the vector of queue `queue` (`None`: the configuration
    /// vector). False when MSI-X is off and the line is to be used instead.
    fn send(&self, queue: Option<usize>) -> bool;
}

/// The interrupt status a transport shows the guest, and the line (or the
/// message) it raises.
pub struct Interrupt {
    isr: AtomicU32,
    line: Option<Arc<dyn IrqLine>>,
    vectors: Option<Arc<dyn Vectors>>,
}

impl Interrupt {
    /// Status bits ([`INT_USED`], [`INT_CONFIG`]) not yet acknowledged.
    pub fn status(&self) -> u32 {
        self.isr.load(Ordering::SeqCst)
    }

    /// Acknowledge `bits`.
    pub fn ack(&self, bits: u32) {
        self.isr.fetch_and(!bits, Ordering::SeqCst);
    }

    /// Queue `queue` has used buffers.
    pub fn used(&self, queue: usize) {
        self.raise(INT_USED, Some(queue));
    }

    /// The configuration (or the device status) changed.
    pub fn config(&self) {
        self.raise(INT_CONFIG, None);
    }

    /// Send the message of `queue`, or set `bits` and raise the line.
    fn raise(&self, bits: u32, queue: Option<usize>) {
        if self.vectors.as_ref().is_some_and(|v| v.send(queue)) {
            return;
        }
        self.isr.fetch_or(bits, Ordering::SeqCst);
        if let Some(l) = &self.line {
            // an eventfd write fails only on counter overflow: already pending
            let _ = l.trigger();
        }
    }
}

/// What the worker and the transport share.
struct State {
    device: Box<dyn VirtioDevice>,
    queues: Vec<Queue>,
    status: u32,
    driver_features: u64,
}

/// Stack of a worker thread: devices copy through heap buffers.
const WORKER_STACK: usize = 256 * 1024;

/// A running worker thread.
struct Worker {
    stop: Stopper,
    thread: JoinHandle<()>,
}

/// The transport-independent part of a virtio device: status, features,
/// queues, interrupt status and the worker that serves the queues.
pub struct Core {
    state: Arc<Mutex<State>>,
    interrupt: Arc<Interrupt>,
    events: Vec<Arc<EventFd>>,
    mem: Option<Memory>,
    logger: Logger,
    worker: Option<Worker>,
    name: &'static str,
}

fn host_err(name: &str, what: &str, e: std::io::Error) -> Error {
    Error::Runtime {
        vdev: name.into(),
        msg: format!("{what}: {e}"),
    }
}

impl Core {
    /// A device with its interrupt line (and MSI-X vectors, on PCI) and the
    /// guest memory it will use (none: the device cannot start, and says so
    /// when the driver tries).
    pub fn new(
        device: Box<dyn VirtioDevice>,
        (line, vectors): Lines,
        mem: Option<Memory>,
        logger: Logger,
    ) -> Result<Core, Error> {
        let name = device.name();
        let mut queues = Vec::new();
        let mut events = Vec::new();
        for &max in device.queue_max_sizes() {
            queues.push(Queue::new(max).map_err(|e| Error::Runtime {
                vdev: name.into(),
                msg: format!("queue of {max}: {e}"),
            })?);
            let fd = EventFd::new(EFD_NONBLOCK).map_err(|e| host_err(name, "eventfd", e))?;
            events.push(Arc::new(fd));
        }
        Ok(Core {
            state: Arc::new(Mutex::new(State {
                device,
                queues,
                status: 0,
                driver_features: 0,
            })),
            interrupt: Arc::new(Interrupt {
                isr: AtomicU32::new(0),
                line,
                vectors,
            }),
            events,
            mem,
            logger,
            worker: None,
            name,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // a worker that panicked left the state as it was: carry on with it
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The interrupt status.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// The eventfd of each queue, for the VMM's ioeventfds.
    pub fn queue_events(&self) -> &[Arc<EventFd>] {
        &self.events
    }

    /// The device type.
    pub fn device_type(&self) -> u32 {
        self.state().device.device_type()
    }

    /// Every feature bit offered.
    pub fn device_features(&self) -> u64 {
        self.state().device.features() | F_VERSION_1
    }

    /// The driver's feature bits `sel*32..sel*32+31` (before FEATURES_OK).
    pub fn set_driver_features(&mut self, sel: u32, bits: u32) {
        let mut st = self.state();
        if st.status & status::FEATURES_OK != 0 || sel > 1 {
            return;
        }
        let shift = sel * 32;
        st.driver_features =
            (st.driver_features & !(0xffff_ffffu64 << shift)) | (u64::from(bits) << shift);
    }

    /// The device status.
    pub fn status(&self) -> u32 {
        self.state().status
    }

    /// The feature bits the driver wrote.
    pub fn driver_features(&self) -> u64 {
        self.state().driver_features
    }

    /// Number of queues.
    pub fn queue_count(&self) -> usize {
        self.events.len()
    }

    /// Run `f` on queue `i` while the driver may still configure it (before
    /// DRIVER_OK); `None` for a queue that does not exist.
    pub fn configure_queue<T>(&mut self, i: usize, f: impl FnOnce(&mut Queue) -> T) -> Option<T> {
        let mut st = self.state();
        let running = st.status & status::DRIVER_OK != 0;
        let q = st.queues.get_mut(i)?;
        if running {
            return None;
        }
        Some(f(q))
    }

    /// Read queue `i`'s state.
    pub fn queue<T>(&self, i: usize, f: impl FnOnce(&Queue) -> T) -> Option<T> {
        self.state().queues.get(i).map(f)
    }

    /// A notification for queue `i` that did not come through its ioeventfd.
    pub fn notify(&self, i: usize) {
        if let Some(e) = self.events.get(i) {
            // fails only on counter overflow: the worker is woken anyway
            let _ = e.write(1);
        }
    }

    /// Read the device configuration space.
    pub fn read_config(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        self.state().device.read_config(offset, data);
    }

    /// Write the device configuration space.
    pub fn write_config(&mut self, offset: u64, data: &[u8]) {
        self.state().device.write_config(offset, data);
    }

    /// The driver writes the device status: 0 resets, FEATURES_OK is kept
    /// only for features the device offers (with VERSION_1), DRIVER_OK
    /// starts the worker.
    pub fn set_status(&mut self, v: u32) {
        if v == 0 {
            self.reset();
            return;
        }
        let offered = self.device_features();
        let mut st = self.state();
        let old = st.status;
        let mut v = v | (old & status::NEEDS_RESET);
        if v & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let f = st.driver_features;
            if f & !offered != 0 || f & F_VERSION_1 == 0 {
                v &= !status::FEATURES_OK;
            }
        }
        st.status = v;
        let start = v & status::DRIVER_OK != 0
            && old & status::DRIVER_OK == 0
            && v & status::FEATURES_OK != 0;
        drop(st);
        if start {
            self.start();
        }
    }

    fn start(&mut self) {
        let Some(mem) = self.mem.clone() else {
            self.fail("no guest memory was given to the device");
            return;
        };
        let mut st = self.state();
        let features = st.driver_features;
        if let Some(i) = st
            .queues
            .iter()
            .position(|q| q.ready() && !q.is_valid(&mem))
        {
            drop(st);
            self.fail(&format!(
                "queue {i}: rings outside guest memory or misaligned"
            ));
            return;
        }
        st.device.activate(features);
        drop(st);
        match self.spawn(mem) {
            Ok(w) => self.worker = Some(w),
            Err(e) => self.fail(&format!("cannot start its worker: {e}")),
        }
    }

    /// Stop serving and ask the driver for a reset.
    fn fail(&self, why: &str) {
        needs_reset(&self.state, &self.interrupt, &self.logger, self.name, why);
    }

    fn spawn(&self, mem: Memory) -> std::io::Result<Worker> {
        let mut lp = EventLoop::new()?;
        let host = self.state().device.host_events();
        let waits = self.events.iter().cloned().enumerate().map(|(i, e)| (e, i));
        for (ev, i) in waits.chain(host) {
            let ready = self.state().queues.get(i).is_some_and(|q| q.ready());
            if !ready {
                continue;
            }
            let (ev2, state, irq) = (ev.clone(), self.state.clone(), self.interrupt.clone());
            let (mem, logger, name) = (mem.clone(), self.logger.clone(), self.name);
            lp.add(&*ev, move |_| {
                let _ = ev2.read();
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                if st.status & status::NEEDS_RESET != 0 {
                    return Flow::Continue;
                }
                let State { device, queues, .. } = &mut *st;
                match drain(&mut **device, &mut queues[i], i, &mem) {
                    Ok(Drained { notify, more }) => {
                        drop(st);
                        if notify {
                            irq.used(i);
                        }
                        if more {
                            let _ = ev2.write(1);
                        }
                    }
                    Err(m) => {
                        drop(st);
                        needs_reset(&state, &irq, &logger, name, &format!("queue {i}: {}", m.0));
                    }
                }
                Flow::Continue
            })?;
        }
        let stop = lp.stopper();
        let thread = std::thread::Builder::new()
            .name(self.name.into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                let _ = lp.run();
            })?;
        Ok(Worker { stop, thread })
    }

    /// Reset the device: stop the worker, forget the queues and features.
    pub fn reset(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop.stop();
            let _ = w.thread.join();
        }
        for e in &self.events {
            let _ = e.read();
        }
        let mut st = self.state();
        st.status = 0;
        st.driver_features = 0;
        for q in &mut st.queues {
            q.reset();
        }
        st.device.reset();
        drop(st);
        self.interrupt.ack(u32::MAX);
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop.stop();
            let _ = w.thread.join();
        }
    }
}

fn needs_reset(state: &Mutex<State>, irq: &Interrupt, logger: &Logger, name: &str, why: &str) {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let first = st.status & status::NEEDS_RESET == 0;
    st.status |= status::NEEDS_RESET;
    drop(st);
    if first {
        logger.warn(format_args!("{name}: device needs reset: {why}"));
        irq.config();
    }
}

/// What one [`drain`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// Used buffers were added and the driver wants an interrupt.
    pub notify: bool,
    /// Chains are still waiting (the round's bound was reached).
    pub more: bool,
}

/// Serve the chains waiting in `q`, queue `i` of `device`, at most twice
/// the queue's size per round (the rest is served on the next round, so
/// that a guest adding chains without end cannot keep the worker from
/// stopping). The worker calls it on each notification; tests and fuzz
/// targets call it directly.
pub fn drain(
    device: &mut dyn VirtioDevice,
    q: &mut Queue,
    i: usize,
    mem: &Memory,
) -> Result<Drained, Malformed> {
    let size = q.size();
    let mut used = false;
    for _ in 0..u32::from(size) * 2 {
        let chain = {
            let mut it = q
                .iter(mem)
                .map_err(|e| Malformed::new(format!("available ring: {e}")))?;
            match it.next() {
                Some(c) => c,
                None => {
                    return finish(q, mem, used, false);
                }
            }
        };
        let chain = Chain::check(chain, mem, size)?;
        match device.serve(i, &chain, mem)? {
            Served::Used(len) => {
                q.add_used(mem, chain.head, len)
                    .map_err(|e| Malformed::new(format!("used ring: {e}")))?;
                used = true;
            }
            Served::Later => {
                q.set_next_avail(q.next_avail().wrapping_sub(1));
                return finish(q, mem, used, false);
            }
        }
    }
    finish(q, mem, used, true)
}

fn finish(q: &mut Queue, mem: &Memory, used: bool, more: bool) -> Result<Drained, Malformed> {
    let notify = used
        && q.needs_notification(mem)
            .map_err(|e| Malformed::new(format!("used ring: {e}")))?;
    Ok(Drained { notify, more })
}
