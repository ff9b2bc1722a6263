//! Byte order of an image: every multi-byte field is in the target's order.

use serde::Serialize;

/// The byte order of an image's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Little-endian (x86, x86_64, aarch64le, armle-v7).
    #[default]
    Little,
    /// Big-endian (`*be` targets).
    Big,
}

impl Endian {
    /// Reads a u16 from the first two bytes of `b` (which must hold them).
    pub fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    /// Reads a u32.
    pub fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    /// Reads a u64.
    pub fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }

    /// The bytes of a u16.
    pub fn put_u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a u32.
    pub fn put_u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    /// The bytes of a u64.
    pub fn put_u64(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

impl From<buildfile::ByteOrder> for Endian {
    fn from(b: buildfile::ByteOrder) -> Endian {
        match b {
            buildfile::ByteOrder::Little => Endian::Little,
            buildfile::ByteOrder::Big => Endian::Big,
        }
    }
}

/// Bounds-checked field access on a byte slice: every read returns `None`
/// when the field does not lie wholly inside the slice.
pub(crate) trait Fields {
    fn bytes_at(&self, off: usize, len: usize) -> Option<&[u8]>;
    fn u8_at(&self, off: usize) -> Option<u8> {
        self.bytes_at(off, 1).map(|b| b[0])
    }
    fn u16_at(&self, e: Endian, off: usize) -> Option<u16> {
        self.bytes_at(off, 2)
            .and_then(|b| b.try_into().ok())
            .map(|b| e.u16(b))
    }
    fn u32_at(&self, e: Endian, off: usize) -> Option<u32> {
        self.bytes_at(off, 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| e.u32(b))
    }
}

impl Fields for [u8] {
    fn bytes_at(&self, off: usize, len: usize) -> Option<&[u8]> {
        self.get(off..off.checked_add(len)?)
    }
}

/// Writes fields into a byte buffer (the writer's side of [`Fields`]); the
/// caller sizes the buffer, so an out-of-range write is a bug and panics.
pub(crate) struct Put<'a> {
    pub buf: &'a mut [u8],
    pub e: Endian,
}

impl Put<'_> {
    pub fn u8(&mut self, off: usize, v: u8) {
        self.buf[off] = v;
    }
    pub fn u16(&mut self, off: usize, v: u16) {
        self.buf[off..off + 2].copy_from_slice(&self.e.put_u16(v));
    }
    pub fn u32(&mut self, off: usize, v: u32) {
        self.buf[off..off + 4].copy_from_slice(&self.e.put_u32(v));
    }
    pub fn bytes(&mut self, off: usize, v: &[u8]) {
        self.buf[off..off + v.len()].copy_from_slice(v);
    }
}
