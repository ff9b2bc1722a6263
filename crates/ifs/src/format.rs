//! The on-disk structures of an IFS image (spec §2–§5), shared by the reader
//! and the writer: constants, and the two headers with their encoders and
//! bounds-checked decoders.

use crate::endian::{Endian, Fields, Put};
use serde::Serialize;

/// The startup header signature, `0x00FF7EEB`.
pub const STARTUP_SIGNATURE: u32 = 0x00FF_7EEB;
/// Size of the startup header.
pub const STARTUP_HEADER_SIZE: usize = 256;
/// The image header signature.
pub const IMAGE_SIGNATURE: &[u8; 7] = b"imagefs";
/// Size of the fixed part of the image header (the mountpoint follows).
pub const IMAGE_HEADER_FIXED: usize = 88;
/// The longest mountpoint the reader accepts.
pub const MAX_MOUNTPOINT: usize = 4095;
/// Size of the common part of a directory entry.
pub const DIRENT_COMMON: usize = 24;
/// Size of a v1 trailer (one checksum word).
pub const TRAILER_V1: usize = 4;
/// Size of a v2 trailer (SHA-512, then the checksum word).
pub const TRAILER_V2: usize = 68;
/// The marker in startup and kernel binaries that the bootstrap argument block replaces.
pub const BOOTARGS_MARKER: &[u8; 8] = b"ddpvbskr";

/// Startup header `flags1` bits.
pub mod startup_flags {
    /// A virtual (MMU) image.
    pub const VIRTUAL: u8 = 0x01;
    /// Big-endian.
    pub const BIGENDIAN: u8 = 0x02;
    /// Compression mask (shift 2).
    pub const COMPRESS_MASK: u8 = 0x1c;
    /// v2 trailers (SDP 8.0).
    pub const TRAILER_V2: u8 = 0x20;
}

/// Image header `flags` bits.
pub mod image_flags {
    /// Big-endian.
    pub const BIGENDIAN: u8 = 0x01;
    /// Read-only (split image).
    pub const READONLY: u8 = 0x02;
    /// Inode bits valid (always set).
    pub const INO_BITS: u8 = 0x04;
    /// Sorted dirents (SDP 8.0).
    pub const SORTED: u8 = 0x08;
    /// v2 trailer (SDP 8.0).
    pub const TRAILER_V2: u8 = 0x10;
}

/// Inode number flag bits.
pub mod ino_flags {
    /// An ELF executable processed by mkifs.
    pub const PROCESSED_ELF: u32 = 0x8000_0000;
    /// Run once: data used in place.
    pub const RUNONCE: u32 = 0x4000_0000;
    /// A bootstrap executable.
    pub const BOOTSTRAP: u32 = 0x2000_0000;
    /// Every flag bit.
    pub const MASK: u32 = 0xf000_0000;
}

/// The root directory's inode number.
pub const ROOT_INO: u32 = 1;

/// Rounds `v` up to a multiple of `a` (a power of two or any non-zero value).
pub fn round_up(v: u64, a: u64) -> u64 {
    if a <= 1 {
        return v;
    }
    v.div_ceil(a) * a
}

/// The 256-byte startup header of a bootable (or compressed) image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct StartupHeader {
    /// Byte order of the fields.
    pub endian: Endian,
    /// Format version (1).
    pub version: u16,
    /// `flags1` ([`startup_flags`]).
    pub flags1: u8,
    /// `flags2`.
    pub flags2: u8,
    /// `header_size` (256).
    pub header_size: u16,
    /// ELF `e_machine` of the startup program.
    pub machine: u16,
    /// Entry point of the startup program.
    pub startup_vaddr: u32,
    /// Negated `paddr_bias` of the bootfile.
    pub paddr_bias: u32,
    /// Physical address the image is loaded at (image base + preboot + bias).
    pub image_paddr: u32,
    /// RAM address of the image.
    pub ram_paddr: u32,
    /// RAM used by the image.
    pub ram_size: u32,
    /// Header + code + padding + trailer.
    pub startup_size: u32,
    /// Bytes stored after the preboot.
    pub stored_size: u32,
    /// Filled in by the IPL (0 in a file).
    pub imagefs_paddr: u32,
    /// Uncompressed image size.
    pub imagefs_size: u32,
    /// Size of the preboot area.
    pub preboot_size: u16,
    /// `zero0`.
    pub zero0: u16,
    /// `zero[3]` (SDP ≤ 7.1; in 8.0 the last two words are `addr_off`).
    pub zero: [u32; 3],
}

impl StartupHeader {
    /// Decodes the header at the start of `b`, in either byte order:
    /// `None` unless the signature matches and the 256 bytes are present.
    pub fn parse(b: &[u8]) -> Option<StartupHeader> {
        let sig = b.bytes_at(0, 4)?;
        let e = if sig == STARTUP_SIGNATURE.to_le_bytes() {
            Endian::Little
        } else if sig == STARTUP_SIGNATURE.to_be_bytes() {
            Endian::Big
        } else {
            return None;
        };
        b.bytes_at(0, STARTUP_HEADER_SIZE)?;
        Some(StartupHeader {
            endian: e,
            version: b.u16_at(e, 4)?,
            flags1: b.u8_at(6)?,
            flags2: b.u8_at(7)?,
            header_size: b.u16_at(e, 8)?,
            machine: b.u16_at(e, 10)?,
            startup_vaddr: b.u32_at(e, 12)?,
            paddr_bias: b.u32_at(e, 16)?,
            image_paddr: b.u32_at(e, 20)?,
            ram_paddr: b.u32_at(e, 24)?,
            ram_size: b.u32_at(e, 28)?,
            startup_size: b.u32_at(e, 32)?,
            stored_size: b.u32_at(e, 36)?,
            imagefs_paddr: b.u32_at(e, 40)?,
            imagefs_size: b.u32_at(e, 44)?,
            preboot_size: b.u16_at(e, 48)?,
            zero0: b.u16_at(e, 50)?,
            zero: [b.u32_at(e, 52)?, b.u32_at(e, 56)?, b.u32_at(e, 60)?],
        })
    }

    /// Encodes the header (256 bytes; `info[]` is zero).
    pub fn encode(&self) -> [u8; STARTUP_HEADER_SIZE] {
        let mut buf = [0u8; STARTUP_HEADER_SIZE];
        let mut p = Put {
            buf: &mut buf,
            e: self.endian,
        };
        p.u32(0, STARTUP_SIGNATURE);
        p.u16(4, self.version);
        p.u8(6, self.flags1);
        p.u8(7, self.flags2);
        p.u16(8, self.header_size);
        p.u16(10, self.machine);
        p.u32(12, self.startup_vaddr);
        p.u32(16, self.paddr_bias);
        p.u32(20, self.image_paddr);
        p.u32(24, self.ram_paddr);
        p.u32(28, self.ram_size);
        p.u32(32, self.startup_size);
        p.u32(36, self.stored_size);
        p.u32(40, self.imagefs_paddr);
        p.u32(44, self.imagefs_size);
        p.u16(48, self.preboot_size);
        p.u16(50, self.zero0);
        p.u32(52, self.zero[0]);
        p.u32(56, self.zero[1]);
        p.u32(60, self.zero[2]);
        buf
    }

    /// The compression of the image (`Err(code)` for an unknown code).
    pub fn compression(&self) -> Result<Option<compress::Method>, u8> {
        compress::Method::from_flags1(self.flags1)
    }

    /// True when the trailers are v2 (SHA-512 + checksum).
    pub fn trailer_v2(&self) -> bool {
        self.flags1 & startup_flags::TRAILER_V2 != 0
    }

    /// Size of the startup trailer.
    pub fn trailer_size(&self) -> usize {
        if self.trailer_v2() {
            TRAILER_V2
        } else {
            TRAILER_V1
        }
    }
}

/// The image header (spec §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImageHeader {
    /// Byte order of the fields.
    pub endian: Endian,
    /// `flags` ([`image_flags`]).
    pub flags: u8,
    /// Header .. end of image trailer.
    pub image_size: u32,
    /// Header .. end of directory.
    pub hdr_dir_size: u32,
    /// Header .. first dirent.
    pub dir_offset: u32,
    /// Inodes (with flag bits) of up to 4 bootstrap executables.
    pub boot_ino: [u32; 4],
    /// Inode of the compiled boot script, 0 if none.
    pub script_ino: u32,
    /// `chain=` address.
    pub chain_paddr: u32,
    /// `mountflags`.
    pub mountflags: u32,
    /// The mountpoint (without its NUL).
    pub mountpoint: Vec<u8>,
}

impl ImageHeader {
    /// Size of the encoded header: `round_up(88 + len + 1, 4)`.
    pub fn size(&self) -> usize {
        round_up((IMAGE_HEADER_FIXED + self.mountpoint.len() + 1) as u64, 4) as usize
    }

    /// True when the trailer is v2.
    pub fn trailer_v2(&self) -> bool {
        self.flags & image_flags::TRAILER_V2 != 0
    }

    /// Size of the image trailer.
    pub fn trailer_size(&self) -> usize {
        if self.trailer_v2() {
            TRAILER_V2
        } else {
            TRAILER_V1
        }
    }

    /// Decodes the header at the start of `b`: `None` unless the signature
    /// matches and the fixed part and a NUL-terminated mountpoint are present.
    pub fn parse(b: &[u8]) -> Option<ImageHeader> {
        if b.bytes_at(0, 7)? != IMAGE_SIGNATURE {
            return None;
        }
        let flags = b.u8_at(7)?;
        let e = if flags & image_flags::BIGENDIAN != 0 {
            Endian::Big
        } else {
            Endian::Little
        };
        let rest = b.get(IMAGE_HEADER_FIXED..)?;
        // A mountpoint is a path: look for its NUL in the first 4 KiB only,
        // so that scanning a hostile file for headers stays linear.
        let nul = rest.iter().take(MAX_MOUNTPOINT + 1).position(|&c| c == 0)?;
        Some(ImageHeader {
            endian: e,
            flags,
            image_size: b.u32_at(e, 8)?,
            hdr_dir_size: b.u32_at(e, 12)?,
            dir_offset: b.u32_at(e, 16)?,
            boot_ino: [
                b.u32_at(e, 20)?,
                b.u32_at(e, 24)?,
                b.u32_at(e, 28)?,
                b.u32_at(e, 32)?,
            ],
            script_ino: b.u32_at(e, 36)?,
            chain_paddr: b.u32_at(e, 40)?,
            mountflags: b.u32_at(e, 84)?,
            mountpoint: rest[..nul].to_vec(),
        })
    }

    /// Encodes the header ([`Self::size`] bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.size()];
        let mut p = Put {
            buf: &mut buf,
            e: self.endian,
        };
        p.bytes(0, IMAGE_SIGNATURE);
        p.u8(7, self.flags);
        p.u32(8, self.image_size);
        p.u32(12, self.hdr_dir_size);
        p.u32(16, self.dir_offset);
        for (i, ino) in self.boot_ino.iter().enumerate() {
            p.u32(20 + 4 * i, *ino);
        }
        p.u32(36, self.script_ino);
        p.u32(40, self.chain_paddr);
        p.u32(84, self.mountflags);
        p.bytes(IMAGE_HEADER_FIXED, &self.mountpoint);
        buf
    }
}

/// The type-specific part of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirentKind<'a> {
    /// A regular file: where its data is (from the image header) and its size.
    File {
        /// Offset of the data from the image header.
        offset: u32,
        /// Size of the data.
        size: u32,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// The link's target.
        target: &'a [u8],
    },
    /// A device, FIFO or socket.
    Device {
        /// `dev`.
        dev: u32,
        /// `rdev`.
        rdev: u32,
    },
}

/// One directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirent<'a> {
    /// Inode number with its flag bits.
    pub ino: u32,
    /// `st_mode`.
    pub mode: u32,
    /// Group.
    pub gid: u32,
    /// Owner.
    pub uid: u32,
    /// Modification time.
    pub mtime: u32,
    /// Path relative to the mountpoint.
    pub path: &'a [u8],
    /// Type-specific fields.
    pub kind: DirentKind<'a>,
}

/// `S_IFMT` bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;

impl Dirent<'_> {
    /// The size of the encoded entry (a multiple of 4).
    pub fn encoded_size(&self) -> usize {
        let p = self.path.len() + 1;
        let raw = match self.kind {
            DirentKind::File { .. } | DirentKind::Device { .. } => 32 + p,
            DirentKind::Dir => 24 + p,
            DirentKind::Symlink { target } => 28 + p + target.len() + 1,
        };
        round_up(raw as u64, 4) as usize
    }

    /// Appends the encoded entry to `out`.
    pub fn encode(&self, e: Endian, out: &mut Vec<u8>) {
        let size = self.encoded_size();
        let start = out.len();
        out.resize(start + size, 0);
        let mut p = Put {
            buf: &mut out[start..],
            e,
        };
        p.u16(0, size as u16);
        p.u16(2, 0);
        p.u32(4, self.ino);
        p.u32(8, self.mode);
        p.u32(12, self.gid);
        p.u32(16, self.uid);
        p.u32(20, self.mtime);
        match self.kind {
            DirentKind::File { offset, size } => {
                p.u32(24, offset);
                p.u32(28, size);
                p.bytes(32, self.path);
            }
            DirentKind::Dir => p.bytes(24, self.path),
            DirentKind::Symlink { target } => {
                p.u16(24, (self.path.len() + 1) as u16);
                p.u16(26, target.len() as u16);
                p.bytes(28, self.path);
                p.bytes(28 + self.path.len() + 1, target);
            }
            DirentKind::Device { dev, rdev } => {
                p.u32(24, dev);
                p.u32(28, rdev);
                p.bytes(32, self.path);
            }
        }
    }
}

/// Why a directory entry could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DirentError {
    /// the entry's size is not a multiple of 4 or smaller than its fields
    #[error("its size {0} is not a multiple of 4 or is too small for its fields")]
    BadSize(u16),
    /// the entry runs past the end of the directory
    #[error("it runs past the end of the directory")]
    PastEnd,
    /// the path is not NUL-terminated inside the entry
    #[error("its path is not NUL-terminated inside the entry")]
    Unterminated,
    /// the symlink target lies outside the entry
    #[error("its symlink target lies outside the entry")]
    BadSymlink,
}

/// Decodes the entry at the start of `b` (the rest of the directory).
/// Returns `Ok(None)` at the zero record that ends the directory, else the
/// entry and its size.
pub fn parse_dirent(b: &[u8], e: Endian) -> Result<Option<(Dirent<'_>, usize)>, DirentError> {
    let size = b.u16_at(e, 0).ok_or(DirentError::PastEnd)?;
    if size == 0 {
        return Ok(None);
    }
    let n = size as usize;
    if !n.is_multiple_of(4) || n < DIRENT_COMMON + 4 {
        return Err(DirentError::BadSize(size));
    }
    let ent = b.get(..n).ok_or(DirentError::PastEnd)?;
    let f = |off| ent.u32_at(e, off).ok_or(DirentError::BadSize(size));
    let ino = f(4)?;
    let mode = f(8)?;
    let gid = f(12)?;
    let uid = f(16)?;
    let mtime = f(20)?;
    let cstr = |off: usize| -> Result<&[u8], DirentError> {
        let rest = ent.get(off..).ok_or(DirentError::BadSize(size))?;
        let nul = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or(DirentError::Unterminated)?;
        Ok(&rest[..nul])
    };
    let (path, kind) = match mode & S_IFMT {
        S_IFREG => (
            cstr(32)?,
            DirentKind::File {
                offset: f(24)?,
                size: f(28)?,
            },
        ),
        S_IFDIR => (cstr(24)?, DirentKind::Dir),
        S_IFLNK => {
            let off = ent.u16_at(e, 24).ok_or(DirentError::BadSize(size))? as usize;
            let len = ent.u16_at(e, 26).ok_or(DirentError::BadSize(size))? as usize;
            let path = cstr(28)?;
            let target = ent
                .get(28 + off..)
                .and_then(|t| t.get(..len))
                .ok_or(DirentError::BadSymlink)?;
            (path, DirentKind::Symlink { target })
        }
        _ => (
            cstr(32)?,
            DirentKind::Device {
                dev: f(24)?,
                rdev: f(28)?,
            },
        ),
    };
    Ok(Some((
        Dirent {
            ino,
            mode,
            gid,
            uid,
            mtime,
            path,
            kind,
        },
        n,
    )))
}
