//! The NRV2B decoder: bounds-checked, never panics, bounded output.

use super::bits::BitReader;
use super::{BitBuffer, END_GAMMA, FAR_OFFSET};
use crate::BlockError;

/// Decodes one NRV2B block from `src`, appending at most `limit` bytes to `out`.
///
/// Matches may only refer to bytes appended by this call (each block stands
/// alone). The whole of `src` must be used: data after the end marker is an
/// error, as it is for the UCL decompressor.
pub fn decompress(
    src: &[u8],
    bits: BitBuffer,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BlockError> {
    let start = out.len();
    let end = start.saturating_add(limit);
    let mut r = BitReader::new(src, bits);
    // The offset a "repeat" code refers to: 1 before the first match.
    let mut last_off: usize = 1;
    loop {
        // A run of literals: each is a 1 bit and then the byte.
        while r.bit()? == 1 {
            if out.len() == end {
                return Err(BlockError::OutputLimit);
            }
            out.push(r.byte()?);
        }
        // A match, or the end marker.
        let g = r.gamma(END_GAMMA)?;
        let off = if g == 2 {
            last_off
        } else {
            let low = r.byte()?;
            if g == END_GAMMA {
                if low != 0xff {
                    // (0xffffff << 8) | low + 1 is beyond any 32-bit offset.
                    return Err(BlockError::BadCode);
                }
                break;
            }
            let off = ((((g - 3) as usize) << 8) | usize::from(low)) + 1;
            last_off = off;
            off
        };
        let mut len = (r.bit()? << 1 | r.bit()?) as usize;
        if len == 0 {
            len = r.gamma(u32::MAX)? as usize + 2;
        }
        // The copy is len + 1 bytes, one more for offsets beyond 0xd00.
        let count = len + 1 + usize::from(off > FAR_OFFSET);
        let have = out.len() - start;
        if off > have {
            return Err(BlockError::LookbehindOverrun);
        }
        if count > end - out.len() {
            return Err(BlockError::OutputLimit);
        }
        copy_match(out, off, count);
    }
    if r.position() != src.len() {
        return Err(BlockError::InputNotConsumed);
    }
    Ok(())
}

/// Appends `count` bytes copied from `off` bytes back; the ranges may overlap
/// (a short offset repeats a pattern).
#[inline(always)]
fn copy_match(out: &mut Vec<u8>, off: usize, count: usize) {
    let from = out.len() - off;
    if off >= count {
        out.extend_from_within(from..from + count);
    } else {
        out.reserve(count);
        let mut left = count;
        // Each pass doubles the repeated pattern that can be copied at once.
        while left > 0 {
            let avail = out.len() - from;
            let n = avail.min(left);
            out.extend_from_within(from..from + n);
            left -= n;
        }
    }
}
