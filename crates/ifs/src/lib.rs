//! The QNX image filesystem (IFS): format types shared by a zero-copy,
//! bounds-checked reader ([`read`]) and a writer from a buildfile
//! [`buildfile::Manifest`] ([`write`]), and the boot-script codec
//! ([`script`]).
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

pub mod checksum;
pub mod codes;
pub mod endian;
pub mod format;
pub mod read;
pub mod script;
pub mod write;

pub use endian::Endian;
pub use write::{Plan, WriteError, WriteOptions};

use buildfile::Manifest;
use std::io::Write;

/// What a build wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image region's plan (placement of every entry).
    pub plan: Plan,
    /// Bytes written in all.
    pub written: u64,
}

/// An image ready to be written: every entry placed, every size known,
/// every input that could fail checked (host files are read while writing).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The image region's plan.
    pub plan: Plan,
}

/// Plans the image of `m` without writing anything.
pub fn prepare(m: &Manifest, opts: &WriteOptions) -> Result<Prepared, WriteError> {
    let pp = write::PlaceParams {
        header_paddr: m.image.image.start.unwrap_or(0),
        page: m.image.page_size,
    };
    let plan = write::plan(m, opts, pp)?;
    Ok(Prepared { plan })
}

impl Prepared {
    /// Writes the image to `out`.
    pub fn write_to(self, out: &mut dyn Write) -> Result<Built, WriteError> {
        self.plan.write_region(out)?;
        let written = self.plan.image_size();
        Ok(Built {
            plan: self.plan,
            written,
        })
    }
}

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
