//! UCL NRV2B, the compression behind mkifs's `+compress` (the default type).
//!
//! An NRV2B block is a stream of codes read through a *bit buffer* (see
//! [`BitBuffer`]), interleaved with whole bytes:
//!
//! - **literal**: flag bit `1`, then the byte.
//! - **match**: flag bit `0`, then a gamma-coded number `g` (≥ 2):
//!   - `g == 2`: reuse the offset of the previous match (1 before any);
//!   - otherwise one more byte `b` follows and the offset is
//!     `((g - 3) << 8 | b) + 1`; the value `(g - 3) << 8 | b == 0xffffffff`
//!     (`g == 0x1000002`, `b == 0xff`) is the **end marker**.
//!
//!   Then two bits `l1 l0` give `m = l1 * 2 + l0`; if `m == 0`, a gamma number
//!   follows and `m = gamma + 2`. The match copies `m + 1` bytes, or `m + 2`
//!   when the offset is greater than `0xd00` (so far matches are at least
//!   3 bytes long). Copies may overlap their own output.
//! - **gamma code**: starting from `v = 1`, repeat: `v = 2v + data bit`,
//!   then a flag bit, `1` meaning "this was the last". It encodes every
//!   value ≥ 2 in `2 * floor(log2 v)` bits.
//!
//! The end marker ends the block; a block must be used up exactly.
//!
//! These are the facts of the published NRV2B format (UCL 1.03,
//! `ucl_nrv2b_decompress_8` / `_le32`); this implementation is written from
//! them, not from UCL's code.

mod bits;
mod decode;
mod encode;

pub use decode::decompress;
pub use encode::compress;

/// Offsets above this cost one more byte of match length (`M2_MAX_OFFSET`).
pub const FAR_OFFSET: usize = 0xd00;

/// The gamma value of the end marker's high part.
const END_GAMMA: u32 = 0x0100_0002;

/// The largest offset a match can have (the one above it is the end marker).
pub const MAX_OFFSET: usize = 0xffff_ff00;

/// How the decoder holds its flag and gamma bits.
///
/// Both hand out bits from the most significant down; they differ in how many
/// bytes are loaded at a time, and so in where those bytes sit between the
/// literal and offset bytes of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BitBuffer {
    /// One byte at a time (UCL's `_8` decompressors). **This is what QNX
    /// uses**: the startup library's `uncompress_ucl` calls
    /// `ucl_nrv2b_decompress_8` on each block.
    Byte,
    /// A 32-bit word loaded little-endian (UCL's `_le32` decompressors, as
    /// used by UPX on x86). Not used in IFS images; offered for other data.
    Le32,
}

impl BitBuffer {
    /// Bytes loaded per refill.
    pub(crate) fn width(self) -> usize {
        match self {
            BitBuffer::Byte => 1,
            BitBuffer::Le32 => 4,
        }
    }
}

#[cfg(test)]
mod tests;
