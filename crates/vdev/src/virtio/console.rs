//! `virtio-console`: a virtio console (type 3) with one port: receiveq 0
//! and transmitq 1, no optional features.
//!
//! `hostdev`, as for `ser8250`:
//! - `>-` or `-`: output to the VMM's standard output;
//! - `>FILE` or `FILE`: output to a file (created or truncated);
//! - `<FILE`: input from a file (read when the VM is assembled, at most
//!   1 MiB; its bytes fill the receive buffers the guest posts), output
//!   discarded;
//! - none: output discarded.
//!
//! Live input (standard input, a terminal) is not read yet. Output is
//! flushed at each newline and at the end of each transmit buffer.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};

use super::{Chain, ChainReader, ChainWriter, Malformed, Memory, Served, VirtioDevice, mmio};
use crate::decl::{Applied, Attachment, DeviceDecl};
use crate::ser8250::MAX_INPUT;
use crate::{Context, Direction, Error, Value, VdevSpec, catalogue};

/// `hostdev`: where the console's output goes and its input comes from.
pub const HOSTDEV: crate::OptDecl = catalogue::HOSTDEV.hvhost(Applied::Runs);

/// What `virtio-console` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("virtio-console", "virtio console")
    .memory(mmio::WINDOW, None)
    .attachment(Attachment::Virtio)
    .options(&[HOSTDEV, catalogue::LEGACY]);

const RX: usize = 0;
/// Bytes of one transmit chain written out at most (the rest is dropped).
pub const MAX_TX: usize = 1 << 20;

/// `hostdev` names something.
pub(crate) fn check(spec: &VdevSpec) -> Result<(), Error> {
    if let Some(Value::HostDev(h)) = spec.value(&HOSTDEV)
        && h.path.is_empty()
    {
        return Err(spec.bad("`hostdev` needs a path or `-`"));
    }
    Ok(())
}

fn host_err(path: &str, source: std::io::Error) -> Error {
    Error::HostFile {
        vdev: DECL.name.into(),
        path: path.into(),
        source,
    }
}

/// The console with its host side opened.
pub(crate) fn build(spec: &VdevSpec, _ctx: &Context) -> Result<Box<dyn VirtioDevice>, Error> {
    let mut input = VecDeque::new();
    let out: Box<dyn Write + Send> = match spec.value(&HOSTDEV) {
        Some(Value::HostDev(h)) => match (h.direction, h.path.as_str()) {
            (Some(Direction::Input), "-") => Box::new(std::io::sink()),
            (_, "-") => Box::new(std::io::stdout()),
            (Some(Direction::Input), path) => {
                let mut data = Vec::new();
                File::open(path)
                    .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut data))
                    .map_err(|e| host_err(path, e))?;
                input.extend(data);
                Box::new(std::io::sink())
            }
            (_, path) => Box::new(File::create(path).map_err(|e| host_err(path, e))?),
        },
        _ => Box::new(std::io::sink()),
    };
    Ok(Box::new(Console::new(out, input)))
}

/// The console.
pub struct Console {
    out: Box<dyn Write + Send>,
    input: VecDeque<u8>,
}

impl Console {
    /// A console writing to `out` and receiving `input`.
    pub fn new(out: Box<dyn Write + Send>, input: VecDeque<u8>) -> Console {
        Console { out, input }
    }

    fn receive(&mut self, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.readable().next().is_some() {
            return Err(Malformed::new("a receive buffer the device should read"));
        }
        if self.input.is_empty() {
            return Ok(Served::Later);
        }
        let mut w = ChainWriter::new(chain, mem);
        let n = (chain.writable_len() as usize).min(self.input.len());
        let (a, b) = self.input.as_slices();
        let from_a = n.min(a.len());
        w.write(&a[..from_a])?;
        w.write(&b[..n - from_a])?;
        self.input.drain(..n);
        Ok(Served::Used(w.written()))
    }

    fn transmit(&mut self, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.writable().next().is_some() {
            return Err(Malformed::new("a transmit buffer the device should write"));
        }
        let mut r = ChainReader::new(chain, mem);
        let mut buf = [0u8; 4096];
        // readable buffers may overlap: at most MAX_TX bytes of one chain
        // are written out, so that a chain cannot keep the worker for long
        for _ in 0..MAX_TX / buf.len() {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            // a failing host side drops the guest's output, as a full disk
            // would; the guest is not stopped for it
            let _ = self.out.write_all(&buf[..n]);
        }
        let _ = self.out.flush();
        Ok(Served::Used(0))
    }
}

impl VirtioDevice for Console {
    fn name(&self) -> &'static str {
        DECL.name
    }
    fn device_type(&self) -> u32 {
        3
    }
    fn features(&self) -> u64 {
        0
    }
    fn queue_max_sizes(&self) -> &'static [u16] {
        &[64, 64]
    }
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // cols, rows, max_nr_ports, emerg_wr: none offered
        super::blk::copy_config(&[0; 12], offset, data);
    }

    fn serve(&mut self, queue: usize, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if queue == RX {
            self.receive(chain, mem)
        } else {
            self.transmit(chain, mem)
        }
    }
}
