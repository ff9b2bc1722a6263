//! `ser8250`: a 16550A-compatible UART on vm-superio.
//!
//! `hostdev`:
//! - `>-`: output to the VMM's standard output;
//! - `-`: output to standard output, input from standard input;
//! - `<-`: input from standard input, output discarded;
//! - `>FILE`: output to a file (created or truncated);
//! - `<FILE`: input from a file (read when the VM is assembled, at most
//!   1 MiB; its bytes are fed into the receive FIFO as the guest drains it),
//!   output discarded;
//! - `FILE`: a character device or FIFO (a pty, a pipe) is opened for both
//!   directions; any other file is an output file, as `>FILE`;
//! - none: output discarded.
//!
//! Live input (standard input, a device) is read by a thread waiting in an
//! [`EventLoop`]: it feeds the receive FIFO and
//! raises the data-ready interrupt without waiting for the guest to poll.
//! When input piles up faster than the guest drains it, the thread stops
//! reading until the guest has made room; when the UART is dropped (the VM
//! ends or restarts) the thread is stopped without reading any more, so
//! input typed meanwhile is left for the next reader. `intr` raises the UART's interrupt (transmitter empty,
//! data ready) on that line.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::sync::{Arc, Mutex};

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::event::{EventLoop, Flow, Stopper};

use crate::decl::{Applied, Arch, DeviceDecl, OptDecl};
use crate::{
    Context, Created, Device, Direction, Effect, Error, HostDev, IrqLine, Range, Space, Value,
    VdevSpec, catalogue, io_base,
};

/// `hostdev`: where the UART's output goes and its input comes from.
pub const HOSTDEV: OptDecl = catalogue::HOSTDEV.hvhost(Applied::Runs);

/// What `ser8250` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("ser8250", "16550A-compatible UART")
    .arch(Arch::X86_64)
    .ports(8, Some(0x3f8))
    .options(&[HOSTDEV, catalogue::BATCH.hvhost(Applied::Ignored)]);

/// The `hostdev` of a spec.
fn hostdev(spec: &VdevSpec) -> Option<&HostDev> {
    match spec.value(&HOSTDEV) {
        Some(Value::HostDev(h)) => Some(h),
        _ => None,
    }
}

/// Input read from a `<FILE` hostdev is capped at this many bytes.
pub const MAX_INPUT: u64 = 1 << 20;

/// Live input waiting for room in the FIFO is capped at this many bytes;
/// beyond it the reader waits for the guest.
const MAX_PENDING: usize = 64 * 1024;
/// A paused reader resumes when the guest has drained pending input below
/// this.
const RESUME_BELOW: usize = MAX_PENDING / 2;

struct Irq(Option<Arc<dyn IrqLine>>);

impl Trigger for Irq {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        match &self.0 {
            Some(line) => line.trigger(),
            None => Ok(()),
        }
    }
}

struct Inner {
    serial: Serial<Irq, NoEvents, Box<dyn Write + Send>>,
    pending: VecDeque<u8>,
    /// Set while the input thread waits for room.
    paused: Option<Arc<EventFd>>,
}

impl Inner {
    /// Move pending input into the receive FIFO as far as it has room, and
    /// wake a paused reader once there is room again.
    fn refill(&mut self) {
        self.fill();
        if self.pending.len() < RESUME_BELOW
            && let Some(room) = self.paused.take()
        {
            // fails only on counter overflow, when the reader is woken anyway
            let _ = room.write(1);
        }
    }

    fn fill(&mut self) {
        while !self.pending.is_empty() && self.serial.fifo_capacity() > 0 {
            let n = self.pending.len().min(self.serial.fifo_capacity());
            let chunk: Vec<u8> = self.pending.iter().take(n).copied().collect();
            match self.serial.enqueue_raw_bytes(&chunk) {
                Ok(done) => {
                    self.pending.drain(..done);
                }
                Err(_) => break,
            }
        }
    }
}

/// The UART.
pub struct Ser8250 {
    inner: Arc<Mutex<Inner>>,
    /// Where its output goes, for messages (`hostdev /dev/full`, `stdout`).
    host: String,
    /// Stops the live-input thread.
    input: Option<Stopper>,
}

/// A failed UART write as a person reads it: the host side and the OS error
/// (`hostdev /dev/full: write failed: No space left on device (os error 28)`).
fn write_failure(host: &str, e: &vm_superio::serial::Error<std::io::Error>) -> String {
    use vm_superio::serial::Error as E;
    match e {
        E::IOError(io) => format!("hostdev {host}: write failed: {}", diag::io::reason(io)),
        E::Trigger(io) => format!("interrupt failed: {}", diag::io::reason(io)),
        E::FullFifo => "receive FIFO full".to_string(),
    }
}

fn host_err(path: &str, source: std::io::Error) -> Error {
    Error::HostFile {
        vdev: "ser8250".into(),
        path: path.into(),
        source,
    }
}

/// Build a `ser8250` from its `vdev` line.
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    Ok(Created::Bus {
        ranges: ranges(spec)?,
        device: device(spec, ctx)?,
    })
}

/// Its 8 ports (0x3f8 or `loc`), after checking `hostdev`.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let base = io_base(spec, DECL.default_loc)?;
    if hostdev(spec).is_some_and(|h| h.path.is_empty()) {
        return Err(spec.bad("`hostdev` needs a path or `-`"));
    }
    Ok(vec![Range {
        space: Space::Io,
        base,
        len: 8,
    }])
}

pub(crate) fn device(spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn Device>, Error> {
    let mut pending = VecDeque::new();
    let mut live: Option<File> = None;
    let h = hostdev(spec);
    let host = match h {
        Some(h) if h.is_stdio() => "stdout".to_string(),
        Some(h) => h.path.clone(),
        None => "none".to_string(),
    };
    let out: Box<dyn Write + Send> = match h.map(|h| (h.direction, h.path.as_str())) {
        None => Box::new(std::io::sink()),
        Some((Some(Direction::Output), "-")) => Box::new(std::io::stdout()),
        Some((None, "-")) => {
            live = Some(stdin()?);
            Box::new(std::io::stdout())
        }
        Some((Some(Direction::Input), "-")) => {
            live = Some(stdin()?);
            Box::new(std::io::sink())
        }
        Some((Some(Direction::Input), path)) => {
            let f = File::open(path).map_err(|e| host_err(path, e))?;
            pending.extend(read_capped(&f, path)?);
            Box::new(std::io::sink())
        }
        Some((direction, path)) => {
            let forced_out = direction == Some(Direction::Output);
            if path.is_empty() {
                return Err(spec.bad("`hostdev >` needs a path or `-`"));
            }
            let device = !forced_out
                && std::fs::metadata(path)
                    .map(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
                    .unwrap_or(false);
            if device {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| host_err(path, e))?;
                live = Some(f.try_clone().map_err(|e| host_err(path, e))?);
                Box::new(f)
            } else {
                Box::new(File::create(path).map_err(|e| host_err(path, e))?)
            }
        }
    };
    let inner = Arc::new(Mutex::new(Inner {
        serial: Serial::new(Irq(ctx.irq()), out),
        pending,
        paused: None,
    }));
    let input = match live {
        Some(source) => spawn_input(source, &inner)?,
        None => None,
    };
    Ok(Box::new(Ser8250 { inner, host, input }))
}

/// At most [`MAX_INPUT`] bytes of `f`.
fn read_capped(f: &File, path: &str) -> Result<Vec<u8>, Error> {
    let mut data = Vec::new();
    f.take(MAX_INPUT)
        .read_to_end(&mut data)
        .map_err(|e| host_err(path, e))?;
    Ok(data)
}

/// The VMM's standard input as a file of its own: read unbuffered, so that
/// what epoll reports readable is what a read returns.
fn stdin() -> Result<File, Error> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| host_err("-", e))?;
    Ok(File::from(fd))
}

fn thread_err(e: std::io::Error) -> Error {
    Error::Runtime {
        vdev: "ser8250".into(),
        msg: format!("input thread: {e}"),
    }
}

/// Start the thread that feeds live input into the UART until end of file
/// or until it is stopped. A source epoll cannot wait for (a regular file,
/// `/dev/null` as standard input) is always readable: it is read now, as a
/// `<FILE` hostdev is, and no thread is started.
fn spawn_input(source: File, inner: &Arc<Mutex<Inner>>) -> Result<Option<Stopper>, Error> {
    let mut lp = EventLoop::new().map_err(thread_err)?;
    let room = Arc::new(EventFd::new(EFD_NONBLOCK).map_err(thread_err)?);
    let source = Arc::new(source);
    let src = match lp.add(
        &*source,
        reader(source.clone(), inner.clone(), room.clone()),
    ) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let data = read_capped(&source, "-")?;
            inner.lock().map_err(|_| poisoned())?.pending.extend(data);
            return Ok(None);
        }
        Err(e) => return Err(thread_err(e)),
    };
    let wake = room.clone();
    lp.add(&*room, move |ctl| {
        let _ = wake.read();
        ctl.resume(src);
        Flow::Continue
    })
    .map_err(thread_err)?;
    let stop = lp.stopper();
    std::thread::Builder::new()
        .name("ser8250-input".into())
        .spawn(move || {
            let _ = lp.run();
        })
        .map_err(thread_err)?;
    Ok(Some(stop))
}

/// The input handler: one read into the pending bytes; pauses itself when
/// they reach [`MAX_PENDING`] (the guest's reads resume it).
fn reader(
    source: Arc<File>,
    inner: Arc<Mutex<Inner>>,
    room: Arc<EventFd>,
) -> impl FnMut(&mut crate::event::Control) -> Flow + Send + 'static {
    move |ctl| {
        let mut buf = [0u8; 256];
        let n = match (&*source).read(&mut buf) {
            Ok(0) | Err(_) => return Flow::Stop,
            Ok(n) => n,
        };
        let Ok(mut st) = inner.lock() else {
            return Flow::Stop;
        };
        st.pending.extend(&buf[..n]);
        st.refill();
        if st.pending.len() >= MAX_PENDING {
            st.paused = Some(room.clone());
            let me = ctl.token();
            ctl.pause(me);
        }
        Flow::Continue
    }
}

impl Device for Ser8250 {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let mut st = self.inner.lock().map_err(|_| poisoned())?;
        st.refill();
        let v = st.serial.read(offset as u8);
        data.fill(0);
        if let Some(d) = data.first_mut() {
            *d = v;
        }
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = data.first().copied().unwrap_or(0);
        let mut st = self.inner.lock().map_err(|_| poisoned())?;
        st.serial
            .write(offset as u8, v)
            .map_err(|e| Error::Runtime {
                vdev: "ser8250".into(),
                msg: write_failure(&self.host, &e),
            })?;
        if offset == 0 && v == b'\n' {
            // Line-buffered output reaches the host promptly; a failed flush
            // shows up as an error on the next write.
            let _ = st.serial.writer_mut().flush();
        }
        Ok(Effect::None)
    }
}

fn poisoned() -> Error {
    Error::Runtime {
        vdev: "ser8250".into(),
        msg: "the input thread failed".into(),
    }
}

impl Drop for Ser8250 {
    fn drop(&mut self) {
        if let Some(stop) = &self.input {
            stop.stop();
        }
        if let Ok(mut st) = self.inner.lock() {
            let _ = st.serial.writer_mut().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::time::{Duration, Instant};

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn live_input_pauses_when_full_resumes_when_drained_and_stops_unread() {
        let (r, mut w) = std::io::pipe().expect("pipe");
        let mut spare = r.try_clone().expect("clone");
        let inner = Arc::new(Mutex::new(Inner {
            serial: Serial::new(Irq(None), Box::new(std::io::sink())),
            pending: VecDeque::new(),
            paused: None,
        }));
        let stop = spawn_input(File::from(OwnedFd::from(r)), &inner)
            .expect("input thread")
            .expect("a pipe is waited for");
        let sent = 64 * MAX_PENDING;
        let writer = std::thread::spawn(move || w.write_all(&vec![b'a'; sent]));
        let pending = || inner.lock().expect("lock").pending.len();
        wait_for("the reader fills its buffer", || pending() >= MAX_PENDING);
        let held = pending();
        assert!(held < MAX_PENDING + 256, "{held}");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pending(), held, "a full buffer pauses the reader");
        // the guest drains the receive FIFO (reads of RBR); the reader,
        // resumed meanwhile, may refill it as it goes (so `sent` is many
        // buffers: the two cannot race through the whole pipe)
        let mut drained = 0;
        while pending() >= RESUME_BELOW {
            let mut st = inner.lock().expect("lock");
            st.serial.read(0);
            st.refill();
            drained += 1;
        }
        wait_for("the reader resumes", || pending() >= MAX_PENDING);
        stop.stop();
        wait_for("the input thread ends", || Arc::strong_count(&inner) == 1);
        // what the stopped reader did not take is still in the pipe
        let mut rest = Vec::new();
        spare.read_to_end(&mut rest).expect("read the rest");
        writer.join().expect("writer").expect("write");
        let fifo = 64;
        assert_eq!(pending() + drained + fifo + rest.len(), sent);
        assert!(!rest.is_empty());
    }

    #[test]
    fn a_source_epoll_cannot_wait_for_is_read_at_once() {
        let dir = std::env::temp_dir().join(format!("ser8250-{}", std::process::id()));
        std::fs::write(&dir, b"from a file").expect("write");
        let inner = Arc::new(Mutex::new(Inner {
            serial: Serial::new(Irq(None), Box::new(std::io::sink())),
            pending: VecDeque::new(),
            paused: None,
        }));
        let f = File::open(&dir).expect("open");
        let _ = std::fs::remove_file(&dir);
        assert!(spawn_input(f, &inner).expect("read").is_none(), "no thread");
        let st = inner.lock().expect("lock");
        assert_eq!(
            st.pending.iter().copied().collect::<Vec<u8>>(),
            b"from a file"
        );
    }
}
