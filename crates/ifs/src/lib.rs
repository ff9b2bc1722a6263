//! The QNX image filesystem (IFS): format types shared by a zero-copy,
//! bounds-checked reader ([`read`]) and a writer from a buildfile
//! [`buildfile::Manifest`] ([`write`](mod@write)), and the boot-script codec
//! ([`script`]).
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`endian`], [`codes`], [`script`], [`link`], [`atomic`], [`meter`] | byte order; the I codes; the compiled boot script; the linker template; atomic output files; build progress |
//! | 2 | [`format`](mod@format), [`checksum`], [`elf`] | the on-disk structures; checksums and digests; ELF programs |
//! | 3 | [`read`], [`write`](mod@write) | the bounds-checked reader; the image-region writer |
//! | 4 | `image`, [`extract`], [`manifest`] | whole images (preboot, startup, compression); extraction; image → Manifest |
//! | 5 | [`rebuild`](mod@rebuild), [`filter`] | image → buildfile that builds it again; the bootfile's filter run on a written image |
//!
//! ```
//! let mut map = diag::SourceMap::new();
//! let src = b"/etc/motd = {\nhello\n}\n[type=link] /bin/sh = /proc/boot/ksh\n";
//! let (m, _) = buildfile::load(&mut map, &[], "t.build", src.to_vec(), &Default::default());
//! let image = ifs::build_to_vec(&m.unwrap(), &ifs::WriteOptions::default())?;
//! let c = ifs::read::open(&image).unwrap();
//! let region = c.image_bytes().unwrap();
//! let fs = ifs::read::Ifs::parse(&region).unwrap();
//! fs.verify().unwrap();
//! let names: Vec<_> = fs.entries().map(|e| e.unwrap().1.path.to_vec()).collect();
//! assert!(names.contains(&b"etc/motd".to_vec()));
//! # Ok::<(), ifs::WriteError>(())
//! ```

pub mod atomic;
pub mod checksum;
pub mod codes;
pub mod elf;
pub mod endian;
pub mod extract;
pub mod filter;
pub mod format;
mod image;
pub mod link;
pub mod manifest;
pub mod meter;
pub mod read;
pub mod rebuild;
pub mod script;
pub mod sniff;
pub mod write;

pub use endian::Endian;
pub use image::{Built, PostFilter, Prepared, prepare};
pub use meter::Meter;
pub use rebuild::{Rebuilt, rebuild};
pub use write::{Plan, WriteError, WriteOptions};

use buildfile::Manifest;
use std::io::Write;

/// Builds the image of `m` and writes it to `out`.
pub fn build(m: &Manifest, opts: &WriteOptions, out: &mut dyn Write) -> Result<Built, WriteError> {
    prepare(m, opts)?.write_to(out)
}

/// Builds the image of `m` in memory.
pub fn build_to_vec(m: &Manifest, opts: &WriteOptions) -> Result<Vec<u8>, WriteError> {
    let mut v = Vec::new();
    build(m, opts, &mut v)?;
    Ok(v)
}
