//! `ser8250`: a 16550A-compatible UART on vm-superio.
//!
//! `hostdev >-` sends the output to the VMM's standard output, `hostdev >FILE`
//! or `hostdev FILE` to a file (created or truncated), `hostdev <FILE` reads
//! the guest's input from a file (read when the VM is assembled; its bytes are
//! fed into the receive FIFO as the guest drains it) and discards the output.
//! Without `hostdev` the output is discarded. `intr` raises the UART's
//! interrupt (transmitter empty, data ready) on that line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};

use crate::{Context, Created, Device, Effect, Error, IrqLine, Range, Space, VdevSpec, io_base};

/// Input read from a `<FILE` hostdev is capped at this many bytes.
pub const MAX_INPUT: u64 = 1 << 20;

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

/// The UART.
pub struct Ser8250 {
    serial: Serial<Irq, NoEvents, Box<dyn Write + Send>>,
    pending: VecDeque<u8>,
}

/// Build a `ser8250` from its `vdev` line.
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    let base = io_base(spec, Some(0x3f8))?;
    let host_err = |path: &str, source| Error::HostFile {
        vdev: "ser8250".into(),
        path: path.into(),
        source,
    };
    let mut pending = VecDeque::new();
    let out: Box<dyn Write + Send> = match spec.hostdev.as_deref() {
        None => Box::new(std::io::sink()),
        Some(">-") | Some("-") => Box::new(std::io::stdout()),
        Some(h) if h.starts_with('<') => {
            let path = &h[1..];
            let mut data = Vec::new();
            let f = File::open(path).map_err(|e| host_err(path, e))?;
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_INPUT), &mut data)
                .map_err(|e| host_err(path, e))?;
            pending.extend(data);
            Box::new(std::io::sink())
        }
        Some(h) => {
            let path = h.strip_prefix('>').unwrap_or(h);
            if path.is_empty() {
                return Err(spec.bad("`hostdev >` needs a path or `-`"));
            }
            Box::new(File::create(path).map_err(|e| host_err(path, e))?)
        }
    };
    let serial = Serial::new(Irq(ctx.irq.clone()), out);
    Ok(Created::Bus {
        device: Box::new(Ser8250 { serial, pending }),
        ranges: vec![Range {
            space: Space::Io,
            base,
            len: 8,
        }],
    })
}

impl Ser8250 {
    fn refill(&mut self) {
        while !self.pending.is_empty() && self.serial.fifo_capacity() > 0 {
            let (a, _) = self.pending.as_slices();
            let n = a.len().min(self.serial.fifo_capacity());
            let chunk: Vec<u8> = a[..n].to_vec();
            match self.serial.enqueue_raw_bytes(&chunk) {
                Ok(done) => {
                    self.pending.drain(..done);
                }
                Err(_) => break,
            }
        }
    }
}

impl Device for Ser8250 {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        self.refill();
        let v = self.serial.read(offset as u8);
        data.fill(0);
        if let Some(d) = data.first_mut() {
            *d = v;
        }
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = data.first().copied().unwrap_or(0);
        self.serial
            .write(offset as u8, v)
            .map_err(|e| Error::Runtime {
                vdev: "ser8250".into(),
                msg: format!("output failed: {e:?}"),
            })?;
        if offset == 0 && v == b'\n' {
            // Line-buffered output reaches the host promptly; a failed flush
            // shows up as an error on the next write.
            let _ = self.serial.writer_mut().flush();
        }
        Ok(Effect::None)
    }
}

impl Drop for Ser8250 {
    fn drop(&mut self) {
        let _ = self.serial.writer_mut().flush();
    }
}
