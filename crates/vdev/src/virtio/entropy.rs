//! `virtio-entropy`: a virtio entropy device (type 4) filled from the
//! host's `getrandom`. One request queue; each chain must be device-writable
//! only, and gets at most [`MAX_PER_REQUEST`] bytes.

use super::{Chain, ChainWriter, Malformed, Memory, Served, VirtioDevice, mmio};
use crate::decl::{Attachment, DeviceDecl};
use crate::{Context, Error, VdevSpec, catalogue};

/// What `virtio-entropy` declares.
pub const DECL: DeviceDecl =
    DeviceDecl::new("virtio-entropy", "virtio entropy source (random numbers)")
        .memory(mmio::WINDOW, None)
        .attachment(Attachment::Virtio)
        .options(&[catalogue::LEGACY]);

/// The most bytes one request gets (the driver asks again for more).
pub const MAX_PER_REQUEST: usize = 64 * 1024;

/// No option to check.
pub(crate) fn check(_spec: &VdevSpec) -> Result<(), Error> {
    Ok(())
}

/// The device.
pub(crate) fn build(_spec: &VdevSpec, _ctx: &Context) -> Result<Box<dyn VirtioDevice>, Error> {
    Ok(Box::new(Entropy))
}

/// The device.
pub struct Entropy;

impl VirtioDevice for Entropy {
    fn name(&self) -> &'static str {
        DECL.name
    }
    fn device_type(&self) -> u32 {
        4
    }
    fn features(&self) -> u64 {
        0
    }
    fn queue_max_sizes(&self) -> &'static [u16] {
        &[256]
    }
    fn read_config(&self, _offset: u64, _data: &mut [u8]) {}

    fn serve(&mut self, _queue: usize, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.readable().next().is_some() {
            return Err(Malformed::new(
                "an entropy request with a device-readable buffer",
            ));
        }
        let want = chain.writable_len().min(MAX_PER_REQUEST as u64) as usize;
        let mut w = ChainWriter::new(chain, mem);
        let mut buf = [0u8; 4096];
        let mut left = want;
        while left > 0 {
            let n = left.min(buf.len());
            if getrandom::fill(&mut buf[..n]).is_err() {
                break; // the host has no entropy to give: give what we have
            }
            w.write(&buf[..n])?;
            left -= n;
        }
        Ok(Served::Used(w.written()))
    }
}
