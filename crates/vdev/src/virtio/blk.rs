//! `virtio-blk`: a virtio block device (type 2) on a host file.
//!
//! `hostdev FILE` opens the file for reading and writing; `hostdev <FILE`
//! opens it read-only: the device offers `VIRTIO_BLK_F_RO` and answers
//! writes, discards and write-zeroes with `VIRTIO_BLK_S_IOERR`. The
//! capacity is the file's size in 512-byte sectors; a file that is missing
//! or shorter than one sector is a configuration error. Requests: read,
//! write, flush (`fdatasync`), get-id (the file's name, at most 20 bytes),
//! write-zeroes and, on a regular writable file, discard (a punched hole).
//! One request queue of 256; data goes through a 64 KiB buffer.

#![allow(unsafe_code, reason = "fallocate(2) punches the holes of a discard")]

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use virtio_bindings::virtio_blk as vb;

use super::{Chain, ChainReader, ChainWriter, Malformed, Memory, Served, VirtioDevice, mmio};
use crate::decl::{Applied, Attachment, DeviceDecl, OptDecl, ValueType};
use crate::{Context, Direction, Error, HostDev, Value, VdevSpec, catalogue};

/// `hostdev`: the host file, `<` for read-only.
pub const HOSTDEV: OptDecl = catalogue::HOSTDEV.hvhost(Applied::Runs);

/// What `virtio-blk` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("virtio-blk", "virtio block device")
    .memory(mmio::WINDOW, None)
    .attachment(Attachment::Virtio)
    .options(&[
        HOSTDEV,
        catalogue::LEGACY,
        OptDecl::new("dio", ValueType::Toggle, "direct I/O on the host file")
            .hvhost(Applied::Ignored),
        OptDecl::new(
            "threads",
            ValueType::Bounded { min: 1, max: 32 },
            "host threads serving requests",
        )
        .hvhost(Applied::Ignored),
    ]);

/// Bytes in a sector.
pub const SECTOR: u64 = 512;

const F_SEG_MAX: u64 = 1 << vb::VIRTIO_BLK_F_SEG_MAX;
const F_RO: u64 = 1 << vb::VIRTIO_BLK_F_RO;
const F_BLK_SIZE: u64 = 1 << vb::VIRTIO_BLK_F_BLK_SIZE;
const F_FLUSH: u64 = 1 << vb::VIRTIO_BLK_F_FLUSH;
const F_DISCARD: u64 = 1 << vb::VIRTIO_BLK_F_DISCARD;
const F_WRITE_ZEROES: u64 = 1 << vb::VIRTIO_BLK_F_WRITE_ZEROES;

const T_IN: u32 = vb::VIRTIO_BLK_T_IN;
const T_OUT: u32 = vb::VIRTIO_BLK_T_OUT;
const T_FLUSH: u32 = vb::VIRTIO_BLK_T_FLUSH;
const T_GET_ID: u32 = vb::VIRTIO_BLK_T_GET_ID;
const T_DISCARD: u32 = vb::VIRTIO_BLK_T_DISCARD;
const T_WRITE_ZEROES: u32 = vb::VIRTIO_BLK_T_WRITE_ZEROES;

/// Request status: done.
pub const S_OK: u8 = vb::VIRTIO_BLK_S_OK as u8;
/// Request status: the host could not do it (or the device is read-only).
pub const S_IOERR: u8 = vb::VIRTIO_BLK_S_IOERR as u8;
/// Request status: not a request this device knows.
pub const S_UNSUPP: u8 = vb::VIRTIO_BLK_S_UNSUPP as u8;

/// Most sectors one discard or write-zeroes segment may cover.
const MAX_ZERO_SECTORS: u32 = 0x1_0000;
const QUEUE: u16 = 256;
const BUF: usize = 64 * 1024;

fn hostdev(spec: &VdevSpec) -> Option<&HostDev> {
    match spec.value(&HOSTDEV) {
        Some(Value::HostDev(h)) => Some(h),
        _ => None,
    }
}

/// The host file and whether it is read-only, from `hostdev`.
fn target(spec: &VdevSpec) -> Result<(&str, bool), Error> {
    match hostdev(spec) {
        None => Err(spec.bad("needs `hostdev FILE` (or `hostdev <FILE`, read-only)")),
        Some(h) if h.path.is_empty() || h.path == "-" => {
            Err(spec.bad("`hostdev` must name a file or a block device"))
        }
        Some(h) if h.direction == Some(Direction::Output) => {
            Err(spec.bad("`hostdev >FILE`: a disk is read (`<FILE`) or read and written (`FILE`)"))
        }
        Some(h) => Ok((h.path.as_str(), h.direction == Some(Direction::Input))),
    }
}

/// Open the disk and measure it; a missing or too short file is a
/// configuration error.
fn open(spec: &VdevSpec) -> Result<(File, u64, bool), Error> {
    let (path, ro) = target(spec)?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(!ro)
        .open(path)
        .map_err(|e| {
            spec.bad(format!(
                "`hostdev {path}`: cannot open it: {}",
                diag::io::reason(&e)
            ))
        })?;
    let size = f
        .seek(SeekFrom::End(0))
        .map_err(|e| spec.bad(format!("`hostdev {path}`: {}", diag::io::reason(&e))))?;
    if size < SECTOR {
        return Err(spec.bad(format!(
            "`hostdev {path}` has {size} bytes: a disk needs at least one sector of {SECTOR}"
        )));
    }
    Ok((f, size / SECTOR, ro))
}

/// The options name a disk, and a disk file that exists has a sector. A
/// missing file is qvmconf's to report (Q0211, at its `hostdev`), and not
/// at all when host files are not read: this check must not refuse a dry
/// run for a file that only the target has.
pub(crate) fn check(spec: &VdevSpec) -> Result<(), Error> {
    let (path, _) = target(spec)?;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() < SECTOR => Err(spec.bad(format!(
            "`hostdev {path}` has {} bytes: a disk needs at least one sector of {SECTOR}",
            m.len()
        ))),
        _ => Ok(()),
    }
}

/// The device on its disk.
pub(crate) fn build(spec: &VdevSpec, _ctx: &Context) -> Result<Box<dyn VirtioDevice>, Error> {
    let (path, _) = target(spec)?;
    Ok(Box::new(Blk::new(spec, path)?))
}

/// The block device.
pub struct Blk {
    file: File,
    sectors: u64,
    read_only: bool,
    discard: bool,
    id: [u8; 20],
    buf: Vec<u8>,
}

impl Blk {
    fn new(spec: &VdevSpec, path: &str) -> Result<Blk, Error> {
        let (file, sectors, read_only) = open(spec)?;
        let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        Ok(Blk::with(file, sectors, read_only, regular, path))
    }

    /// A device on an open file of `sectors` sectors; `discard`: the file
    /// can punch holes. Its ID is the file's name.
    pub fn with(file: File, sectors: u64, read_only: bool, discard: bool, path: &str) -> Blk {
        let mut id = [0u8; 20];
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = name.len().min(20);
        id[..n].copy_from_slice(&name.as_bytes()[..n]);
        Blk {
            file,
            sectors,
            read_only,
            discard: discard && !read_only,
            id,
            buf: vec![0; BUF],
        }
    }

    fn config(&self) -> [u8; 60] {
        let mut c = [0u8; 60];
        c[0..8].copy_from_slice(&self.sectors.to_le_bytes());
        c[12..16].copy_from_slice(&u32::from(QUEUE - 2).to_le_bytes()); // seg_max
        c[20..24].copy_from_slice(&(SECTOR as u32).to_le_bytes()); // blk_size
        c[34..36].copy_from_slice(&1u16.to_le_bytes()); // num_queues
        for at in [36, 48] {
            // max_discard_sectors, max_write_zeroes_sectors
            c[at..at + 4].copy_from_slice(&MAX_ZERO_SECTORS.to_le_bytes());
            // max_discard_seg, max_write_zeroes_seg
            c[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
        }
        c[44..48].copy_from_slice(&1u32.to_le_bytes()); // discard_sector_alignment
        c
    }

    /// `[sector, sector+bytes/512)` lies inside the disk.
    fn inside(&self, sector: u64, bytes: u64) -> bool {
        bytes.is_multiple_of(SECTOR)
            && sector
                .checked_add(bytes / SECTOR)
                .is_some_and(|end| end <= self.sectors)
    }

    fn read_in(&mut self, sector: u64, w: &mut ChainWriter<'_>, len: u64) -> Result<u8, Malformed> {
        if !self.inside(sector, len) {
            return Ok(S_IOERR);
        }
        let mut at = sector * SECTOR;
        let mut left = len;
        while left > 0 {
            let n = left.min(BUF as u64) as usize;
            if self.file.read_exact_at(&mut self.buf[..n], at).is_err() {
                return Ok(S_IOERR);
            }
            w.write(&self.buf[..n])?;
            at += n as u64;
            left -= n as u64;
        }
        Ok(S_OK)
    }

    fn write_out(&mut self, sector: u64, r: &mut ChainReader<'_>) -> Result<u8, Malformed> {
        let len = r.left();
        if self.read_only || !self.inside(sector, len) {
            return Ok(S_IOERR);
        }
        let mut at = sector * SECTOR;
        loop {
            let n = r.read(&mut self.buf)?;
            if n == 0 {
                return Ok(S_OK);
            }
            if self.file.write_all_at(&self.buf[..n], at).is_err() {
                return Ok(S_IOERR);
            }
            at += n as u64;
        }
    }

    fn zeroes(&mut self, kind: u32, r: &mut ChainReader<'_>) -> Result<u8, Malformed> {
        let mut seg = [0u8; 16];
        if r.read(&mut seg)? != 16 || r.left() != 0 {
            return Ok(S_UNSUPP); // one segment of 16 bytes (max_*_seg is 1)
        }
        let sector = u64::from_le_bytes(seg[0..8].try_into().unwrap_or_default());
        let count = u32::from_le_bytes(seg[8..12].try_into().unwrap_or_default());
        if self.read_only
            || count > MAX_ZERO_SECTORS
            || !self.inside(sector, u64::from(count) * SECTOR)
            || (kind == T_DISCARD && !self.discard)
        {
            return Ok(S_IOERR);
        }
        let (start, len) = (sector * SECTOR, u64::from(count) * SECTOR);
        if kind == T_DISCARD {
            return Ok(if self.punch(start, len) {
                S_OK
            } else {
                S_IOERR
            });
        }
        self.buf.fill(0);
        let mut at = start;
        while at < start + len {
            let n = (start + len - at).min(BUF as u64) as usize;
            if self.file.write_all_at(&self.buf[..n], at).is_err() {
                return Ok(S_IOERR);
            }
            at += n as u64;
        }
        Ok(S_OK)
    }

    /// Deallocate `[start, start+len)` of the file, keeping its size.
    fn punch(&self, start: u64, len: u64) -> bool {
        let (Ok(start), Ok(len)) = (i64::try_from(start), i64::try_from(len)) else {
            return false;
        };
        // SAFETY: fallocate on a descriptor this device owns, with plain
        // integer arguments; it touches no memory of ours.
        let r = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                start,
                len,
            )
        };
        r == 0
    }

    fn request(&mut self, chain: &Chain, mem: &Memory) -> Result<(u8, u32), Malformed> {
        let mut r = ChainReader::new(chain, mem);
        let mut hdr = [0u8; 16];
        if r.read(&mut hdr)? != 16 {
            return Err(Malformed::new("a block request without its 16-byte header"));
        }
        let kind = u32::from_le_bytes(hdr[0..4].try_into().unwrap_or_default());
        let sector = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or_default());
        let data_in = chain.writable_len() - 1;
        let mut w = ChainWriter::new(chain, mem);
        let status = match kind {
            T_IN => self.read_in(sector, &mut w, data_in)?,
            T_OUT => self.write_out(sector, &mut r)?,
            T_FLUSH => match self.file.sync_data() {
                Ok(()) => S_OK,
                Err(_) => S_IOERR,
            },
            T_GET_ID => {
                let id = self.id;
                w.write(&id[..(data_in as usize).min(20)])?;
                S_OK
            }
            T_DISCARD | T_WRITE_ZEROES => self.zeroes(kind, &mut r)?,
            _ => S_UNSUPP,
        };
        Ok((status, w.written()))
    }
}

impl VirtioDevice for Blk {
    fn name(&self) -> &'static str {
        DECL.name
    }
    fn device_type(&self) -> u32 {
        2
    }
    fn features(&self) -> u64 {
        let mut f = F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_WRITE_ZEROES;
        if self.read_only {
            f |= F_RO;
        }
        if self.discard {
            f |= F_DISCARD;
        }
        f
    }
    fn queue_max_sizes(&self) -> &'static [u16] {
        &[QUEUE]
    }
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        copy_config(&self.config(), offset, data);
    }

    fn serve(&mut self, _queue: usize, chain: &Chain, mem: &Memory) -> Result<Served, Malformed> {
        if chain.writable_len() == 0 {
            return Err(Malformed::new("a block request without a status byte"));
        }
        let (status, written) = self.request(chain, mem)?;
        // the status byte is the last writable byte
        let last = chain
            .writable()
            .last()
            .copied()
            .ok_or_else(|| Malformed::new("no status byte"))?;
        vm_memory::Bytes::write_slice(
            mem,
            &[status],
            vm_memory::GuestAddress(last.addr + u64::from(last.len) - 1),
        )
        .map_err(|e| Malformed::new(format!("guest memory: {e}")))?;
        Ok(Served::Used(
            written.min(chain.writable_len() as u32 - 1) + 1,
        ))
    }
}

/// Copy the bytes of `config` at `offset` into an access (0 beyond it).
pub(crate) fn copy_config(config: &[u8], offset: u64, data: &mut [u8]) {
    for (i, d) in data.iter_mut().enumerate() {
        *d = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| config.get(o))
            .copied()
            .unwrap_or(0);
    }
}
