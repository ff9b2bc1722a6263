//! The 64 KiB block framing of LZO and UCL streams, parallel compression,
//! and streaming decompression.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::nrv2b::{self, BitBuffer};
use crate::{BlockError, Error, Level, MAX_BLOCK_OUTPUT, Method, Options, StreamInfo, lzo};

/// Input is cut into chunks of this size; each is compressed on its own.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A block whose compressed form is longer than the 2-byte length allows is
/// retried this much shorter.
const SHRINK: usize = 4 * 1024;

/// The largest compressed block the 2-byte length can hold.
const MAX_STORED: usize = 0xffff;

/// Chunks compressed in parallel before their output is handed on (4 MiB of
/// input), so [`crate::compress_to`] holds little compressed data at once.
const BATCH: usize = 64;

/// Compresses one block (no framing).
fn compress_block(method: Method, data: &[u8], level: Level, out: &mut Vec<u8>) {
    match method {
        Method::Ucl => nrv2b::compress(data, BitBuffer::Byte, level, out),
        Method::Lzo => lzo::compress(data, out),
        Method::Zlib => unreachable!("zlib streams have no blocks"),
    }
}

/// Decodes one block (no framing).
fn decompress_block(
    method: Method,
    data: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), BlockError> {
    match method {
        Method::Ucl => nrv2b::decompress(data, BitBuffer::Byte, limit, out),
        Method::Lzo => lzo::decompress(data, limit, out),
        Method::Zlib => unreachable!("zlib streams have no blocks"),
    }
}

/// Compresses one chunk of at most [`CHUNK`] bytes into framed blocks.
fn encode_chunk(method: Method, chunk: &[u8], level: Level) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() / 2 + 16);
    let mut packed = Vec::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let mut len = rest.len();
        loop {
            packed.clear();
            compress_block(method, &rest[..len], level, &mut packed);
            if packed.len() <= MAX_STORED {
                break;
            }
            // Small inputs always fit, so this ends.
            len = if len > SHRINK { len - SHRINK } else { len / 2 };
        }
        out.extend_from_slice(&(packed.len() as u16).to_be_bytes());
        out.extend_from_slice(&packed);
        rest = &rest[len..];
    }
    out
}

enum Runner {
    Sequential,
    Global,
    Pool(rayon::ThreadPool),
}

impl Runner {
    fn new(threads: usize) -> Runner {
        match threads {
            0 => Runner::Global,
            1 => Runner::Sequential,
            n => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_or(Runner::Sequential, Runner::Pool),
        }
    }

    fn encode(&self, method: Method, batch: &[u8], level: Level, done: &AtomicU64) -> Vec<Vec<u8>> {
        let encode = |chunk: &[u8]| {
            let e = encode_chunk(method, chunk, level);
            done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            e
        };
        match self {
            Runner::Sequential => batch.chunks(CHUNK).map(encode).collect(),
            Runner::Global => batch.par_chunks(CHUNK).map(encode).collect(),
            Runner::Pool(pool) => pool.install(|| batch.par_chunks(CHUNK).map(encode).collect()),
        }
    }
}

/// Compresses `data` as a framed stream, handing the bytes to `sink` in
/// order and adding the input bytes compressed so far to `done`.
pub(crate) fn compress<E>(
    method: Method,
    data: &[u8],
    options: &Options,
    done: &AtomicU64,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let runner = if data.len() > CHUNK {
        Runner::new(options.threads)
    } else {
        Runner::Sequential
    };
    for batch in data.chunks(CHUNK * BATCH) {
        for encoded in runner.encode(method, batch, options.level, done) {
            sink(&encoded)?;
        }
    }
    sink(&[0, 0])
}

/// Decodes a framed stream to `out`, one block at a time.
pub(crate) fn decompress_to(
    method: Method,
    input: &[u8],
    max_out: u64,
    out: &mut dyn Write,
) -> Result<StreamInfo, Error> {
    let mut pos = 0usize;
    let mut produced = 0u64;
    let mut buf = Vec::new();
    let truncated = Error::Truncated {
        method,
        offset: input.len(),
    };
    for index in 0usize.. {
        let Some(&[hi, lo]) = input.get(pos..pos + 2) else {
            return Err(truncated);
        };
        let header = pos;
        pos += 2;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 {
            break;
        }
        let Some(block) = input.get(pos..pos + len) else {
            return Err(truncated);
        };
        let remaining = max_out - produced;
        let by_max_out = remaining <= MAX_BLOCK_OUTPUT as u64;
        let limit = remaining.min(MAX_BLOCK_OUTPUT as u64) as usize;
        buf.clear();
        decompress_block(method, block, limit, &mut buf).map_err(|source| {
            if source == BlockError::OutputLimit && by_max_out {
                Error::TooLarge {
                    method,
                    limit: max_out,
                }
            } else {
                Error::Block {
                    method,
                    index,
                    offset: header,
                    source,
                }
            }
        })?;
        out.write_all(&buf).map_err(Error::Write)?;
        produced += buf.len() as u64;
        pos += len;
    }
    Ok(StreamInfo {
        consumed: pos,
        produced,
    })
}
