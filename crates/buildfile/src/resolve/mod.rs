//! From syntax to the Manifest: attributes in force, variables, host files,
//! the boot block and the boot script.

mod attributes;
mod boot;
mod dir;
mod entries;
mod finish;
mod inline;
mod lookup;
mod vars;

use crate::attrs::{self, AttrName, AttrSet, Perms, Setting};
use crate::bootfile::parse_bootfile;
use crate::codes;
use crate::host::{self, HostFs, SearchPath};
use crate::lexer::{self, Lexer, LineTok, Word};
use crate::manifest::mode::*;
use crate::parser::{self, Attr, AttrList, Buildfile, EntryLine, Item};
use crate::script::{self, env_var, is_assignment};
use crate::*;
use diag::{Diagnostic, FileId, SourceMap, Span};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// How modification times are set (mkifs `-n`, `-nn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Times {
    /// Host files keep their times; generated entries get the build time.
    #[default]
    Host,
    /// `-n`: generated entries (inline files, links, directories, the root,
    /// FIFOs) get time 0.
    ZeroGenerated,
    /// `-nn`: every time is 0.
    ZeroAll,
}

/// How to resolve a buildfile.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-r rootdir`: searched before `${QNX_TARGET}` in the default search path.
    pub root: Option<PathBuf>,
    /// `--no-host-files`: a host file that is missing is assumed to exist.
    pub no_host_files: bool,
    /// `-n` / `-nn`.
    pub times: Times,
    /// The build time given to generated entries (seconds since the epoch).
    pub now: u32,
    /// `SOURCE_DATE_EPOCH`: the build time, and the latest time any entry may
    /// have (host times after it are clamped to it).
    pub source_date_epoch: Option<u32>,
    /// The process environment (`QNX_TARGET`, `PROCESSOR`, `MKIFS_PATH`, ...).
    pub env: HashMap<String, String>,
    /// The directory relative host paths are found from; empty means the
    /// process's current directory (paths then stay relative, as written).
    pub cwd: PathBuf,
    /// When false, the host file system is never touched: every host file,
    /// bootfile and included buildfile is treated as missing (with
    /// `no_host_files`, assumed). For fuzzing and pure syntax checks.
    pub host_access: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            root: None,
            no_host_files: false,
            times: Times::Host,
            now: 0,
            source_date_epoch: None,
            env: HashMap::new(),
            cwd: PathBuf::new(),
            host_access: true,
        }
    }
}

impl Options {
    /// Options from this process: its environment, its current directory,
    /// the clock (or `SOURCE_DATE_EPOCH`).
    pub fn from_process() -> Options {
        let env: HashMap<String, String> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let sde = env
            .get("SOURCE_DATE_EPOCH")
            .and_then(|s| s.trim().parse::<u32>().ok());
        let now = sde.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
                .unwrap_or(0)
        });
        Options {
            env,
            now,
            source_date_epoch: sde,
            ..Options::default()
        }
    }
}

/// Entry type from `type=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileType {
    File,
    Dir,
    Link,
    Fifo,
}

/// `virtual=`/`physical=` as written.
#[derive(Debug, Clone)]
struct BootSpec {
    mode: BootMode,
    cpu: Option<String>,
    bootfile: String,
    args: Vec<String>,
    span: Span,
}

/// The attributes in force.
#[derive(Debug, Clone)]
struct State {
    autolink: bool,
    bigendian: Option<bool>,
    cd: Option<Rc<str>>,
    code_copy: bool,
    data_copy: bool,
    compress: Option<(u8, Span)>,
    dperms: Option<Perms>,
    dupignore: bool,
    filter: Option<Rc<str>>,
    followlink: bool,
    gid: Option<u32>,
    uid: Option<u32>,
    keeplinked: bool,
    keepsection: Vec<String>,
    linker: Option<Rc<str>>,
    modules: Vec<Module>,
    optional: bool,
    page_align: bool,
    perms: Perms,
    phys_align: Option<u64>,
    prefix: Option<Rc<str>>,
    raw: bool,
    relocs: bool,
    script: bool,
    search: Option<Rc<str>>,
    ftype: FileType,
    include: bool,
    boot: Option<BootSpec>,
    /// Attributes set explicitly so far (for `?`).
    set: AttrSet,
}

impl Default for State {
    fn default() -> State {
        State {
            autolink: true,
            bigendian: None,
            cd: None,
            code_copy: false,
            data_copy: false,
            compress: None,
            dperms: None,
            dupignore: false,
            filter: None,
            followlink: true,
            gid: None,
            uid: None,
            keeplinked: false,
            keepsection: Vec::new(),
            linker: None,
            modules: Vec::new(),
            optional: true,
            page_align: false,
            perms: Perms::Host,
            phys_align: None,
            prefix: None,
            raw: false,
            relocs: false,
            script: false,
            search: None,
            ftype: FileType::File,
            include: false,
            boot: None,
            set: AttrSet::default(),
        }
    }
}

impl State {
    fn file_attrs(&self) -> FileAttrs {
        FileAttrs {
            code_copy: self.code_copy,
            data_copy: self.data_copy,
            page_align: self.page_align,
            raw: self.raw,
            keeplinked: self.keeplinked,
            relocs: self.relocs,
            compress: false,
            phys_align: self.phys_align,
            filter: self
                .filter
                .as_deref()
                .filter(|f| *f != "none")
                .map(str::to_owned),
            keepsection: self.keepsection.clone(),
            linker: self.linker.as_deref().map(str::to_owned),
        }
    }
}

/// Image-level settings, the last value set anywhere wins.
#[derive(Debug, Default)]
struct ImageState {
    image: Option<AddrRange>,
    ram: Option<(AddrRange, Span)>,
    chain: Option<u64>,
    mount: Option<String>,
    compress: Option<(u8, Span)>,
    bigendian: Option<bool>,
    set: AttrSet,
}

/// What a host name was found as.
enum Found {
    File(PathBuf, std::fs::Metadata),
    Dir(PathBuf),
    Missing,
}

/// Appends the components of `path` to `out` (components joined by `/`):
/// empty ones and `.` are skipped, `..` removes the last one. False when a
/// `..` finds nothing to remove.
fn normalise_into(out: &mut String, path: &str) -> bool {
    let bytes = path.as_bytes();
    if is_normal(path) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&path[usize::from(bytes.first() == Some(&b'/'))..]);
        return true;
    }
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |i| start + i);
        match &path[start..end] {
            "" | "." => {}
            ".." => {
                if out.is_empty() {
                    return false;
                }
                out.truncate(out.bytes().rposition(|b| b == b'/').unwrap_or(0));
            }
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
        start = end + 1;
    }
    true
}

/// True when `path` is in normal form but for one leading `/`: not empty,
/// no `//`, no component starting with `.`, no trailing `/`.
fn is_normal(path: &str) -> bool {
    let bytes = path.as_bytes();
    let body = bytes.strip_prefix(b"/").unwrap_or(bytes);
    let mut prev = b'/';
    body.iter().all(|&b| {
        let ok = !(prev == b'/' && (b == b'/' || b == b'.'));
        prev = b;
        ok
    }) && prev != b'/'
}

/// The hash of an image path, for [`Resolver::push_entry`].
fn path_hash(path: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(path.as_bytes());
    h.finish()
}

/// Maximum depth of `${VAR}` expansion.
pub const MAX_EXPANSION_DEPTH: usize = 20;

/// Maximum length of one word after `${VAR}` expansion: a value that doubles
/// itself at each level would otherwise grow to megabytes within the depth
/// limit.
pub const MAX_EXPANSION_LEN: usize = 64 * 1024;

struct Resolver<'a> {
    map: &'a mut SourceMap,
    opts: &'a Options,
    diags: Vec<Diagnostic>,
    /// The attributes in force (shared with the entry being made: changed
    /// copy-on-write, see [`Resolver::globals_mut`]).
    globals: Rc<State>,
    /// A default State to leave in `globals` while it is being changed.
    spare: Rc<State>,
    img: ImageState,
    vars: FxHashMap<String, String>,
    reported_unset: HashSet<String>,
    fs: HostFs,
    search_cache: FxHashMap<String, Rc<SearchPath>>,
    /// The default search path and the `PROCESSOR` it was built for.
    default_search_cache: Option<(String, Rc<SearchPath>)>,
    entries: Vec<Entry>,
    /// Entries by the hash of their path: the last entry with that hash;
    /// `same_hash[i]` is the entry before `i` with the same hash (a chain,
    /// so that a path is stored once, in its entry).
    by_path: FxHashMap<u64, usize>,
    same_hash: Vec<usize>,
    script: Vec<ScriptCommand>,
    script_entry: Option<usize>,
    partitions: Vec<(String, u8)>,
    boot: Option<Boot>,
    alone_boot: Option<Span>,
    bootable: bool,
    root: Option<Entry>,
    include_depth: usize,
    /// Invalid attribute values reported so far (a line with one is dropped).
    bad_values: usize,
    /// The inline entry after a lone `virtual=` line (for B0203).
    lost_block: Option<Span>,
    /// The attributes not applied that have been said to be (once each).
    unapplied: AttrSet,
}

/// Resolves parsed buildfiles (the `-l` lines first, then the file) into a
/// Manifest. Returns the Manifest when there is no error, and every
/// diagnostic.
pub fn resolve(
    map: &mut SourceMap,
    files: &[Buildfile],
    opts: &Options,
) -> (Option<Manifest>, Vec<Diagnostic>) {
    resolve_owned(map, files.to_vec(), opts)
}

/// [`resolve`] taking the syntax trees, whose names become the Manifest's
/// without a copy.
pub(crate) fn resolve_owned(
    map: &mut SourceMap,
    mut files: Vec<Buildfile>,
    opts: &Options,
) -> (Option<Manifest>, Vec<Diagnostic>) {
    let entry_count = files
        .iter()
        .map(|f| f.items.len())
        .sum::<usize>()
        .min(1 << 20);
    let bootable = files.iter().flat_map(|f| &f.items).any(|i| match i {
        Item::Entry(e) => e.attrs.as_ref().is_some_and(|a| a.boot_attr().is_some()),
        Item::Attrs(_) => false,
    });
    let mut r = Resolver {
        map,
        opts,
        diags: Vec::new(),
        globals: Rc::new(State::default()),
        spare: Rc::new(State::default()),
        img: ImageState::default(),
        vars: FxHashMap::default(),
        reported_unset: HashSet::new(),
        fs: HostFs::new(),
        search_cache: FxHashMap::default(),
        default_search_cache: None,
        entries: Vec::with_capacity(entry_count),
        by_path: FxHashMap::with_capacity_and_hasher(entry_count, Default::default()),
        same_hash: Vec::with_capacity(entry_count),
        script: Vec::new(),
        script_entry: None,
        partitions: Vec::new(),
        boot: None,
        alone_boot: None,
        bootable,
        root: None,
        include_depth: 0,
        bad_values: 0,
        lost_block: None,
        unapplied: AttrSet::default(),
    };
    for f in &mut files {
        let src = r.map.file(f.file).shared_bytes();
        for item in &mut f.items {
            match item {
                Item::Attrs(list) => {
                    r.apply_global_list(list);
                }
                Item::Entry(e) => r.entry_line(&src, e),
            }
        }
    }
    let manifest = r.finish();
    let errors = r.diags.iter().any(Diagnostic::is_error);
    (if errors { None } else { Some(manifest) }, r.diags)
}

/// `CPU_BASE`: the CPU name without its byte-order part (`aarch64le` → `aarch64`).
fn cpu_base(cpu: &str) -> String {
    for suffix in ["le", "be"] {
        if let Some(b) = cpu.strip_suffix(suffix) {
            return b.to_string();
        }
        if let Some((a, rest)) = cpu.split_once(&format!("{suffix}-")) {
            return format!("{a}-{rest}");
        }
    }
    cpu.to_string()
}

#[cfg(test)]
mod tests {
    use super::cpu_base;

    #[test]
    fn cpu_base_strips_the_byte_order() {
        assert_eq!(cpu_base("aarch64le"), "aarch64");
        assert_eq!(cpu_base("x86_64"), "x86_64");
        assert_eq!(cpu_base("armle-v7"), "arm-v7");
        assert_eq!(cpu_base("ppcbe-spe"), "ppc-spe");
    }
}
