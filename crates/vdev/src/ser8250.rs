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
//! Live input (standard input, a device) is read by a thread that feeds the
//! receive FIFO and raises the data-ready interrupt without waiting for the
//! guest to poll. `intr` raises the UART's interrupt (transmitter empty,
//! data ready) on that line.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::sync::{Arc, Mutex};

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};

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
}

impl Inner {
    /// Move pending input into the receive FIFO as far as it has room.
    fn refill(&mut self) {
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
}

/// A failed UART write as a person reads it: the host side and the OS error
/// (`hostdev /dev/full: write failed: No space left on device (os error 28)`).
fn write_failure(host: &str, e: &vm_superio::serial::Error<std::io::Error>) -> String {
    use vm_superio::serial::Error as E;
    match e {
        E::IOError(io) => format!("hostdev {host}: write failed: {}", io_text(io)),
        E::Trigger(io) => format!("interrupt failed: {}", io_text(io)),
        E::FullFifo => "receive FIFO full".to_string(),
    }
}

/// An I/O error's text without Rust's `(os error N)` suffix.
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
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
    let mut live: Option<Box<dyn Read + Send>> = None;
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
            live = Some(Box::new(std::io::stdin()));
            Box::new(std::io::stdout())
        }
        Some((Some(Direction::Input), "-")) => {
            live = Some(Box::new(std::io::stdin()));
            Box::new(std::io::sink())
        }
        Some((Some(Direction::Input), path)) => {
            let mut data = Vec::new();
            let f = File::open(path).map_err(|e| host_err(path, e))?;
            f.take(MAX_INPUT)
                .read_to_end(&mut data)
                .map_err(|e| host_err(path, e))?;
            pending.extend(data);
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
                live = Some(Box::new(f.try_clone().map_err(|e| host_err(path, e))?));
                Box::new(f)
            } else {
                Box::new(File::create(path).map_err(|e| host_err(path, e))?)
            }
        }
    };
    let inner = Arc::new(Mutex::new(Inner {
        serial: Serial::new(Irq(ctx.irq.clone()), out),
        pending,
    }));
    if let Some(source) = live {
        let feed = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("ser8250-input".into())
            .spawn(move || read_input(source, feed))
            .map_err(|e| Error::Runtime {
                vdev: "ser8250".into(),
                msg: format!("input thread: {e}"),
            })?;
    }
    Ok(Box::new(Ser8250 { inner, host }))
}

/// Feed live input into the UART until end of file or until the device is
/// gone.
fn read_input(mut source: Box<dyn Read + Send>, inner: Arc<Mutex<Inner>>) {
    let mut buf = [0u8; 256];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        loop {
            if Arc::strong_count(&inner) == 1 {
                return; // the VM is gone
            }
            let Ok(mut st) = inner.lock() else { return };
            if st.pending.len() < MAX_PENDING {
                st.pending.extend(&buf[..n]);
                st.refill();
                break;
            }
            drop(st);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
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
        if let Ok(mut st) = self.inner.lock() {
            let _ = st.serial.writer_mut().flush();
        }
    }
}
