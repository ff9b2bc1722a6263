//! The three compressions of the QNX image filesystem, both directions.
//!
//! An IFS image may be stored compressed (mkifs `+compress`, `compress=N`):
//! the image region (image header .. image trailer) is replaced by one
//! compressed stream. The compression type lives in the startup header's
//! `flags1` (bits `0x1c`), see [`Method::from_flags1`].
//!
//! | [`Method`] | `flags1` | stream |
//! |---|---|---|
//! | [`Method::Zlib`] | `0x04` | one gzip member (RFC 1952), via `flate2` |
//! | [`Method::Lzo`]  | `0x08` | 64 KiB blocks, each LZO1X (via `lzokay`) |
//! | [`Method::Ucl`]  | `0x0c` | 64 KiB blocks, each UCL NRV2B ([`nrv2b`]) |
//!
//! **Block framing** (LZO and UCL): the input is cut into chunks of 64 KiB;
//! each chunk is compressed as one block written as a 2-byte big-endian
//! compressed length and the compressed bytes. A block whose compressed form
//! would not fit the 2-byte length is retried 4 KiB shorter (the rest of the
//! chunk becomes the next block), so incompressible data is still stored
//! compressed, in slightly smaller blocks: the format has no "stored" block.
//! The stream ends with a zero length (`00 00`).
//!
//! Compression is deterministic: for the same input, method and level the
//! output is the same on every machine and for every thread count
//! ([`Options::threads`]); blocks are compressed in parallel with rayon.
//!
//! Decompression never panics on hostile input, checks every length and
//! offset, stops at a caller-given output size ([`decompress`]'s `max_out`,
//! for an image the header's uncompressed size), and can stream to a writer
//! ([`decompress_to`]) holding only one block in memory.
//!
//! Modules are layered: `zlib`, [`lzo`] and [`nrv2b`] stand alone; `blocks`
//! (the IFS block framing) uses the codecs; this file chooses by [`Method`].
//! `crates/testkit/tests/layers.rs` checks that no module cycle appears.
//!
//! ```
//! use compress::{Method, Options};
//! let data = b"an image region, an image region, an image region".repeat(100);
//! let packed = compress::compress(Method::Ucl, &data, &Options::default());
//! assert!(packed.len() < data.len() / 10);
//! let unpacked = compress::decompress(Method::Ucl, &packed, data.len() as u64)?;
//! assert_eq!(unpacked, data);
//! # Ok::<(), compress::Error>(())
//! ```

mod blocks;
pub mod lzo;
pub mod nrv2b;
mod zlib;

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::AtomicU64;

/// A compression method of the IFS format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// zlib/deflate in one gzip stream (mkifs `compress=1`).
    Zlib,
    /// LZO1X in 64 KiB blocks (mkifs `compress=2`).
    Lzo,
    /// UCL NRV2B in 64 KiB blocks (mkifs `compress=3`, the default of `+compress`).
    Ucl,
}

impl Method {
    /// Every method, in `compress=N` order.
    pub const ALL: [Method; 3] = [Method::Zlib, Method::Lzo, Method::Ucl];

    /// The method numbered `n` as mkifs's `compress=N` and the startup
    /// header's compression field (`(flags1 >> 2) & 7`) number them.
    pub fn from_code(n: u8) -> Option<Method> {
        match n {
            1 => Some(Method::Zlib),
            2 => Some(Method::Lzo),
            3 => Some(Method::Ucl),
            _ => None,
        }
    }

    /// The number of this method (1 zlib, 2 LZO, 3 UCL).
    pub fn code(self) -> u8 {
        match self {
            Method::Zlib => 1,
            Method::Lzo => 2,
            Method::Ucl => 3,
        }
    }

    /// The startup header `flags1` compression bits of this method.
    pub fn flags1_bits(self) -> u8 {
        self.code() << 2
    }

    /// The method named by a startup header's `flags1`: `Ok(None)` when the
    /// image is not compressed, `Err(code)` for an unknown compression code.
    pub fn from_flags1(flags1: u8) -> Result<Option<Method>, u8> {
        match (flags1 & 0x1c) >> 2 {
            0 => Ok(None),
            n => Method::from_code(n).map(Some).ok_or(n),
        }
    }

    /// Whether the stream is cut into 64 KiB blocks with 2-byte lengths.
    pub fn is_blocked(self) -> bool {
        !matches!(self, Method::Zlib)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Zlib => "zlib",
            Method::Lzo => "LZO",
            Method::Ucl => "UCL",
        })
    }
}

/// How hard to compress, from 1 (fastest) to 10 (smallest output).
///
/// zlib uses levels 1–9 (10 is 9); UCL NRV2B uses all ten (longer match
/// searches as the level rises); the LZO compressor has a single level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u8);

impl Level {
    /// The fastest level.
    pub const FASTEST: Level = Level(1);
    /// The default: for UCL, output within 1% of the best level (and about
    /// the size of UCL 1.03's level 10) at about twice its speed.
    pub const DEFAULT: Level = Level(5);
    /// The smallest output.
    pub const BEST: Level = Level(10);

    /// The level `n`, if it is in 1..=10.
    pub fn new(n: u8) -> Option<Level> {
        (1..=10).contains(&n).then_some(Level(n))
    }

    /// The level as a number in 1..=10.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Level {
    fn default() -> Self {
        Level::DEFAULT
    }
}

/// Compression settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    /// How hard to compress.
    pub level: Level,
    /// Threads compressing blocks at once: 0 uses every core, 1 compresses
    /// on the calling thread. The output does not depend on it. zlib always
    /// uses one thread (its stream is not cut into blocks).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            level: Level::DEFAULT,
            threads: 0,
        }
    }
}

/// The largest output one LZO or UCL block may decompress to (64 MiB).
///
/// mkifs's blocks hold at most 64 KiB. This bound keeps the memory of
/// [`decompress_to`] bounded whatever `max_out` is.
pub const MAX_BLOCK_OUTPUT: usize = 64 << 20;

/// Why a compressed stream was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// the {method} stream ends at byte {offset}, before its end marker
    #[error("the {method} stream ends at byte {offset}, before its end marker")]
    Truncated {
        /// The method of the stream.
        method: Method,
        /// Stream length: where more bytes were expected.
        offset: usize,
    },
    /// {method} block {index} at byte {offset} is corrupt: {source}
    #[error("{method} block {index} at byte {offset} is corrupt: {source}")]
    Block {
        /// The method of the stream.
        method: Method,
        /// Block number, from 0.
        index: usize,
        /// Offset of the block's length field in the stream.
        offset: usize,
        /// What is wrong with it.
        source: BlockError,
    },
    /// the {method} stream decompresses to more than {limit} bytes
    #[error("the {method} stream decompresses to more than {limit} bytes")]
    TooLarge {
        /// The method of the stream.
        method: Method,
        /// The limit that was reached.
        limit: u64,
    },
    /// the gzip stream is corrupt: {0}
    #[error("the gzip stream is corrupt: {0}")]
    Gzip(#[source] io::Error),
    /// writing the decompressed data failed: {0}
    #[error("writing the decompressed data failed: {0}")]
    Write(#[source] io::Error),
}

/// What is wrong with one compressed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// the block ends before its end marker
    #[error("the block ends before its end marker")]
    InputOverrun,
    /// the block has data after its end marker
    #[error("the block has data after its end marker")]
    InputNotConsumed,
    /// a match refers to data before the start of the block
    #[error("a match refers to data before the start of the block")]
    LookbehindOverrun,
    /// an offset or length code is out of range
    #[error("an offset or length code is out of range")]
    BadCode,
    /// the block decompresses to more than allowed
    #[error("the block decompresses to more than allowed")]
    OutputLimit,
}

/// Where a decompressed stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// Bytes of the input the stream used, up to and including its end
    /// marker (`00 00` for blocks, the gzip trailer for zlib). For an IFS
    /// image, the padding and the outer trailer follow.
    pub consumed: usize,
    /// Bytes written.
    pub produced: u64,
}

/// Compresses `data` into a new stream.
pub fn compress(method: Method, data: &[u8], options: &Options) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    compress_into(method, data, options, &mut out);
    out
}

/// Appends the compressed stream of `data` to `out`.
pub fn compress_into(method: Method, data: &[u8], options: &Options, out: &mut Vec<u8>) {
    compress_counted(method, data, options, out, &AtomicU64::new(0));
}

/// [`compress_into`], adding to `done` the input bytes compressed as it
/// goes (at least every 64 KiB), so that another thread can show progress.
pub fn compress_counted(
    method: Method,
    data: &[u8],
    options: &Options,
    out: &mut Vec<u8>,
    done: &AtomicU64,
) {
    match method {
        Method::Zlib => zlib::compress(data, options.level, out, done),
        Method::Lzo | Method::Ucl => {
            let appended = blocks::compress(method, data, options, done, &mut |chunk| {
                out.extend_from_slice(chunk);
                Ok::<(), std::convert::Infallible>(())
            });
            if let Err(never) = appended {
                match never {}
            }
        }
    }
}

/// Compresses `data` to `out` as it goes, holding only a few MiB of
/// compressed blocks at a time. Returns the bytes written.
pub fn compress_to(
    method: Method,
    data: &[u8],
    options: &Options,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let mut written = 0u64;
    match method {
        Method::Zlib => {
            let mut buf = Vec::new();
            zlib::compress(data, options.level, &mut buf, &AtomicU64::new(0));
            out.write_all(&buf)?;
            written = buf.len() as u64;
        }
        Method::Lzo | Method::Ucl => {
            blocks::compress(method, data, options, &AtomicU64::new(0), &mut |chunk| {
                written += chunk.len() as u64;
                out.write_all(chunk)
            })?
        }
    }
    Ok(written)
}

/// Decompresses the stream at the start of `input`, producing at most
/// `max_out` bytes. Bytes after the stream's end are ignored (see
/// [`decompress_to`] for where it ended).
pub fn decompress(method: Method, input: &[u8], max_out: u64) -> Result<Vec<u8>, Error> {
    // Reserve for the usual case without trusting `max_out`.
    let hint = (input.len().saturating_mul(4)).min(max_out.min(1 << 30) as usize);
    let mut out = Vec::with_capacity(hint);
    decompress_to(method, input, max_out, &mut out)?;
    Ok(out)
}

/// Decompresses the stream at the start of `input` to `out`, producing at
/// most `max_out` bytes, holding at most one block (LZO, UCL) or 64 KiB (zlib)
/// in memory.
pub fn decompress_to(
    method: Method,
    input: &[u8],
    max_out: u64,
    out: &mut dyn Write,
) -> Result<StreamInfo, Error> {
    match method {
        Method::Zlib => zlib::decompress_to(input, max_out, out),
        Method::Lzo | Method::Ucl => blocks::decompress_to(method, input, max_out, out),
    }
}
