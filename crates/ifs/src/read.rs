//! The reader: finds the image in a file, decompresses it when needed, and
//! walks its directory. Every length and offset taken from the file is
//! checked before use; nothing here panics or allocates according to a
//! field's value (decompression stops at the header's uncompressed size and
//! at what the stream really holds).

use crate::checksum::sum_words;
use crate::endian::{Endian, Fields};
use crate::format::*;
use sha2::{Digest, Sha512};
use std::borrow::Cow;

/// Why an image could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// no image found
    #[error("no image filesystem found: neither `imagefs` at offset 0 nor a startup header")]
    NotAnImage,
    /// a header field points outside the file
    #[error(
        "the {what} at offset {offset:#x} says {field} = {value:#x}, which lies outside the {limit:#x} bytes available"
    )]
    OutOfBounds {
        /// Which structure.
        what: &'static str,
        /// Its offset in the file (or the image).
        offset: u64,
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The bytes that were available.
        limit: u64,
    },
    /// an inconsistent header
    #[error("the {what} is inconsistent: {why}")]
    BadHeader {
        /// Which structure.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// a directory entry is malformed
    #[error("the directory entry at image offset {offset:#x} is malformed: {source}")]
    BadDirent {
        /// Its offset from the image header.
        offset: u64,
        /// What is wrong.
        source: DirentError,
    },
    /// a file's data lies outside the image
    #[error(
        "the data of `{path}` ({size:#x} bytes at image offset {offset:#x}) lies outside the image ({limit:#x} bytes)"
    )]
    DataOutOfBounds {
        /// The entry's path.
        path: String,
        /// Offset from the image header.
        offset: u64,
        /// Size.
        size: u64,
        /// Image size.
        limit: u64,
    },
    /// a checksum does not match
    #[error("the {region} checksum is wrong: its words sum to {sum:#010x}, not 0")]
    Checksum {
        /// `startup`, `image`, `compressed image`.
        region: &'static str,
        /// What the words sum to.
        sum: u32,
    },
    /// a SHA-512 does not match
    #[error(
        "the {region} SHA-512 is wrong: the trailer says {stored}…, the data hashes to {actual}…"
    )]
    Sha512 {
        /// `startup`, `image`, `compressed image`.
        region: &'static str,
        /// First bytes of the stored digest, in hex.
        stored: String,
        /// First bytes of the computed digest, in hex.
        actual: String,
    },
    /// the compression type is unknown
    #[error(
        "the startup header names compression type {0}, which is not zlib (1), LZO (2) or UCL (3)"
    )]
    UnknownCompression(u8),
    /// decompression failed
    #[error("the compressed image cannot be decompressed: {0}")]
    Decompress(String),
}

impl ReadError {
    /// The diagnostic code of this error.
    pub fn code(&self) -> &'static diag::Code {
        use crate::codes::*;
        match self {
            ReadError::NotAnImage => &I0001,
            ReadError::OutOfBounds { .. } | ReadError::BadHeader { .. } => &I0002,
            ReadError::BadDirent { .. } | ReadError::DataOutOfBounds { .. } => &I0003,
            ReadError::Checksum { .. } => &I0004,
            ReadError::Sha512 { .. } => &I0005,
            ReadError::UnknownCompression(_) | ReadError::Decompress(_) => &I0006,
        }
    }
}

fn oob(what: &'static str, offset: u64, field: &'static str, value: u64, limit: u64) -> ReadError {
    ReadError::OutOfBounds {
        what,
        offset,
        field,
        value,
        limit,
    }
}

/// A whole image file: where its parts are.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// The file.
    pub data: &'a [u8],
    /// Offset and contents of the startup header, if any.
    pub startup: Option<(usize, StartupHeader)>,
    /// Offset of the image header (or of the compressed stream).
    pub image_at: usize,
    /// Compression of the image region.
    pub compression: Option<compress::Method>,
}

/// The bytes of an image region: borrowed from the file, or decompressed.
pub type RegionBytes<'a> = Cow<'a, [u8]>;

/// Finds the image in `data`: `imagefs` at offset 0, else a startup header
/// (either byte order, `zero` fields zero) at a 4-byte-aligned offset.
pub fn open(data: &[u8]) -> Result<Container<'_>, ReadError> {
    if data.starts_with(IMAGE_SIGNATURE) {
        return Ok(Container {
            data,
            startup: None,
            image_at: 0,
            compression: None,
        });
    }
    let mut at = 0usize;
    while at + STARTUP_HEADER_SIZE <= data.len() {
        if let Some(h) = StartupHeader::parse(&data[at..])
            && h.zero0 == 0
            && h.zero[0] == 0
        {
            return container_at(data, at, h);
        }
        at += 4;
    }
    // An image header anywhere (for example after an unknown preboot).
    let mut from = 0;
    while let Some(i) = find(&data[from..], IMAGE_SIGNATURE) {
        let at = from + i;
        if ImageHeader::parse(&data[at..]).is_some() {
            return Ok(Container {
                data,
                startup: None,
                image_at: at,
                compression: None,
            });
        }
        from = at + 1;
    }
    Err(ReadError::NotAnImage)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn container_at(data: &[u8], at: usize, h: StartupHeader) -> Result<Container<'_>, ReadError> {
    let len = data.len() as u64;
    let ss = h.startup_size as u64;
    let min = (STARTUP_HEADER_SIZE + h.trailer_size()) as u64;
    if ss < min || !ss.is_multiple_of(4) {
        return Err(ReadError::BadHeader {
            what: "startup header",
            why: format!("startup_size {ss:#x} is not a multiple of 4 of at least {min:#x}"),
        });
    }
    if at as u64 + ss > len {
        return Err(oob(
            "startup header",
            at as u64,
            "startup_size",
            ss,
            len - at as u64,
        ));
    }
    let compression = h.compression().map_err(ReadError::UnknownCompression)?;
    let mut image_at = at + ss as usize;
    if compression.is_none() && !data[image_at..].starts_with(IMAGE_SIGNATURE) {
        // Some writers pad between the startup and the image header.
        match find(&data[image_at..], IMAGE_SIGNATURE) {
            Some(i) => image_at += i,
            None => {
                return Err(ReadError::BadHeader {
                    what: "startup header",
                    why: "no `imagefs` header follows the startup area".into(),
                });
            }
        }
    }
    Ok(Container {
        data,
        startup: Some((at, h)),
        image_at,
        compression,
    })
}

impl<'a> Container<'a> {
    /// The preboot bytes before the startup header (empty if none).
    pub fn preboot(&self) -> &'a [u8] {
        match &self.startup {
            Some((at, _)) => &self.data[..*at],
            None => &self.data[..self.image_at],
        }
    }

    /// The startup region (header .. trailer), if any.
    pub fn startup_region(&self) -> Option<&'a [u8]> {
        let (at, h) = self.startup.as_ref()?;
        self.data.get(*at..*at + h.startup_size as usize)
    }

    /// The stored (possibly compressed) image region with its outer trailer,
    /// for a compressed image.
    pub fn compressed_region(&self) -> Result<Option<&'a [u8]>, ReadError> {
        let (Some((at, h)), Some(_)) = (&self.startup, self.compression) else {
            return Ok(None);
        };
        let end = *at as u64 + h.stored_size as u64;
        let len = self.data.len() as u64;
        if end > len || end < self.image_at as u64 + 4 {
            return Err(oob(
                "startup header",
                *at as u64,
                "stored_size",
                h.stored_size as u64,
                len - *at as u64,
            ));
        }
        Ok(Some(&self.data[self.image_at..end as usize]))
    }

    /// The image region (header .. trailer), decompressed if needed.
    pub fn image_bytes(&self) -> Result<RegionBytes<'a>, ReadError> {
        match (self.compression, &self.startup) {
            (Some(m), Some((_, h))) => {
                let stream = self.compressed_region()?.unwrap_or(&[]);
                let out = compress::decompress(m, stream, h.imagefs_size as u64).map_err(
                    |e| match e {
                        compress::Error::TooLarge { .. } => ReadError::BadHeader {
                            what: "startup header",
                            why: format!(
                                "it says imagefs_size = {:#x}, but the compressed image decompresses to more than that; the two must be equal",
                                h.imagefs_size
                            ),
                        },
                        e => ReadError::Decompress(e.to_string()),
                    },
                )?;
                Ok(Cow::Owned(out))
            }
            _ => Ok(Cow::Borrowed(&self.data[self.image_at..])),
        }
    }

    /// Checks the startup header's `imagefs_size` against the image region
    /// that was read: it must equal the image header's `image_size` (the
    /// uncompressed size, spec §2). Images without a startup header pass.
    pub fn verify_sizes(&self, fs: &Ifs<'_>) -> Result<(), ReadError> {
        let Some((at, h)) = &self.startup else {
            return Ok(());
        };
        let real = fs.header.image_size;
        if h.imagefs_size != real {
            return Err(ReadError::BadHeader {
                what: "startup header",
                why: format!(
                    "at offset {at:#x} it says imagefs_size = {:#x}, but the image is {real:#x} bytes{} (image_size of its image header); the two must be equal",
                    h.imagefs_size,
                    if self.compression.is_some() {
                        " uncompressed"
                    } else {
                        ""
                    }
                ),
            });
        }
        Ok(())
    }

    /// Verifies the startup region's and compressed region's trailers.
    pub fn verify_outer(&self) -> Result<(), ReadError> {
        if let (Some((_, h)), Some(r)) = (&self.startup, self.startup_region()) {
            verify_region(r, h.endian, h.trailer_v2(), "startup")?;
            if let Some(c) = self.compressed_region()? {
                verify_region(c, h.endian, h.trailer_v2(), "compressed image")?;
            }
        }
        Ok(())
    }
}

/// Verifies a region that ends with its trailer: the SHA-512 (v2) and the
/// word sum.
pub fn verify_region(r: &[u8], e: Endian, v2: bool, region: &'static str) -> Result<(), ReadError> {
    if v2 {
        let Some(body_len) = r.len().checked_sub(TRAILER_V2) else {
            return Err(ReadError::BadHeader {
                what: region,
                why: "too short for its trailer".into(),
            });
        };
        let actual = Sha512::digest(&r[..body_len]);
        let stored = &r[body_len..body_len + 64];
        if stored != actual.as_slice() {
            return Err(ReadError::Sha512 {
                region,
                stored: hex(&stored[..8]),
                actual: hex(&actual[..8]),
            });
        }
    }
    let sum = sum_words(r, e);
    if sum != 0 {
        return Err(ReadError::Checksum { region, sum });
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// An image region: the image header, its directory and its data.
#[derive(Debug, Clone)]
pub struct Ifs<'b> {
    /// The region, exactly `image_size` bytes.
    pub bytes: &'b [u8],
    /// The decoded header.
    pub header: ImageHeader,
}

impl<'b> Ifs<'b> {
    /// Checks the header of the region at the start of `b`.
    pub fn parse(b: &'b [u8]) -> Result<Ifs<'b>, ReadError> {
        let header = ImageHeader::parse(b).ok_or(ReadError::BadHeader {
            what: "image header",
            why: "no `imagefs` signature with a NUL-terminated mountpoint".into(),
        })?;
        let len = b.len() as u64;
        let size = header.image_size as u64;
        if size > len {
            return Err(oob("image header", 0, "image_size", size, len));
        }
        let tl = header.trailer_size() as u64;
        let hs = header.size() as u64;
        if !size.is_multiple_of(4) || size < hs + 4 + tl {
            return Err(ReadError::BadHeader {
                what: "image header",
                why: format!(
                    "image_size {size:#x} is not a multiple of 4 holding header, directory and trailer"
                ),
            });
        }
        let dir = header.dir_offset as u64;
        let hd = header.hdr_dir_size as u64;
        if dir < IMAGE_HEADER_FIXED as u64 || dir > hd || hd > size - tl {
            return Err(ReadError::BadHeader {
                what: "image header",
                why: format!(
                    "dir_offset {dir:#x} and hdr_dir_size {hd:#x} do not fit in image_size {size:#x}"
                ),
            });
        }
        Ok(Ifs {
            bytes: &b[..size as usize],
            header,
        })
    }

    /// Byte order.
    pub fn endian(&self) -> Endian {
        self.header.endian
    }

    /// Iterates over the directory: each item is the entry's offset (from
    /// the image header) and the entry, or the error that ends the walk.
    pub fn entries(&self) -> Entries<'b> {
        Entries {
            dir: &self.bytes[..self.header.hdr_dir_size as usize],
            at: self.header.dir_offset as usize,
            e: self.endian(),
            done: false,
        }
    }

    /// The data of a file entry (empty for other kinds), checked against the image.
    pub fn data(&self, d: &Dirent<'_>) -> Result<&'b [u8], ReadError> {
        let DirentKind::File { offset, size } = d.kind else {
            return Ok(&[]);
        };
        let limit = self.bytes.len() - self.header.trailer_size();
        self.bytes
            .bytes_at(offset as usize, size as usize)
            .filter(|_| offset as usize + size as usize <= limit)
            .ok_or_else(|| ReadError::DataOutOfBounds {
                path: String::from_utf8_lossy(d.path).into_owned(),
                offset: offset as u64,
                size: size as u64,
                limit: limit as u64,
            })
    }

    /// Verifies the image trailer (checksum and, for v2, SHA-512).
    pub fn verify(&self) -> Result<(), ReadError> {
        verify_region(self.bytes, self.endian(), self.header.trailer_v2(), "image")
    }

    /// The stored checksum word.
    pub fn stored_cksum(&self) -> u32 {
        let n = self.bytes.len();
        self.bytes.u32_at(self.endian(), n - 4).unwrap_or(0)
    }

    /// The entry whose inode (without flag bits) is `ino`.
    pub fn by_ino(&self, ino: u32) -> Option<Dirent<'b>> {
        let want = ino & !ino_flags::MASK;
        self.entries()
            .filter_map(Result::ok)
            .map(|(_, d)| d)
            .find(|d| d.ino & !ino_flags::MASK == want)
    }

    /// The compiled boot script's bytes, if the image has one.
    pub fn script(&self) -> Result<Option<&'b [u8]>, ReadError> {
        if self.header.script_ino == 0 {
            return Ok(None);
        }
        match self.by_ino(self.header.script_ino) {
            Some(d) => self.data(&d).map(Some),
            None => Ok(None),
        }
    }
}

/// Iterator over the directory entries of an [`Ifs`].
#[derive(Debug, Clone)]
pub struct Entries<'b> {
    dir: &'b [u8],
    at: usize,
    e: Endian,
    done: bool,
}

impl<'b> Iterator for Entries<'b> {
    type Item = Result<(usize, Dirent<'b>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.dir.get(self.at..).unwrap_or(&[]);
        if rest.len() < 2 {
            // The directory ends at `hdr_dir_size` without its zero record.
            self.done = true;
            return None;
        }
        match parse_dirent(rest, self.e) {
            Ok(Some((d, n))) => {
                let at = self.at;
                self.at += n;
                Some(Ok((at, d)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(source) => {
                self.done = true;
                Some(Err(ReadError::BadDirent {
                    offset: self.at as u64,
                    source,
                }))
            }
        }
    }
}
