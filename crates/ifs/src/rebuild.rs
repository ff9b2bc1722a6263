//! An image back to a buildfile: the text that `hvhost build -nn` turns
//! into the same image again, referring to the entries extracted under a
//! tree (see [`crate::extract`]), and the few files the tree cannot hold
//! (the startup program, the bootfile with the preboot bytes, entries the
//! extraction had to leave out).
//!
//! The buildfile gives back everything the writer derives the image from:
//! byte order, compression, the image's address and size, the boot block
//! (startup and bootstrap programs with their arguments, the preboot area
//! and `paddr_bias` in a bootfile), the boot script (decoded and printed as
//! buildfile commands), and every entry in inode order with its type,
//! owner, group, permissions and the placement of its ELF code. Times are
//! not in the buildfile language: `-nn` zeroes them all, so an image whose
//! times are not zero is rebuilt equal in content, and [`Rebuilt::differences`]
//! says so, as it says for every other field that cannot come back.

use crate::format::*;
use crate::manifest::to_manifest;
use crate::read::{Container, Ifs, ReadError};
use crate::script;
use buildfile::display::quote;
use buildfile::{BootMode, EntryKind, FileRole, Manifest};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A buildfile for an image, and the helper files it names.
#[derive(Debug, Clone, Default)]
pub struct Rebuilt {
    /// The buildfile text.
    pub text: String,
    /// Files to write in the helper directory: name, bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// The `--format-version` to build with (8 for v2 trailers, else 7).
    pub format_version: u8,
    /// What a rebuild cannot give back (empty: it is byte-identical).
    pub differences: Vec<String>,
}

/// The name of the bootfile written to the helper directory (`rebuild.boot`).
pub const BOOTFILE: &str = "rebuild";

/// What the buildfile needs to know of one entry beyond the Manifest.
#[derive(Debug, Clone, Copy)]
struct Raw {
    ino: u32,
    /// Data offset from the image header (files).
    offset: Option<u32>,
}

/// The image's entries (root excluded) in the order [`to_manifest`] gives
/// them: by inode.
fn raw_entries(fs: &Ifs<'_>) -> Result<Vec<Raw>, ReadError> {
    let mut v = Vec::new();
    for e in fs.entries() {
        let (_, d) = e?;
        if d.path.is_empty() && matches!(d.kind, DirentKind::Dir) {
            continue;
        }
        let offset = match d.kind {
            DirentKind::File { offset, .. } => Some(offset),
            _ => None,
        };
        v.push(Raw { ino: d.ino, offset });
    }
    v.sort_by_key(|r| r.ino & !ino_flags::MASK);
    Ok(v)
}

/// The physical address of the image header, when the image says it: after
/// the startup area, or (an image without one) from a processed ELF file,
/// whose segments' `p_paddr` are where their bytes are.
fn header_paddr(c: &Container<'_>, m: &Manifest, raw: &[Raw]) -> Option<u64> {
    if let Some((_, s)) = &c.startup {
        return Some(s.image_paddr as u64 + s.startup_size as u64);
    }
    for (e, r) in m.entries.iter().zip(raw) {
        let (Some(f), Some(off)) = (e.file(), r.offset) else {
            continue;
        };
        let buildfile::DataSource::Inline { bytes } = &f.source else {
            continue;
        };
        if r.ino & ino_flags::PROCESSED_ELF == 0 || !f.is_elf_image() {
            continue;
        }
        let Ok(elf) = crate::elf::Elf::parse(bytes) else {
            continue;
        };
        let seg = elf.segments(bytes).ok().and_then(|s| {
            s.into_iter()
                .find(|s| s.p_type == crate::elf::PT_LOAD && s.filesz > 0)
        });
        if let Some(s) = seg {
            return Some(s.paddr.wrapping_sub(s.offset).wrapping_sub(off as u64));
        }
    }
    None
}

/// A word of a buildfile line: quoted when it would otherwise split or
/// read as an assignment, an inline block or an attribute list.
fn word(s: &str) -> String {
    if s.contains(['=', '{', '}', ']']) {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        quote(s)
    }
}

/// The attributes that place a file's data as the original image does.
fn placement(e: &buildfile::Entry, r: &Raw, header: Option<u64>, page: u64) -> Vec<String> {
    let Some(f) = e.file() else {
        return Vec::new();
    };
    let mut a = Vec::new();
    let processed = r.ino & ino_flags::PROCESSED_ELF != 0;
    let aligned = match (header, r.offset) {
        (Some(h), Some(o)) => {
            h.wrapping_add(o as u64).is_multiple_of(page.max(1)) && f.size.unwrap_or(0) > 0
        }
        _ => f.is_elf_image() && processed,
    };
    if f.elf.is_some() && !processed {
        a.push("+raw".to_string());
    }
    if f.is_elf_image() && processed {
        if !aligned {
            a.push("code=copy".into());
        }
        // Without `data=copy` it would run once (a writable segment).
        if e.runs_once() && r.ino & ino_flags::RUNONCE == 0 {
            a.push("data=copy".into());
        }
    } else if aligned && !matches!(f.role, FileRole::Bootstrap(_)) {
        a.push("+page_align".into());
    }
    a
}

/// `[type=… uid=… gid=… perms=…]` of an entry.
fn owner_attrs(kind: &str, e: &buildfile::Entry) -> Vec<String> {
    let perms = e.mode & 0o7777;
    let mut a = vec![
        format!("type={kind}"),
        format!("uid={}", e.uid),
        format!("gid={}", e.gid),
        format!("perms=0{perms:o}"),
    ];
    if kind == "dir" {
        a.push(format!("dperms=0{perms:o}"));
    }
    a
}

/// Where each file's bytes go: its place in the extracted tree, or a
/// helper file when the tree cannot hold it there (a path used twice, an
/// unsafe path, a path under a link or file).
struct Places {
    taken: HashSet<PathBuf>,
    not_dirs: HashSet<PathBuf>,
}

impl Places {
    /// Notes where entry `e` goes in the tree; its host path there when it
    /// is there (the extraction wrote it).
    fn host(&mut self, e: &buildfile::Entry, tree: &Path) -> Option<PathBuf> {
        let rel = crate::extract::safe_relative(e.path.as_bytes(), false).ok()?;
        let blocked = rel.ancestors().skip(1).any(|a| self.not_dirs.contains(a));
        let fresh = self.taken.insert(rel.clone());
        if !matches!(e.kind, EntryKind::Dir) {
            self.not_dirs.insert(rel.clone());
        }
        (!blocked && fresh).then(|| tree.join(rel))
    }
}

/// The lines of the image's global attributes.
fn globals(c: &Container<'_>, m: &Manifest, fs: &Ifs<'_>, header: Option<u64>) -> String {
    let mut out = String::new();
    let big = m.image.byte_order == crate::Endian::Big;
    let _ = writeln!(out, "[{}bigendian]", if big { '+' } else { '-' });
    if let Some(cm) = m.image.compression {
        let n = match cm {
            buildfile::Compression::Zlib => 1,
            buildfile::Compression::Lzo => 2,
            buildfile::Compression::Ucl => 3,
        };
        let _ = writeln!(out, "[compress={n}]");
    }
    let base = match &c.startup {
        Some((_, s)) => {
            let bias = (s.paddr_bias as i32).wrapping_neg() as i64;
            Some((s.image_paddr as i64 - s.preboot_size as i64 - bias) as u64)
        }
        None => header,
    };
    let size = fs.header.image_size;
    match base {
        Some(b) => {
            let _ = writeln!(out, "[image={b:#x}={size:#x}]");
        }
        None => {
            let _ = writeln!(out, "[image=={size:#x}]");
        }
    }
    let default_mount = if m.boot.is_some() { "/" } else { "" };
    if m.image.mountpoint != default_mount {
        let _ = writeln!(out, "[mount={}]", word(&m.image.mountpoint));
    }
    if m.image.chain != 0 {
        let _ = writeln!(out, "[chain={:#x}]", m.image.chain);
    }
    out
}

/// The bootfile: the preboot area's length, the bias and the page size,
/// and the preboot bytes after the `boot` marker.
fn bootfile(preboot: &[u8], s: &StartupHeader, page: u64) -> Vec<u8> {
    let bias = (s.paddr_bias as i32).wrapping_neg();
    let mut b = format!(
        "[\nlen={:#x}\npaddr_bias={bias}\npagesize={page:#x}\n]\n",
        s.preboot_size
    )
    .into_bytes();
    if !preboot.is_empty() {
        b.extend_from_slice(b"boot");
        b.extend_from_slice(preboot);
    }
    b
}

/// The program line of a boot program: attributes, variables, name, arguments.
fn program_line(attrs: &[String], p: &buildfile::BootProgram, name: &str) -> String {
    let mut w = Vec::new();
    if !attrs.is_empty() {
        w.push(format!("[{}]", attrs.join(" ")));
    }
    w.extend(
        p.env
            .iter()
            .map(|v| format!("{}={}", v.name, word(&v.value))),
    );
    w.push(word(name));
    w.extend(p.args.iter().map(|a| word(a)));
    w.join(" ")
}

/// Everything a buildfile is made of, gathered while it is written.
struct Writer<'a> {
    m: &'a Manifest,
    raw: Vec<Raw>,
    header: Option<u64>,
    tree: &'a Path,
    helper: &'a Path,
    places: Places,
    out: Rebuilt,
}

impl Writer<'_> {
    /// The host path of entry `i`'s bytes, adding a helper file if needed.
    fn host_of(&mut self, i: usize, bytes: &[u8]) -> PathBuf {
        let e = &self.m.entries[i];
        if let Some(p) = self.places.host(e, self.tree) {
            return p;
        }
        let name = format!("entry-{}", self.raw[i].ino & !ino_flags::MASK);
        self.out.files.push((name.clone(), bytes.to_vec()));
        self.helper.join(name)
    }

    /// The boot block, naming each bootstrap program's extracted file.
    fn boot_block(&mut self, c: &Container<'_>) {
        let (Some(boot), Some((at, s))) = (&self.m.boot, &c.startup) else {
            return;
        };
        let mode = match boot.mode {
            BootMode::Virtual => "virtual",
            BootMode::Physical => "physical",
        };
        let cpu = boot.cpu.clone().unwrap_or_else(|| "x86_64".into());
        let _ = writeln!(self.out.text, "[{mode}={cpu},{BOOTFILE}] boot = {{");
        let region = c.startup_region().unwrap_or(&[]);
        let code = region
            .get(STARTUP_HEADER_SIZE..region.len().saturating_sub(s.trailer_size()))
            .unwrap_or(&[]);
        let paddr = s.image_paddr.wrapping_add(STARTUP_HEADER_SIZE as u32);
        // The loaded code as a one-segment ELF at its address, entered
        // where the header says.
        let elf = crate::elf::write(&crate::elf::OneSegment {
            is64: false,
            endian: s.endian,
            e_type: crate::elf::ET_EXEC,
            machine: s.machine,
            entry: s.startup_vaddr.into(),
            addr: paddr.into(),
            flags: 7,
            code,
            bss: 0,
        });
        let sname = boot.startup.name.rsplit('/').next().unwrap_or("startup");
        let sname = if sname.is_empty() { "startup" } else { sname };
        self.out.files.push((sname.to_string(), elf));
        let host = self.helper.join(sname).display().to_string();
        let _ = writeln!(
            self.out.text,
            "    {}",
            program_line(&[], &boot.startup, &host)
        );
        let page = self.m.image.page_size;
        let bf = bootfile(&c.data[..*at], s, page);
        self.out.files.push((format!("{BOOTFILE}.boot"), bf));
        for p in &boot.bootstrap {
            let Some(i) = p.entry else { continue };
            let e = &self.m.entries[i];
            let bytes = match e.file().map(|f| &f.source) {
                Some(buildfile::DataSource::Inline { bytes }) => bytes.clone(),
                _ => Vec::new(),
            };
            let dir = e.path.rsplit_once('/').map_or("", |(d, _)| d);
            let mut attrs = owner_attrs("file", e);
            attrs.remove(0);
            attrs.push(format!("prefix={}", word(dir)));
            attrs.extend(placement(e, &self.raw[i], self.header, page));
            let host = self.host_of(i, &bytes).display().to_string();
            let _ = writeln!(self.out.text, "    {}", program_line(&attrs, p, &host));
        }
        self.out.text.push_str("}\n");
    }

    /// The line (or inline block) of entry `i`.
    fn entry(&mut self, i: usize) {
        let e = &self.m.entries[i];
        if e.file().is_none() {
            self.places.host(e, self.tree);
        }
        let target = word(&format!("/{}", e.path));
        let line = match &e.kind {
            EntryKind::Dir => format!("[{}] {target}", owner_attrs("dir", e).join(" ")),
            EntryKind::Fifo => format!("[{}] {target}", owner_attrs("fifo", e).join(" ")),
            EntryKind::Symlink { target: t } => {
                let a = owner_attrs("link", e).join(" ");
                format!("[{a}] {target} = {}", word(t))
            }
            EntryKind::File(f) if f.role == FileRole::Script => {
                let mut a = owner_attrs("file", e);
                a.push("+script".into());
                let mut s = format!("[{}] {target} = {{\n", a.join(" "));
                for cmd in &self.m.script {
                    let _ = writeln!(s, "    {cmd}");
                }
                s.push('}');
                s
            }
            EntryKind::File(f) => {
                let bytes = match &f.source {
                    buildfile::DataSource::Inline { bytes } => bytes.clone(),
                    _ => Vec::new(),
                };
                let mut a = owner_attrs("file", e);
                a.extend(placement(
                    e,
                    &self.raw[i],
                    self.header,
                    self.m.image.page_size,
                ));
                let host = self.host_of(i, &bytes).display().to_string();
                format!("[{}] {target} = {}", a.join(" "), word(&host))
            }
        };
        self.out.text.push_str(&line);
        self.out.text.push('\n');
    }
}

/// What differs between the image and what its buildfile builds, for the
/// fields the buildfile language cannot set.
fn differences(c: &Container<'_>, fs: &Ifs<'_>, m: &Manifest) -> Vec<String> {
    let mut d = Vec::new();
    let timed = m.entries.iter().filter(|e| e.mtime != 0).count();
    if timed > 0 || m.root.mtime != 0 {
        d.push(format!(
            "times: {timed} entries have a modification time; `-nn` builds them with 0"
        ));
    }
    if m.root.mode != S_IFDIR | 0o755 || m.root.uid != 0 || m.root.gid != 0 {
        d.push(format!(
            "the root directory: mode 0{:o} uid {} gid {}; a build gives 040755 0 0",
            m.root.mode, m.root.uid, m.root.gid
        ));
    }
    if let Some(bytes) = fs.script().ok().flatten()
        && script::compile(&m.script, &[]).ok().as_deref() != Some(bytes)
    {
        d.push("the boot script: its commands compile to other bytes".into());
    }
    if let Some((_, s)) = &c.startup
        && (s.flags2 != 0 || s.zero != [0; 3] || s.imagefs_paddr != 0)
    {
        d.push("the startup header: flags2, imagefs_paddr or the reserved words are set".into());
    }
    d
}

/// The buildfile of the image `c` (whose image filesystem is `fs`), naming
/// entries extracted under `tree` and helper files in `helper` (absolute
/// paths make a buildfile that builds from any directory).
pub fn rebuild(
    c: &Container<'_>,
    fs: &Ifs<'_>,
    tree: &Path,
    helper: &Path,
) -> Result<Rebuilt, ReadError> {
    let m = to_manifest(c, fs)?;
    let raw = raw_entries(fs)?;
    let header = header_paddr(c, &m, &raw);
    let v2 = fs.header.flags & image_flags::TRAILER_V2 != 0;
    let mut w = Writer {
        m: &m,
        raw,
        header,
        tree,
        helper,
        places: Places {
            taken: HashSet::new(),
            not_dirs: HashSet::new(),
        },
        out: Rebuilt {
            format_version: if v2 { 8 } else { 7 },
            differences: differences(c, fs, &m),
            ..Rebuilt::default()
        },
    };
    let _ = writeln!(
        w.out.text,
        "# Rebuilt from an image by `hvhost dump --buildfile`: build it with\n\
         # `hvhost build -nn{} THIS-FILE OUTPUT`.",
        if v2 { " --format-version 8" } else { "" }
    );
    w.out.text.push_str(&globals(c, &m, fs, header));
    let _ = writeln!(
        w.out.text,
        "[search={}]",
        word(&helper.display().to_string())
    );
    let first_boot = m.entries.iter().position(|e| {
        e.file()
            .is_some_and(|f| matches!(f.role, FileRole::Bootstrap(_)))
    });
    if m.boot.is_some() && first_boot.is_none() {
        w.boot_block(c);
    }
    for i in 0..m.entries.len() {
        if first_boot == Some(i) {
            w.boot_block(c);
        }
        let boot = m.entries[i]
            .file()
            .is_some_and(|f| matches!(f.role, FileRole::Bootstrap(_)));
        if !boot {
            w.entry(i);
        }
    }
    Ok(w.out)
}

/// Writes the helper files of `r` into `helper` (created if needed).
pub fn write_helpers(r: &Rebuilt, helper: &Path) -> Result<(), String> {
    std::fs::create_dir_all(helper).map_err(|e| diag::io::cannot("create", helper, &e))?;
    for (name, bytes) in &r.files {
        crate::extract::save(&helper.join(name), bytes)
            .map_err(|e| diag::io::cannot("write", &helper.join(name), &e))?;
    }
    Ok(())
}

/// Where [`write_beside`] put a buildfile.
#[derive(Debug, Clone)]
pub struct Written {
    /// The buildfile (`DIR.build`).
    pub buildfile: PathBuf,
    /// The helper directory (`DIR.rebuild`).
    pub helper: PathBuf,
    /// The rebuild.
    pub rebuilt: Rebuilt,
}

/// Writes the buildfile of an image whose entries were extracted into
/// `dir`: `DIR.build` beside it, naming the tree and the helper files in
/// `DIR.rebuild/` by absolute paths (so it builds from any directory).
pub fn write_beside(c: &Container<'_>, fs: &Ifs<'_>, dir: &Path) -> Result<Written, String> {
    let tree = std::fs::canonicalize(dir).map_err(|e| diag::io::cannot("find", dir, &e))?;
    let (Some(parent), Some(name)) = (tree.parent(), tree.file_name()) else {
        return Err(format!(
            "`{}` has no parent directory to write the buildfile beside it",
            tree.display()
        ));
    };
    let name = name.to_string_lossy();
    let buildfile = parent.join(format!("{name}.build"));
    let helper = parent.join(format!("{name}.rebuild"));
    let rebuilt = rebuild(c, fs, &tree, &helper).map_err(|e| e.to_string())?;
    write_helpers(&rebuilt, &helper)?;
    crate::extract::save(&buildfile, rebuilt.text.as_bytes())
        .map_err(|e| diag::io::cannot("write", &buildfile, &e))?;
    Ok(Written {
        buildfile,
        helper,
        rebuilt,
    })
}
