//! The writer: plans an image from a [`Manifest`] with mkifs's placement and
//! inode rules (spec §10), then streams it to any [`Write`], computing the
//! checksums (and SHA-512) on the way.

use crate::checksum::Checksum;
use crate::endian::Endian;
use crate::format::*;
use buildfile::{DataSource, Entry, EntryKind, FileRole, Manifest};
use diag::{Diagnostic, Span};
use sha2::{Digest, Sha512};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// How to write an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// SDP 8.0 v2 trailers (SHA-512 + checksum).
    pub trailer_v2: bool,
    /// Compression level (when the Manifest asks for compression).
    pub level: compress::Level,
    /// Compression threads (0: every core).
    pub threads: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            trailer_v2: false,
            level: compress::Level::DEFAULT,
            threads: 0,
        }
    }
}

/// Why an image could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// the contents of a file are not available
    #[error("the contents of `/{path}` are not available: {why}")]
    Unavailable {
        /// Target path.
        path: String,
        /// Why.
        why: String,
        /// The buildfile line.
        span: Span,
    },
    /// a host file cannot be read, or changed during the build
    #[error("cannot read `{host}` (for `/{path}`): {why}")]
    HostFile {
        /// Target path.
        path: String,
        /// Host path.
        host: PathBuf,
        /// Why.
        why: String,
        /// The buildfile line.
        span: Span,
    },
    /// the image is too large
    #[error("the image is too large: {why}")]
    TooLarge {
        /// Why.
        why: String,
    },
    /// the boot script cannot be compiled
    #[error("the boot script cannot be compiled: {source}")]
    Script {
        /// What is wrong.
        source: crate::script::CompileError,
        /// The script entry's line.
        span: Span,
    },
    /// a filter failed
    #[error("the filter `{filter}` of `/{path}` failed: {why}")]
    Filter {
        /// Target path.
        path: String,
        /// The command.
        filter: String,
        /// Why.
        why: String,
        /// The buildfile line.
        span: Span,
    },
    /// the bootfile's filter failed on the written image
    #[error(
        "the filter `{filter}` of the bootfile `{}` failed on the image `{}`: {why}",
        bootfile.display(),
        output.display()
    )]
    BootFilter {
        /// The bootfile that sets the filter.
        bootfile: PathBuf,
        /// The image being written (as the user named it).
        output: PathBuf,
        /// The command template.
        filter: String,
        /// Why.
        why: String,
        /// The bootfile's `filter=` setting.
        span: Span,
        /// The buildfile line that names the bootfile.
        named: Span,
    },
    /// a boot program cannot be used
    #[error("{0}")]
    Boot(BootError),
    /// writing the output failed
    #[error("writing the image failed: {0}")]
    Output(#[source] io::Error),
}

/// A problem with the boot block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootError {
    /// The diagnostic code.
    pub code: &'static diag::Code,
    /// The message.
    pub message: String,
    /// The line it concerns.
    pub span: Span,
    /// What to do.
    pub help: Option<String>,
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl WriteError {
    /// The diagnostic code of this error.
    pub fn code(&self) -> &'static diag::Code {
        use crate::codes::*;
        match self {
            WriteError::Unavailable { .. } => &I0101,
            WriteError::HostFile { .. } => &I0102,
            WriteError::TooLarge { .. } => &I0103,
            WriteError::Script { .. } => &I0104,
            WriteError::Filter { .. } | WriteError::BootFilter { .. } => &I0105,
            WriteError::Boot(b) => b.code,
            WriteError::Output(_) => &I0108,
        }
    }

    /// The error as a diagnostic pointing at the buildfile line concerned.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::new(self.code(), self.to_string());
        match self {
            WriteError::Unavailable { span, .. } => d
                .at(*span, "named here")
                .help("build on a machine that has the file, or without --no-host-files"),
            WriteError::HostFile { span, .. } => d.at(*span, "named here"),
            WriteError::Script { span, .. } => d.at(*span, "the script"),
            WriteError::Filter { span, .. } => d.at(*span, "filter set here"),
            WriteError::BootFilter { span, named, .. } => d
                .at(*span, "the filter is set here")
                .with(*named, "the bootfile is named here")
                .help("install the program, or build with --no-filter to keep the raw image"),
            WriteError::Boot(b) => {
                let d = d.at(b.span, "here");
                match &b.help {
                    Some(h) => d.help(h.clone()),
                    None => d,
                }
            }
            WriteError::TooLarge { .. } => d.help("remove files, or raise the image's limit"),
            WriteError::Output(_) => d,
        }
    }
}

/// Where an entry's bytes come from at write time.
#[derive(Debug, Clone)]
pub enum Data {
    /// Nothing (directories, symlinks, FIFOs, empty files).
    None,
    /// A host file of this size, copied as it is.
    Host(PathBuf, u64),
    /// Bytes prepared in memory (inline files, the script, filtered or
    /// linked files).
    Mem(Vec<u8>),
    /// A host file of this size, copied with some byte ranges replaced
    /// (a processed ELF file: its program headers, its argument block), so
    /// that large files are never held in memory.
    Patched(PathBuf, u64, Vec<(u64, Vec<u8>)>),
}

/// The byte ranges where `new` differs from `old` (same length), as
/// `(offset, new bytes)`, merging differences closer than 16 bytes.
pub fn diff_patches(old: &[u8], new: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < new.len() {
        if old.get(i) == Some(&new[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        let mut same = 0;
        let mut j = end;
        while j < new.len() && same < 16 {
            if old.get(j) == Some(&new[j]) {
                same += 1;
            } else {
                same = 0;
                end = j + 1;
            }
            j += 1;
        }
        out.push((start as u64, new[start..end].to_vec()));
        i = end;
    }
    out
}

impl Data {
    fn len(&self) -> u64 {
        match self {
            Data::None => 0,
            Data::Host(_, n) | Data::Patched(_, n, _) => *n,
            Data::Mem(v) => v.len() as u64,
        }
    }
}

/// One directory entry of the planned image.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Index in [`Manifest::entries`], `None` for the root.
    pub index: Option<usize>,
    /// Inode with flag bits.
    pub ino: u32,
    /// Offset of the data from the image header (0 for entries without data).
    pub offset: u64,
    /// Data size.
    pub size: u64,
    /// Page-aligned placement (an ELF used in place, or `+page_align`).
    pub aligned: bool,
    /// The data.
    pub data: Data,
}

/// A planned image: every entry placed, every size known.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Byte order.
    pub endian: Endian,
    /// The image header (with the final sizes).
    pub header: ImageHeader,
    /// Directory entries in directory order (the root first).
    pub dirents: Vec<Placed>,
    /// Paths (per manifest entry) and the root.
    paths: Vec<Vec<u8>>,
    /// Symlink targets, per manifest entry.
    targets: Vec<Vec<u8>>,
    /// Modes, owners and times, per manifest entry (root last).
    attrs: Vec<(u32, u32, u32, u32)>,
    /// Compression of the image region.
    pub compression: Option<compress::Method>,
    /// Options.
    pub options: WriteOptions,
}

fn entry_attrs(e: &Entry) -> (u32, u32, u32, u32) {
    (e.mode, e.gid, e.uid, e.mtime)
}

/// The data of an entry as the writer will store it (before any ELF processing).
pub fn entry_data(m: &Manifest, i: usize, e: &Entry) -> Result<Data, WriteError> {
    let EntryKind::File(f) = &e.kind else {
        return Ok(Data::None);
    };
    if let Some(filter) = &e.attrs.filter {
        return run_filter(e, f, filter).map(Data::Mem);
    }
    match &f.source {
        DataSource::Inline { bytes } => Ok(Data::Mem(bytes.clone())),
        DataSource::Script => {
            let env = m.boot.as_ref().map(|b| b.env.as_slice()).unwrap_or(&[]);
            let cmds = script_commands(m, i);
            crate::script::compile(cmds, env)
                .map(Data::Mem)
                .map_err(|source| WriteError::Script {
                    source,
                    span: e.span,
                })
        }
        DataSource::Host { path } => {
            let md = std::fs::metadata(path).map_err(|err| host_err(e, path, &err))?;
            if !md.is_file() {
                return Err(WriteError::HostFile {
                    path: e.path.clone(),
                    host: path.clone(),
                    why: "not a regular file".into(),
                    span: e.span,
                });
            }
            Ok(Data::Host(path.clone(), md.len()))
        }
        DataSource::Assumed { name } => Err(WriteError::Unavailable {
            path: e.path.clone(),
            why: format!("`{name}` was not found on this machine (--no-host-files)"),
            span: e.span,
        }),
    }
}

/// The script commands compiled into entry `i`: all of them go into the
/// first script entry (mkifs concatenates several scripts).
fn script_commands(m: &Manifest, i: usize) -> &[buildfile::ScriptCommand] {
    let first = m
        .entries
        .iter()
        .position(|e| e.file().is_some_and(|f| f.role == FileRole::Script));
    if first == Some(i) { &m.script } else { &[] }
}

fn host_err(e: &Entry, host: &Path, err: &io::Error) -> WriteError {
    WriteError::HostFile {
        path: e.path.clone(),
        host: host.to_path_buf(),
        why: diag::io::reason(err),
        span: e.span,
    }
}

fn run_filter(e: &Entry, f: &buildfile::FileData, filter: &str) -> Result<Vec<u8>, WriteError> {
    let err = |why: String| WriteError::Filter {
        path: e.path.clone(),
        filter: filter.to_string(),
        why,
        span: e.span,
    };
    let input: Vec<u8> = match &f.source {
        DataSource::Host { path } => std::fs::read(path).map_err(|x| err(diag::io::reason(&x)))?,
        DataSource::Inline { bytes } => bytes.clone(),
        _ => return Err(err("the file's contents are not available".into())),
    };
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(filter)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|x| err(diag::io::reason(&x)))?;
    let mut stdin = child.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let out = child
        .wait_with_output()
        .map_err(|x| err(diag::io::reason(&x)))?;
    let _ = feeder.join();
    if !out.status.success() {
        return Err(err(format!("it exited with {}", out.status)));
    }
    Ok(out.stdout)
}

/// True when mkifs places the entry on a page boundary: ELF executables and
/// shared objects used in place, bootstrap programs, `+page_align` files.
pub fn is_aligned(e: &Entry) -> bool {
    let Some(f) = e.file() else { return false };
    // A flat (non-ELF) bootstrap program is placed as a data file is, as
    // in mkifs, unless `+page_align` says otherwise.
    if e.attrs.page_align
        || (matches!(f.role, FileRole::Bootstrap(_)) && !e.attrs.raw && f.elf.is_some())
    {
        return true;
    }
    let Some(elf) = &f.elf else { return false };
    !e.attrs.raw && !e.attrs.code_copy && elf.is_image()
}

/// The inode flag bits of entry `e`.
fn ino_flag_bits(e: &Entry) -> u32 {
    let Some(f) = e.file() else { return 0 };
    let mut bits = 0;
    if f.is_elf_image() && !e.attrs.raw {
        bits |= ino_flags::PROCESSED_ELF;
    }
    if e.runs_once() {
        bits |= ino_flags::RUNONCE;
    }
    if matches!(f.role, FileRole::Bootstrap(_)) {
        bits |= ino_flags::BOOTSTRAP;
    }
    bits
}

/// Parameters of the placement that depend on the boot area.
#[derive(Debug, Clone, Copy)]
pub struct PlaceParams {
    /// Physical address of the image header (page alignment is of addresses).
    pub header_paddr: u64,
    /// Page size.
    pub page: u64,
    /// Bytes of the file before the image header (preboot and startup of a
    /// bootable image): `image=…%align` rounds the whole file, as mkifs does.
    pub prefix: u64,
}

/// Plans the image region of `m`.
pub fn plan(m: &Manifest, opts: &WriteOptions, pp: PlaceParams) -> Result<Plan, WriteError> {
    plan_with(m, opts, pp, |i, e, _| entry_data(m, i, e))
}

/// Plans with a caller-given data provider, called in buildfile order with
/// the physical address where a page-aligned entry will start (so that ELF
/// programs can be linked and processed for their place).
pub fn plan_with(
    m: &Manifest,
    opts: &WriteOptions,
    pp: PlaceParams,
    data_of: impl FnMut(usize, &Entry, Option<u64>) -> Result<Data, WriteError>,
) -> Result<Plan, WriteError> {
    let endian: Endian = m.image.byte_order;
    let mut flags = image_flags::INO_BITS;
    if endian == Endian::Big {
        flags |= image_flags::BIGENDIAN;
    }
    if opts.trailer_v2 {
        flags |= image_flags::TRAILER_V2;
    }
    let mut header = ImageHeader {
        endian,
        flags,
        mountpoint: m
            .image
            .mountpoint
            .trim_end_matches('\0')
            .as_bytes()
            .to_vec(),
        chain_paddr: m.image.chain as u32,
        ..ImageHeader::default()
    };
    let hsize = header.size() as u64;
    header.dir_offset = hsize as u32;
    let Directory {
        mut paths,
        targets,
        mut attrs,
        inos,
        size: mut dir_size,
    } = directory(m, &mut header)?;
    attrs.push(entry_attrs(&m.root));
    // The root (empty path, 28 bytes) and the end record.
    dir_size += 28 + 4;
    let data_start = hsize + dir_size;

    let (order, end) = place(m, pp, data_start, &inos, data_of)?;
    let image_size = image_size(m, opts, pp, end)?;
    header.image_size = image_size as u32;
    header.hdr_dir_size = data_start as u32;

    let root = Placed {
        index: None,
        ino: ROOT_INO,
        offset: 0,
        size: 0,
        aligned: false,
        data: Data::None,
    };
    let mut dirents = Vec::with_capacity(order.len() + 1);
    dirents.push(root);
    dirents.extend(order);
    paths.push(Vec::new());
    Ok(Plan {
        endian,
        header,
        dirents,
        paths,
        targets,
        attrs,
        compression: m.image.compression.map(|c| match c {
            buildfile::Compression::Zlib => compress::Method::Zlib,
            buildfile::Compression::Lzo => compress::Method::Lzo,
            buildfile::Compression::Ucl => compress::Method::Ucl,
        }),
        options: *opts,
    })
}

/// The directory's parts, entry by entry (the root not included).
struct Directory {
    paths: Vec<Vec<u8>>,
    targets: Vec<Vec<u8>>,
    attrs: Vec<(u32, u32, u32, u32)>,
    inos: Vec<u32>,
    /// Encoded size of the entries' dirents.
    size: u64,
}

/// The dirents of `m`'s entries; sets the header's script and boot inodes.
fn directory(m: &Manifest, header: &mut ImageHeader) -> Result<Directory, WriteError> {
    let mut paths: Vec<Vec<u8>> = Vec::with_capacity(m.entries.len() + 1);
    let mut targets: Vec<Vec<u8>> = Vec::with_capacity(m.entries.len());
    let mut attrs = Vec::with_capacity(m.entries.len() + 1);
    let mut dir_size = 0u64;
    let mut inos = Vec::with_capacity(m.entries.len());
    for (i, e) in m.entries.iter().enumerate() {
        let path = e.path.as_bytes().to_vec();
        let target = match &e.kind {
            EntryKind::Symlink { target } => target.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        let kind = match &e.kind {
            EntryKind::File(_) => DirentKind::File { offset: 0, size: 0 },
            EntryKind::Dir => DirentKind::Dir,
            EntryKind::Symlink { .. } => DirentKind::Symlink { target: &target },
            EntryKind::Fifo => DirentKind::Device { dev: 0, rdev: 0 },
        };
        let d = Dirent {
            ino: 0,
            mode: 0,
            gid: 0,
            uid: 0,
            mtime: 0,
            path: &path,
            kind,
        };
        let n = d.encoded_size();
        if n > u16::MAX as usize || target.len() > u16::MAX as usize {
            return Err(WriteError::TooLarge {
                why: format!("the directory entry of `/{}` would be {n} bytes", e.path),
            });
        }
        dir_size += n as u64;
        let ino = (i as u64 + 2) as u32 | ino_flag_bits(e);
        if let Some(f) = e.file() {
            match f.role {
                FileRole::Script if header.script_ino == 0 => header.script_ino = ino,
                FileRole::Bootstrap(k) if k < 4 => header.boot_ino[k] = ino,
                _ => {}
            }
        }
        inos.push(ino);
        paths.push(path);
        targets.push(target);
        attrs.push(entry_attrs(e));
    }
    Ok(Directory {
        paths,
        targets,
        attrs,
        inos,
        size: dir_size,
    })
}

/// Places every entry's data from `data_start`: returns the entries in
/// image order and where the data ends.
fn place(
    m: &Manifest,
    pp: PlaceParams,
    data_start: u64,
    inos: &[u32],
    mut data_of: impl FnMut(usize, &Entry, Option<u64>) -> Result<Data, WriteError>,
) -> Result<(Vec<Placed>, u64), WriteError> {
    // 1. Page-aligned entries, one after another, in buildfile order.
    let mut order: Vec<Placed> = Vec::with_capacity(m.entries.len());
    let mut end = data_start;
    let mut rest = Vec::with_capacity(m.entries.len());
    for (i, e) in m.entries.iter().enumerate() {
        let aligned = is_aligned(e);
        let addr = aligned.then(|| round_up(pp.header_paddr + end, pp.page.max(1)));
        let data = data_of(i, e, addr)?;
        let mut p = Placed {
            index: Some(i),
            ino: inos[i],
            offset: 0,
            size: data.len(),
            aligned,
            data,
        };
        if let Some(addr) = addr {
            p.offset = addr - pp.header_paddr;
            end = p.offset + p.size;
            order.push(p);
        } else {
            rest.push(p);
        }
    }
    // 2. The rest, largest first, into the first gap that holds it.
    rest.sort_by_key(|p| std::cmp::Reverse(p.size));
    for mut p in rest {
        let mut prev_end = data_start;
        let mut slot = None;
        for (k, q) in order.iter().enumerate() {
            if q.offset >= prev_end && q.offset - prev_end >= p.size {
                slot = Some(k);
                break;
            }
            prev_end = prev_end.max(q.offset + q.size);
        }
        match slot {
            Some(k) => {
                p.offset = prev_end;
                order.insert(k, p);
            }
            None => {
                p.offset = end;
                end += p.size;
                order.push(p);
            }
        }
    }
    Ok((order, end))
}

/// The image size: the data's end, the trailer and the padding of
/// `image=`, checked against its limits.
fn image_size(
    m: &Manifest,
    opts: &WriteOptions,
    pp: PlaceParams,
    end: u64,
) -> Result<u64, WriteError> {
    let align = m.image.image.align.unwrap_or(4).max(4);
    let tl = if opts.trailer_v2 {
        TRAILER_V2
    } else {
        TRAILER_V1
    } as u64;
    // As mkifs: the whole file, trailer included, is a multiple of the
    // alignment (the padding goes before the trailer).
    let mut image_size = round_up(pp.prefix + end + tl, align) - pp.prefix;
    if let Some(total) = m.image.image.total
        && total > image_size
    {
        image_size = round_up(total, 4);
    }
    if image_size > u32::MAX as u64 {
        return Err(WriteError::TooLarge {
            why: format!("{image_size} bytes; an image holds at most 4 GiB"),
        });
    }
    if let Some(max) = m.image.image.max
        && image_size > max
    {
        return Err(WriteError::TooLarge {
            why: format!("{image_size:#x} bytes, more than the {max:#x} that `image=` allows"),
        });
    }
    if let (Some(start), Some(last)) = (m.image.image.start, m.image.image.end)
        && pp.header_paddr + image_size > last.saturating_add(1).max(start)
    {
        return Err(WriteError::TooLarge {
            why: format!(
                "it ends at {:#x}, after the {last:#x} that `image={start:#x}-{last:#x}` allows",
                pp.header_paddr + image_size - 1
            ),
        });
    }
    Ok(image_size)
}

/// A writer that counts, sums and (optionally) hashes what passes through.
pub(crate) struct Sink<'w> {
    out: &'w mut dyn Write,
    pub pos: u64,
    pub sum: Checksum,
    pub sha: Option<Sha512>,
}

impl<'w> Sink<'w> {
    pub(crate) fn new(out: &'w mut dyn Write, e: Endian, sha: bool) -> Sink<'w> {
        Sink {
            out,
            pos: 0,
            sum: Checksum::new(e),
            sha: sha.then(Sha512::new),
        }
    }

    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.sum.update(b);
        if let Some(h) = self.sha.as_mut() {
            h.update(b);
        }
        self.pos += b.len() as u64;
        self.out.write_all(b)
    }

    pub(crate) fn zeros(&mut self, mut n: u64) -> io::Result<()> {
        const Z: [u8; 4096] = [0; 4096];
        while n > 0 {
            let k = n.min(Z.len() as u64) as usize;
            self.put(&Z[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    /// Ends the region with its trailer (v2: SHA-512 first).
    pub(crate) fn trailer(&mut self, e: Endian) -> io::Result<()> {
        if let Some(h) = self.sha.take() {
            let d = h.finalize();
            self.put(&d)?;
        }
        let ck = self.sum.cksum();
        self.put(&e.put_u32(ck))
    }
}

impl Plan {
    /// The size of the image region.
    pub fn image_size(&self) -> u64 {
        self.header.image_size as u64
    }

    /// The path of a placed entry.
    pub fn path(&self, p: &Placed) -> &[u8] {
        match p.index {
            Some(i) => &self.paths[i],
            None => &[],
        }
    }

    fn encode_dir(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.hdr_dir_size as usize);
        for p in &self.dirents {
            let k = p.index.unwrap_or(self.attrs.len() - 1);
            let (mode, gid, uid, mtime) = self.attrs[k];
            let kind = match mode & S_IFMT {
                S_IFREG => DirentKind::File {
                    offset: p.offset as u32,
                    size: p.size as u32,
                },
                S_IFDIR => DirentKind::Dir,
                S_IFLNK => DirentKind::Symlink {
                    target: p.index.map(|i| self.targets[i].as_slice()).unwrap_or(&[]),
                },
                _ => DirentKind::Device { dev: 0, rdev: 0 },
            };
            Dirent {
                ino: p.ino,
                mode,
                gid,
                uid,
                mtime,
                path: self.path(p),
                kind,
            }
            .encode(self.endian, &mut out);
        }
        out.extend_from_slice(&[0; 4]);
        out
    }

    /// Writes the image region (header .. trailer) to `out`.
    pub fn write_region(&self, out: &mut dyn Write) -> Result<(), WriteError> {
        let mut sink = Sink::new(out, self.endian, self.options.trailer_v2);
        let e = self.endian;
        sink.put(&self.header.encode())
            .map_err(WriteError::Output)?;
        sink.put(&self.encode_dir()).map_err(WriteError::Output)?;
        let mut by_offset: Vec<&Placed> = self.dirents.iter().filter(|p| p.size > 0).collect();
        by_offset.sort_by_key(|p| p.offset);
        let mut buf = vec![0u8; 1 << 20];
        for p in by_offset {
            sink.zeros(p.offset - sink.pos)
                .map_err(WriteError::Output)?;
            match &p.data {
                Data::None => {}
                Data::Mem(v) => sink.put(v).map_err(WriteError::Output)?,
                Data::Host(path, size) => {
                    self.copy_host(&mut sink, p, path, *size, &[], &mut buf)?
                }
                Data::Patched(path, size, patches) => {
                    self.copy_host(&mut sink, p, path, *size, patches, &mut buf)?
                }
            }
        }
        let tl = self.header.trailer_size() as u64;
        sink.zeros(self.image_size() - tl - sink.pos)
            .map_err(WriteError::Output)?;
        sink.trailer(e).map_err(WriteError::Output)?;
        Ok(())
    }

    fn copy_host(
        &self,
        sink: &mut Sink<'_>,
        p: &Placed,
        path: &Path,
        size: u64,
        patches: &[(u64, Vec<u8>)],
        buf: &mut [u8],
    ) -> Result<(), WriteError> {
        let target = String::from_utf8_lossy(self.path(p)).into_owned();
        let err = |why: String| WriteError::HostFile {
            path: target.clone(),
            host: path.to_path_buf(),
            why,
            span: Span::default(),
        };
        let mut f = File::open(path).map_err(|x| err(diag::io::reason(&x)))?;
        let mut left = size;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = f
                .read(&mut buf[..want])
                .map_err(|x| err(diag::io::reason(&x)))?;
            if n == 0 {
                return Err(err(format!(
                    "it shrank during the build ({size} bytes planned, {} read)",
                    size - left
                )));
            }
            let pos = size - left;
            let chunk = &mut buf[..n];
            for (off, bytes) in patches {
                // The part of the patch inside [pos, pos + n).
                let (s, e) = (*off, *off + bytes.len() as u64);
                let (lo, hi) = (s.max(pos), e.min(pos + n as u64));
                if lo < hi {
                    chunk[(lo - pos) as usize..(hi - pos) as usize]
                        .copy_from_slice(&bytes[(lo - s) as usize..(hi - s) as usize]);
                }
            }
            sink.put(chunk).map_err(WriteError::Output)?;
            left -= n as u64;
        }
        let mut one = [0u8; 1];
        if f.read(&mut one).map_err(|x| err(diag::io::reason(&x)))? != 0 {
            return Err(err(format!(
                "it grew during the build (planned {size} bytes)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::diff_patches;

    #[test]
    fn patches_rebuild_the_new_bytes() {
        let old: Vec<u8> = (0..200u8).collect();
        let mut new = old.clone();
        new[3] = 0xff;
        new[10] = 0xee; // merged with the first (closer than 16)
        new[100..108].copy_from_slice(b"ddpvbskr");
        new[199] = 0;
        let p = diff_patches(&old, &new);
        assert_eq!(p.len(), 3);
        let mut rebuilt = old.clone();
        for (off, b) in &p {
            rebuilt[*off as usize..*off as usize + b.len()].copy_from_slice(b);
        }
        assert_eq!(rebuilt, new);
        assert!(diff_patches(&old, &old).is_empty());
    }
}
