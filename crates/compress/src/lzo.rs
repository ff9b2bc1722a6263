//! LZO1X blocks, through the `lzokay` crate.
//!
//! `lzokay` (MIT) is a pure-Rust, `unsafe`-free LZO1X codec: its decoder
//! checks every input read, output write and look-behind distance, and
//! reports data left after the end marker, like liblzo2's
//! `lzo1x_decompress_safe`. Its output is standard LZO1X, which the QNX
//! startup library's `lzo1x_decompress` reads.

use crate::BlockError;

/// Appends the LZO1X encoding of `src` to `out`.
pub fn compress(src: &[u8], out: &mut Vec<u8>) {
    if src.is_empty() {
        // lzokay 2.0.1 writes `11 11 00 00` for empty input, which no LZO1X
        // decoder (lzokay's own included) accepts; the standard encoding of
        // nothing is the bare end-of-stream code.
        out.extend_from_slice(&[0x11, 0x00, 0x00]);
        return;
    }
    let start = out.len();
    out.resize(start + lzokay::compress::compress_worst_size(src.len()), 0);
    let mut dict = lzokay::compress::Dict::new();
    let n = lzokay::compress::compress_no_alloc(src, &mut out[start..], &mut dict)
        // The buffer has the size lzokay documents as always sufficient.
        .expect("LZO1X output fits its worst-case size");
    out.truncate(start + n);
}

/// Decodes one LZO1X block from `src`, appending at most `limit` bytes to `out`.
///
/// The output size of a block is not stored anywhere, so the decoder is run
/// on a 64 KiB buffer first and on larger ones (up to `limit`) only when a
/// block holds more.
pub fn decompress(src: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BlockError> {
    let start = out.len();
    let mut size = limit.min(64 * 1024 + 4096);
    loop {
        out.resize(start + size, 0);
        match lzokay::decompress::decompress(src, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(lzokay::Error::OutputOverrun) if size < limit => {
                size = size.saturating_mul(4).min(limit);
            }
            Err(e) => {
                out.truncate(start);
                return Err(match e {
                    lzokay::Error::OutputOverrun => BlockError::OutputLimit,
                    lzokay::Error::InputOverrun => BlockError::InputOverrun,
                    lzokay::Error::InputNotConsumed => BlockError::InputNotConsumed,
                    lzokay::Error::LookbehindOverrun => BlockError::LookbehindOverrun,
                    lzokay::Error::Error => BlockError::BadCode,
                });
            }
        }
    }
}
