//! Byte order of an image: every multi-byte field is in the target's order.

/// The byte order of an image's fields: the Manifest's target byte order.
pub use buildfile::ByteOrder as Endian;

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
    pub(crate) fn u8(&mut self, off: usize, v: u8) {
        self.buf[off] = v;
    }
    pub(crate) fn u16(&mut self, off: usize, v: u16) {
        self.buf[off..off + 2].copy_from_slice(&self.e.put_u16(v));
    }
    pub(crate) fn u32(&mut self, off: usize, v: u32) {
        self.buf[off..off + 4].copy_from_slice(&self.e.put_u32(v));
    }
    pub(crate) fn bytes(&mut self, off: usize, v: &[u8]) {
        self.buf[off..off + v.len()].copy_from_slice(v);
    }
}
