//! zlib: one gzip member, through `flate2`.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compression, GzBuilder, bufread::GzDecoder};

use crate::{Error, Level, Method, StreamInfo};

/// Appends a gzip member holding `data` to `out`. The header carries no
/// name and a zero time, so the output depends on the input only.
/// Compresses `data` as one gzip stream, adding to `done` the input bytes
/// consumed as it goes.
pub(crate) fn compress(data: &[u8], level: Level, out: &mut Vec<u8>, done: &AtomicU64) {
    let level = Compression::new(u32::from(level.get().min(9)));
    let mut enc = GzBuilder::new().mtime(0).write(out, level);
    // Writing into a Vec cannot fail.
    for piece in data.chunks(1 << 20) {
        enc.write_all(piece).expect("writing to a Vec");
        done.fetch_add(piece.len() as u64, Ordering::Relaxed);
    }
    enc.finish().expect("writing to a Vec");
}

pub(crate) fn decompress_to(
    input: &[u8],
    max_out: u64,
    out: &mut dyn Write,
) -> Result<StreamInfo, Error> {
    let mut dec = GzDecoder::new(input);
    let mut buf = vec![0u8; 64 * 1024];
    let mut produced = 0u64;
    loop {
        let n = dec.read(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::Truncated {
                    method: Method::Zlib,
                    offset: input.len(),
                }
            } else {
                Error::Gzip(e)
            }
        })?;
        if n == 0 {
            break;
        }
        produced += n as u64;
        if produced > max_out {
            return Err(Error::TooLarge {
                method: Method::Zlib,
                limit: max_out,
            });
        }
        out.write_all(&buf[..n]).map_err(Error::Write)?;
    }
    let rest = dec.into_inner();
    Ok(StreamInfo {
        consumed: input.len() - rest.len(),
        produced,
    })
}
