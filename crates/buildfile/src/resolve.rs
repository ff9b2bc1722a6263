//! From syntax to the Manifest: attributes in force, variables, host files,
//! the boot block and the boot script.

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

impl Resolver<'_> {
    // ----- attributes -------------------------------------------------------

    /// An attribute-only line: changes the globals.
    fn apply_global_list(&mut self, list: &AttrList) {
        let mut g = std::mem::replace(&mut self.globals, self.spare.clone());
        // Copied only if an entry still shares it.
        self.apply_list(Rc::make_mut(&mut g), list, true);
        self.globals = g;
    }

    fn apply_list(&mut self, st: &mut State, list: &AttrList, global: bool) {
        for a in &list.attrs {
            self.apply(st, a, list, global);
        }
    }

    fn bad_value(&mut self, span: Span, msg: String, help: &str) {
        self.bad_values += 1;
        self.diags.push(
            Diagnostic::new(&codes::B0205, msg)
                .at(span, "not a valid value here")
                .help(help.to_string()),
        );
    }

    fn apply(&mut self, st: &mut State, a: &Attr, list: &AttrList, global: bool) {
        if a.conditional && (st.set.contains(a.name) || self.img.set.contains(a.name)) {
            return;
        }
        let on = matches!(a.setting, Setting::On);
        let value = match &a.setting {
            Setting::Value(w) => Some((self.expand(w), w.span)),
            _ => None,
        };
        let v = value.as_ref().map(|(t, _)| &**t).unwrap_or("");
        let vspan = value.as_ref().map(|(_, s)| *s).unwrap_or(a.span);
        match a.name {
            AttrName::Autolink => st.autolink = on,
            AttrName::Autoso => {
                if attrs::choose(v, &["list", "add"]).is_none() {
                    self.bad_value(vspan, format!("`autoso={v}` is neither `list` nor `add`"), "write `autoso=list` or `autoso=add`");
                }
            }
            AttrName::Bigendian => {
                st.bigendian = Some(on);
                self.img.bigendian = Some(on);
            }
            AttrName::Cd => st.cd = Some(v.into()),
            AttrName::Chain => match attrs::parse_u64(v) {
                Some(n) => self.img.chain = Some(n),
                None => self.bad_value(vspan, format!("`chain={v}` is not an address"), "write an address such as `chain=0x200000`"),
            },
            AttrName::Code | AttrName::Data => {
                let copy = match attrs::choose(v, &["uip", "copy"]) {
                    Some("copy") => true,
                    Some(_) => false,
                    None => {
                        self.bad_value(vspan, format!("`{}={v}` is neither `uip` nor `copy`", a.name.as_str()), "write `uip` (used in place) or `copy`");
                        return;
                    }
                };
                if a.name == AttrName::Code {
                    st.code_copy = copy;
                } else {
                    st.data_copy = copy;
                }
            }
            AttrName::Compress => {
                let c = match &a.setting {
                    Setting::On => Some(3),
                    Setting::Off => None,
                    Setting::Value(_) => match v {
                        "1" | "2" | "3" => v.parse::<u8>().ok(),
                        "0" => None,
                        _ => {
                            self.bad_value(vspan, format!("`compress={v}` is not a compression method"), "1 is zlib, 2 LZO, 3 UCL (the default of `+compress`)");
                            return;
                        }
                    },
                };
                st.compress = c.map(|c| (c, a.span));
                self.img.compress = st.compress;
            }
            AttrName::Dperms | AttrName::Perms => match attrs::parse_perms(v) {
                Ok(p) => {
                    if a.name == AttrName::Perms {
                        st.perms = p;
                    } else {
                        st.dperms = Some(p);
                    }
                }
                Err(e) => self.bad_value(vspan, e, "write an octal mode (`0755`), `*` for the host file's, or symbolic changes (`a+x`)"),
            },
            AttrName::Dupignore => st.dupignore = on,
            AttrName::Filter => st.filter = Some(v.into()),
            AttrName::Followlink => st.followlink = on,
            AttrName::Gid | AttrName::Uid => {
                let id = if v == "*" {
                    None
                } else {
                    match attrs::parse_u64(v).and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => Some(n),
                        None => {
                            self.bad_value(vspan, format!("`{}={v}` is not a user or group id", a.name.as_str()), "write a number, or `*` for the host file's owner");
                            return;
                        }
                    }
                };
                if a.name == AttrName::Uid {
                    st.uid = id;
                } else {
                    st.gid = id;
                }
            }
            AttrName::Image | AttrName::Ram => match attrs::parse_range(v) {
                Ok(r) => {
                    if a.name == AttrName::Image {
                        self.img.image = Some(r);
                    } else {
                        self.img.ram = Some((r, a.span));
                    }
                }
                Err(e) => self.bad_value(vspan, format!("`{}={v}`: {e}", a.name.as_str()), "write `addr[-end][,max][=total][%align]`, e.g. `image=0x80000`"),
            },
            AttrName::Include => st.include = on,
            AttrName::Keeplinked => st.keeplinked = on,
            AttrName::Keepsection => {
                st.keepsection = v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
            }
            AttrName::Linker => st.linker = Some(v.into()),
            AttrName::Module => {
                if v.is_empty() {
                    self.bad_value(vspan, "`module=` names no module".into(), "write `module=NAME`, e.g. `module=qvm`");
                } else {
                    st.modules.push(Module {
                        name: v.to_string(),
                        span: a.span,
                    });
                }
            }
            AttrName::Mount => self.img.mount = Some(v.to_string()),
            AttrName::Optional => st.optional = on,
            AttrName::PageAlign => st.page_align = on,
            AttrName::PhysAlign => match attrs::parse_u64(v) {
                Some(n) if n.is_power_of_two() => st.phys_align = Some(n),
                _ => self.bad_value(vspan, format!("`phys_align={v}` is not a power of two"), "write a power of two, e.g. `phys_align=64k`"),
            },
            AttrName::Prefix => st.prefix = Some(v.trim_matches('/').into()),
            AttrName::Raw => st.raw = on,
            AttrName::Relocs => st.relocs = on,
            AttrName::Script => st.script = on,
            AttrName::Search => st.search = Some(v.into()),
            AttrName::Type => {
                st.ftype = match attrs::choose(v, &["file", "dir", "link", "fifo"]) {
                    Some("file") => FileType::File,
                    Some("dir") => FileType::Dir,
                    Some("link") => FileType::Link,
                    Some("fifo") => FileType::Fifo,
                    _ => {
                        self.bad_value(vspan, format!("`type={v}` is not an entry type"), "the types are `file`, `dir`, `link` and `fifo`");
                        return;
                    }
                }
            }
            AttrName::Virtual | AttrName::Physical => {
                let mut words = v.split_whitespace();
                let first = words.next().unwrap_or("");
                let (cpu, bootfile) = match first.split_once(',') {
                    Some((c, b)) => (Some(c.to_string()), b.to_string()),
                    None => (None, first.to_string()),
                };
                if bootfile.is_empty() {
                    self.bad_value(vspan, format!("`{}={v}` names no bootfile", a.name.as_str()), "write `[cpu,]bootfile`, e.g. `virtual=x86_64,multiboot`");
                    return;
                }
                let mut args: Vec<String> = words.map(str::to_owned).collect();
                args.extend(list.bootfile_args.iter().map(|w| w.text.clone()));
                if let Some(c) = &cpu {
                    self.vars.insert("PROCESSOR".into(), c.clone());
                    self.vars.insert("CPU_BASE".into(), cpu_base(c));
                }
                st.boot = Some(BootSpec {
                    mode: if a.name == AttrName::Virtual {
                        BootMode::Virtual
                    } else {
                        BootMode::Physical
                    },
                    cpu,
                    bootfile,
                    args,
                    span: a.span,
                });
                if global {
                    self.alone_boot.get_or_insert(a.span);
                }
            }
        }
        st.set.insert(a.name);
        if matches!(
            a.name,
            AttrName::Image
                | AttrName::Ram
                | AttrName::Chain
                | AttrName::Mount
                | AttrName::Compress
                | AttrName::Bigendian
        ) {
            self.img.set.insert(a.name);
        }
    }

    // ----- variables ----------------------------------------------------------

    fn var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.opts.env.get(name) {
            return Some(v.clone());
        }
        match name {
            // The path-list separator of the build host.
            "PFS" => Some(":".into()),
            "MKIFS_PATH" => Some(
                self.default_search()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        }
    }

    /// Expands the `${...}` parts of a word. A loop or a runaway expansion
    /// is reported once (B0208) and the word keeps what was expanded so far.
    fn expand<'w>(&mut self, w: &'w Word) -> Cow<'w, str> {
        let Some(parts) = &w.parts else {
            return Cow::Borrowed(&w.text);
        };
        let mut out = String::with_capacity(w.text.len() + 64);
        for p in parts {
            match p {
                lexer::Part::Lit(s) => out.push_str(s),
                lexer::Part::Var { name, span } => {
                    if !self.expand_var(name, *span, 0, &mut out) {
                        break;
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// [`Self::expand`] giving a `String`: the word's own when it has no
    /// `${...}` (the word is left empty).
    fn expand_owned(&mut self, w: &mut Word) -> String {
        if w.parts.is_none() {
            return std::mem::take(&mut w.text);
        }
        self.expand(w).into_owned()
    }

    /// Appends the value of `name` to `out`, expanding the `${...}` it holds.
    /// Returns false (after reporting B0208) when the expansion is too deep
    /// or too long, so that the caller stops.
    fn expand_var(&mut self, name: &str, span: Span, depth: usize, out: &mut String) -> bool {
        let problem = if depth >= MAX_EXPANSION_DEPTH {
            Some(format!(
                "`${{{name}}}` expands more than {MAX_EXPANSION_DEPTH} levels deep"
            ))
        } else if out.len() > MAX_EXPANSION_LEN {
            Some(format!(
                "`${{{name}}}` expands to more than {MAX_EXPANSION_LEN} bytes"
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            self.diags.push(
                Diagnostic::new(&codes::B0208, message)
                    .at(span, "expanded here")
                    .help("a variable's value refers back to itself; break the loop"),
            );
            return false;
        }
        // A value without `$` (the usual case) is appended without a copy.
        if let Some(v) = self.vars.get(name).or_else(|| self.opts.env.get(name))
            && memchr::memchr(b'$', v.as_bytes()).is_none()
        {
            out.push_str(v);
            return true;
        }
        let Some(value) = self.var(name) else {
            if !self.reported_unset.contains(name) && self.reported_unset.insert(name.to_string()) {
                self.diags.push(
                    Diagnostic::new(&codes::B0207, format!("`${{{name}}}` is not set: it expands to nothing"))
                        .at(span, "first used here")
                        .help(format!("set `{name}` in the environment, as on the machine the buildfile was written for")),
                );
            }
            return true;
        };
        // The value may itself hold `${...}`.
        let mut rest = value.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    let inner = rest[i + 2..i + 2 + j].to_string();
                    if !self.expand_var(&inner, span, depth + 1, out) {
                        return false;
                    }
                    rest = &rest[i + 2 + j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        true
    }

    // ----- host files -------------------------------------------------------------

    fn base_dir(&self, st: &State) -> PathBuf {
        match &st.cd {
            Some(cd) => self.opts.cwd.join(&**cd),
            None => self.opts.cwd.clone(),
        }
    }

    fn default_search(&self) -> Vec<PathBuf> {
        if let Some(p) = self.opts.env.get("MKIFS_PATH") {
            // As mkifs: MKIFS_PATH replaces the default and -r.
            return p
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| self.opts.cwd.join(s))
                .collect();
        }
        const DIRS: [&str; 8] = [
            "sbin", "usr/sbin", "boot/sys", "bin", "usr/bin", "lib", "lib/dll", "usr/lib",
        ];
        let processor = self
            .vars
            .get("PROCESSOR")
            .or_else(|| self.opts.env.get("PROCESSOR"))
            .cloned()
            .unwrap_or_default();
        let mut bases = Vec::new();
        if let Some(r) = &self.opts.root {
            bases.push(self.opts.cwd.join(r));
        }
        if let Some(t) = self.opts.env.get("QNX_TARGET").filter(|t| !t.is_empty()) {
            bases.push(self.opts.cwd.join(t));
        }
        let mut out = Vec::new();
        for b in bases {
            for d in DIRS {
                out.push(b.join(&processor).join(d));
            }
        }
        out
    }

    fn search_dirs(&mut self, st: &State) -> Rc<SearchPath> {
        // The default path (no `search=`), the common case, is found without
        // building a key.
        if st.search.is_none()
            && let Some((processor, dirs)) = &self.default_search_cache
            && self
                .vars
                .get("PROCESSOR")
                .or_else(|| self.opts.env.get("PROCESSOR"))
                .map_or("", String::as_str)
                == processor.as_str()
        {
            return dirs.clone();
        }
        let key = match &st.search {
            Some(s) => format!("S{}\0{}", s, st.cd.as_deref().unwrap_or("")),
            None => format!(
                "D{}",
                self.vars
                    .get("PROCESSOR")
                    .or_else(|| self.opts.env.get("PROCESSOR"))
                    .map(String::as_str)
                    .unwrap_or("")
            ),
        };
        if let Some(d) = self.search_cache.get(&key) {
            return d.clone();
        }
        let dirs: Vec<PathBuf> = match &st.search {
            Some(s) => {
                let base = self.base_dir(st);
                s.split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| base.join(d))
                    .collect()
            }
            None => {
                if self.opts.env.get("QNX_TARGET").is_none_or(|t| t.is_empty())
                    && !self.opts.env.contains_key("MKIFS_PATH")
                    && self.reported_unset.insert("QNX_TARGET".into())
                    && !self.opts.no_host_files
                {
                    self.diags.push(Diagnostic::new(
                        &codes::B0207,
                        "`QNX_TARGET` is not set: the default search path holds only `-r` directories",
                    )
                    .help("set QNX_TARGET to the SDP's target directory, or MKIFS_PATH to a search path"));
                }
                self.default_search()
            }
        };
        let dirs = Rc::new(self.fs.search_path(dirs));
        if st.search.is_none() {
            self.default_search_cache = Some((key[1..].to_string(), dirs.clone()));
        }
        self.search_cache.insert(key, dirs.clone());
        dirs
    }

    fn find(&mut self, name: &str, st: &State) -> Found {
        if !self.opts.host_access {
            return Found::Missing;
        }
        let path = Path::new(name);
        let candidate = if path.is_absolute() {
            self.fs.exists(path).then(|| path.to_path_buf())
        } else {
            let direct = name
                .contains('/')
                .then(|| self.base_dir(st).join(name))
                .filter(|d| self.fs.exists(d));
            if direct.is_some() {
                direct
            } else {
                let dirs = self.search_dirs(st);
                dirs.find(&mut self.fs, name)
            }
        };
        match candidate {
            None => Found::Missing,
            Some(p) => match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => Found::Dir(p),
                Ok(m) => Found::File(p, m),
                // A dangling link: as good as missing.
                Err(_) => Found::Missing,
            },
        }
    }

    // ----- entries ----------------------------------------------------------------

    /// [`Self::target_path`] reusing `target`'s memory when it is already
    /// a path in normal form that needs no prefix.
    fn target_path_owned(&mut self, target: String, st: &State, span: Span) -> Option<String> {
        let absolute = target.starts_with('/');
        if (absolute || (st.prefix.is_none() && !self.bootable)) && is_normal(&target) {
            let mut t = target;
            if absolute {
                t.remove(0);
            }
            return Some(t);
        }
        self.target_path(&target, st, span)
    }

    fn target_path(&mut self, target: &str, st: &State, span: Span) -> Option<String> {
        let prefix = match (target.starts_with('/'), &st.prefix) {
            (true, _) => "",
            (false, Some(p)) => p,
            (false, None) if self.bootable => "proc/boot",
            (false, None) => "",
        };
        // Normalised in place: `out` holds the components so far, joined by
        // `/`; `..` truncates to the previous separator.
        let mut out = String::with_capacity(prefix.len() + target.len() + 1);
        if !normalise_into(&mut out, prefix) || !normalise_into(&mut out, target) {
            self.diags.push(
                Diagnostic::new(&codes::B0216, format!("`{target}` leaves the image's root"))
                    .at(span, "too many `..`")
                    .help("a path in the image cannot go above `/`"),
            );
            return None;
        }
        Some(out)
    }

    fn mtime_generated(&self) -> u32 {
        match self.opts.times {
            Times::Host => self.opts.now,
            _ => 0,
        }
    }

    fn mtime_host(&self, m: &std::fs::Metadata) -> u32 {
        if self.opts.times == Times::ZeroAll {
            return 0;
        }
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
            .unwrap_or(0);
        match self.opts.source_date_epoch {
            Some(sde) => t.min(sde),
            None => t,
        }
    }

    fn push_entry(&mut self, e: Entry, st: &State) -> Option<usize> {
        if e.path.is_empty() {
            // The root itself: only its attributes can be set.
            if let EntryKind::Dir = e.kind {
                self.root = Some(e);
            }
            return None;
        }
        let hash = path_hash(&e.path);
        let mut found = self.by_path.get(&hash).copied();
        while let Some(i) = found {
            if self.entries[i].path == e.path {
                break;
            }
            found = Some(self.same_hash[i]).filter(|&j| j != usize::MAX);
        }
        if let Some(i) = found {
            if !st.dupignore {
                let first = self.entries[i].span;
                self.diags.push(
                    Diagnostic::new(&codes::B0209, format!("`/{}` is already in the image", e.path))
                        .at(e.span, "named again here")
                        .with(first, "first named here")
                        .help("remove one of the two lines, or add `+dupignore` to keep the first silently"),
                );
            }
            return None;
        }
        let before = self.by_path.insert(hash, self.entries.len());
        self.same_hash.push(before.unwrap_or(usize::MAX));
        self.entries.push(e);
        Some(self.entries.len() - 1)
    }

    fn file_mode(&self, st: &State, base: u32, elf: Option<&ElfInfo>) -> u32 {
        let perms = st.perms.apply(base);
        let program = elf.is_some_and(ElfInfo::is_program) && !st.raw;
        let runs_once = program && !st.data_copy;
        let sticky = if (perms & 0o111 != 0 || program) && !runs_once {
            S_ISVTX
        } else {
            0
        };
        S_IFREG | perms | sticky
    }

    /// An entry line. Its names are taken out of `e` (moved into the
    /// Manifest): the line is not read again.
    fn entry_line(&mut self, src: &Arc<[u8]>, e: &mut EntryLine) {
        if e.attrs.is_none() && self.globals.modules.is_empty() && !self.globals.include {
            // The globals as they are (the common case): shared, not
            // copied. Nothing below reads or changes `self.globals` (only
            // `include` and the boot block do).
            let g = self.globals.clone();
            self.entry_with(src, e, &g);
            return;
        }
        let mut st = State::clone(&self.globals);
        st.modules.clear();
        if let Some(list) = &e.attrs {
            let bad = self.bad_values;
            self.apply_list(&mut st, list, false);
            if self.bad_values > bad {
                // Reported; the entry cannot be made as its author meant.
                return;
            }
            if list.boot_attr().is_some() {
                self.boot_block(src, e, &st);
                return;
            }
        }
        self.entry_with(src, e, &st);
    }

    /// An entry line with `st` the attributes in force for it.
    fn entry_with(&mut self, src: &Arc<[u8]>, e: &mut EntryLine, st: &State) {
        if self.alone_boot.is_some() && self.boot.is_none() && e.inline.is_some() {
            self.lost_block.get_or_insert(e.span);
        }
        let target_text = self.expand_owned(&mut e.target);
        if st.include {
            self.include(e, &target_text, st);
            return;
        }
        let host_text = match &mut e.host {
            Some(h) if h.text.is_empty() => Some(String::new()),
            Some(h) => Some(self.expand_owned(h)),
            None => None,
        };
        let e = &*e;
        let host_word = e.host.as_ref();
        match st.ftype {
            FileType::Link => {
                let Some(link) = host_text else {
                    self.diags.push(
                        Diagnostic::new(
                            &codes::B0204,
                            format!("the link `{target_text}` has no target"),
                        )
                        .at(e.span, "`type=link` needs `name = target`")
                        .help(format!(
                            "write `[type=link] {target_text} = /where/it/points`"
                        )),
                    );
                    return;
                };
                let Some(path) = self.target_path(&target_text, st, e.target.span) else {
                    return;
                };
                let perms = match &st.perms {
                    Perms::Host => 0o777,
                    p => p.apply(0o777),
                };
                let sticky = if perms & 0o111 != 0 { S_ISVTX } else { 0 };
                let entry = Entry {
                    path,
                    kind: EntryKind::Symlink { target: link },
                    mode: S_IFLNK | perms | sticky,
                    uid: st.uid.unwrap_or(0),
                    gid: st.gid.unwrap_or(0),
                    mtime: self.mtime_generated(),
                    attrs: st.file_attrs(),
                    span: e.span,
                };
                self.push_entry(entry, st);
            }
            FileType::Dir | FileType::Fifo => {
                let Some(path) = self.target_path(&target_text, st, e.target.span) else {
                    return;
                };
                let (kind, mode) = if st.ftype == FileType::Dir {
                    let p = st.dperms.as_ref().map(|p| p.apply(0o755)).unwrap_or(0o755);
                    (EntryKind::Dir, S_IFDIR | p)
                } else {
                    let p = match &st.perms {
                        Perms::Host => 0o666,
                        p => p.apply(0o666),
                    };
                    (EntryKind::Fifo, S_IFIFO | p)
                };
                let entry = Entry {
                    path,
                    kind,
                    mode,
                    uid: st.uid.unwrap_or(0),
                    gid: st.gid.unwrap_or(0),
                    mtime: self.mtime_generated(),
                    attrs: st.file_attrs(),
                    span: e.span,
                };
                self.push_entry(entry, st);
            }
            FileType::File => {
                if let Some(inline) = &e.inline {
                    self.inline_entry(src, e, inline, &target_text, st);
                } else {
                    // `name` alone: host = name, target = basename(name).
                    let (target, host) = match host_text {
                        Some(h) => (target_text, h),
                        None => {
                            let base = target_text
                                .bytes()
                                .rposition(|b| b == b'/')
                                .map_or(0, |i| i + 1);
                            (target_text[base..].to_string(), target_text)
                        }
                    };
                    let host_span = host_word.map(|h| h.span).unwrap_or(e.target.span);
                    self.host_entry(e, target, host, host_span, st);
                }
            }
        }
    }

    /// `[+include] file`: reads another buildfile's lines here.
    fn include(&mut self, e: &EntryLine, name: &str, st: &State) {
        const MAX_DEPTH: usize = 16;
        let path = {
            let p = Path::new(name);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.base_dir(st).join(p)
            }
        };
        if self.include_depth >= MAX_DEPTH {
            self.diags.push(
                Diagnostic::new(
                    &codes::B0218,
                    format!("`{name}` is included more than {MAX_DEPTH} levels deep"),
                )
                .at(e.span, "included here")
                .help("a buildfile includes itself, directly or through others; break the loop"),
            );
            return;
        }
        let read = if self.opts.host_access {
            host::read_regular(&path)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
        let bytes = match read {
            Ok(b) => b,
            Err(_) if self.opts.no_host_files => return,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                self.missing(name, e.target.span, e.span, st);
                return;
            }
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0210,
                        format!("cannot read `{}`: {err}", path.display()),
                    )
                    .at(e.span, "included here")
                    .help("check the file's permissions"),
                );
                return;
            }
        };
        let id = self.map.add(path.display().to_string(), bytes);
        let (mut bf, diags) = parser::parse(self.map, id);
        self.diags.extend(diags);
        if bf.foreign {
            return;
        }
        let src = self.map.file(id).shared_bytes();
        self.include_depth += 1;
        for item in &mut bf.items {
            match item {
                Item::Attrs(list) => {
                    self.apply_global_list(list);
                }
                Item::Entry(inner) => self.entry_line(&src, inner),
            }
        }
        self.include_depth -= 1;
    }

    fn inline_entry(
        &mut self,
        src: &Arc<[u8]>,
        e: &EntryLine,
        inline: &parser::Inline,
        target: &str,
        st: &State,
    ) {
        let Some(path) = self.target_path(target, st, e.target.span) else {
            return;
        };
        let body = &src[inline.body.start as usize..inline.body.end as usize];
        if st.script {
            let cmds =
                script::parse_script(src, inline.body, &mut self.partitions, &mut self.diags);
            self.add_script(path, cmds, e.span, st);
            return;
        }
        let bytes = lexer::unescape_inline(body);
        let base = 0o666;
        let mode = self.file_mode(st, base, None);
        let entry = Entry {
            path,
            kind: EntryKind::File(FileData {
                size: Some(bytes.len() as u64),
                source: DataSource::Inline { bytes },
                elf: None,
                role: FileRole::Plain,
            }),
            mode,
            uid: st.uid.unwrap_or(0),
            gid: st.gid.unwrap_or(0),
            mtime: self.mtime_generated(),
            attrs: st.file_attrs(),
            span: e.span,
        };
        self.push_entry(entry, st);
    }

    fn add_script(&mut self, path: String, cmds: Vec<ScriptCommand>, span: Span, st: &State) {
        if let Some(i) = self.script_entry {
            let first = self.entries[i].span;
            self.diags.push(
                Diagnostic::new(
                    &codes::B0217,
                    format!(
                        "a second boot script: its commands run after those of `/{}`",
                        self.entries[i].path
                    ),
                )
                .at(span, "joined to the first script")
                .with(first, "the first script"),
            );
            self.script.extend(cmds);
            return;
        }
        self.script.extend(cmds);
        let mode = self.file_mode(st, 0o666, None);
        let entry = Entry {
            path,
            kind: EntryKind::File(FileData {
                source: DataSource::Script,
                size: None,
                elf: None,
                role: FileRole::Script,
            }),
            mode,
            uid: st.uid.unwrap_or(0),
            gid: st.gid.unwrap_or(0),
            mtime: self.mtime_generated(),
            attrs: st.file_attrs(),
            span,
        };
        self.script_entry = self.push_entry(entry, st);
    }

    fn missing(&mut self, host: &str, span: Span, line: Span, st: &State) {
        if st.optional {
            self.diags.push(
                Diagnostic::new(&codes::B0202, format!("host file `{host}` not found: the entry is left out"))
                    .at(span, "not found along the search path")
                    .with(line, "this entry")
                    .help("check the name and the search path (`search=`, MKIFS_PATH, QNX_TARGET, -r); `[-optional]` makes this an error"),
            );
        } else {
            self.diags.push(
                Diagnostic::new(&codes::B0201, format!("host file `{host}` not found"))
                    .at(span, "not found along the search path")
                    .help("check the name and the search path (`search=`, MKIFS_PATH, QNX_TARGET, -r); `[+optional]` on the line makes a missing file a warning"),
            );
        }
    }

    fn host_entry(
        &mut self,
        e: &EntryLine,
        target: String,
        host: String,
        host_span: Span,
        st: &State,
    ) {
        if host.is_empty() {
            // `name=${UNSET}`.
            if self.opts.no_host_files {
                let raw = e.host.as_ref().map(|h| h.text.clone()).unwrap_or_default();
                self.assumed_entry(e, target, raw, st);
            } else {
                self.missing(&host, host_span, e.span, st);
            }
            return;
        }
        match self.find(&host, st) {
            Found::Missing => {
                if self.opts.no_host_files {
                    self.assumed_entry(e, target, host, st);
                } else {
                    self.missing(&host, host_span, e.span, st);
                }
            }
            Found::Dir(dir) => {
                let Some(path) = self.target_path(&target, st, e.target.span) else {
                    return;
                };
                let mut seen = HashSet::new();
                self.include_dir(&dir, &path, e.span, st, &mut seen);
            }
            Found::File(p, meta) => {
                let Some(path) = self.target_path(&target, st, e.target.span) else {
                    return;
                };
                if st.script {
                    self.script_from_host(&p, path, e.span, st);
                    return;
                }
                self.file_entry(path, p, &meta, e.span, st, FileRole::Plain);
            }
        }
    }

    fn assumed_entry(&mut self, e: &EntryLine, target: String, host: String, st: &State) {
        let Some(path) = self.target_path_owned(target, st, e.target.span) else {
            return;
        };
        let mode = self.file_mode(st, 0o755, None);
        let entry = Entry {
            path,
            kind: EntryKind::File(FileData {
                source: DataSource::Assumed { name: host },
                size: None,
                elf: None,
                role: if st.script {
                    FileRole::Script
                } else {
                    FileRole::Plain
                },
            }),
            mode,
            uid: st.uid.unwrap_or(0),
            gid: st.gid.unwrap_or(0),
            mtime: self.mtime_generated(),
            attrs: st.file_attrs(),
            span: e.span,
        };
        self.push_entry(entry, st);
    }

    fn script_from_host(&mut self, p: &Path, path: String, span: Span, st: &State) {
        match host::read_regular(p) {
            Ok(bytes) => {
                let len = bytes.len();
                let id: FileId = self.map.add(p.display().to_string(), bytes);
                let src = self.map.file(id).shared_bytes();
                let cmds = script::parse_script(
                    &src,
                    Span::new(id, 0, len),
                    &mut self.partitions,
                    &mut self.diags,
                );
                self.add_script(path, cmds, span, st);
            }
            Err(err) => self.diags.push(
                Diagnostic::new(
                    &codes::B0210,
                    format!("cannot read `{}`: {err}", p.display()),
                )
                .at(span, "named here")
                .help("check the file's permissions"),
            ),
        }
    }

    /// Adds a host file (and, for a shared object with a SONAME, its autolink).
    fn file_entry(
        &mut self,
        path: String,
        host: PathBuf,
        meta: &std::fs::Metadata,
        span: Span,
        st: &State,
        role: FileRole,
    ) -> Option<usize> {
        use std::os::unix::fs::MetadataExt;
        let elf = match host::elf_info(&host) {
            Ok(e) => e,
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0210,
                        format!("cannot read `{}`: {err}", host.display()),
                    )
                    .at(span, "named here")
                    .help("check the file's permissions"),
                );
                return None;
            }
        };
        let mode = self.file_mode(st, meta.mode(), elf.as_ref());
        let mut path = path;
        let mut link = None;
        if st.autolink
            && !st.raw
            && let Some(so) = elf
                .as_ref()
                .filter(|e| e.is_shared_object())
                .and_then(|e| e.soname.clone())
        {
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (d.to_string(), b.to_string()),
                None => (String::new(), path.clone()),
            };
            if base != so && !so.contains('/') && !so.is_empty() {
                // Stored under its SONAME; the name the buildfile gave links to it.
                link = Some((path.clone(), so.clone()));
                path = if dir.is_empty() {
                    so
                } else {
                    format!("{dir}/{so}")
                };
            }
        }
        let entry = Entry {
            path,
            kind: EntryKind::File(FileData {
                source: DataSource::Host { path: host },
                size: Some(meta.len()),
                elf,
                role,
            }),
            mode,
            uid: st.uid.unwrap_or(meta.uid()),
            gid: st.gid.unwrap_or(meta.gid()),
            mtime: self.mtime_host(meta),
            attrs: st.file_attrs(),
            span,
        };
        let idx = self.push_entry(entry, st);
        if let Some((link_path, so)) = link {
            let e = Entry {
                path: link_path,
                kind: EntryKind::Symlink { target: so },
                mode: S_IFLNK | 0o777 | S_ISVTX,
                uid: st.uid.unwrap_or(meta.uid()),
                gid: st.gid.unwrap_or(meta.gid()),
                mtime: self.mtime_generated(),
                attrs: FileAttrs::default(),
                span,
            };
            self.push_entry(e, st);
        }
        idx
    }

    fn include_dir(
        &mut self,
        dir: &Path,
        target: &str,
        span: Span,
        st: &State,
        seen: &mut HashSet<PathBuf>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !seen.insert(canonical) {
            return; // a symlink loop
        }
        let meta = std::fs::metadata(dir).ok();
        if !target.is_empty() {
            let p = st
                .dperms
                .as_ref()
                .map(|p| p.apply(meta.as_ref().map(|m| m.mode()).unwrap_or(0o755)))
                .unwrap_or(0o755);
            let entry = Entry {
                path: target.to_string(),
                kind: EntryKind::Dir,
                mode: S_IFDIR | (p & 0o7777),
                uid: st.uid.or(meta.as_ref().map(|m| m.uid())).unwrap_or(0),
                gid: st.gid.or(meta.as_ref().map(|m| m.gid())).unwrap_or(0),
                mtime: meta.as_ref().map(|m| self.mtime_host(m)).unwrap_or(0),
                attrs: st.file_attrs(),
                span,
            };
            self.push_entry(entry, st);
        }
        let mut names: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(
                        &codes::B0215,
                        format!("cannot read directory `{}`: {err}", dir.display()),
                    )
                    .at(span, "included here")
                    .help("check the directory's permissions"),
                );
                return;
            }
        };
        names.sort();
        for name in names {
            let host = dir.join(&name);
            let name = name.to_string_lossy().into_owned();
            let child = if target.is_empty() {
                name.clone()
            } else {
                format!("{target}/{name}")
            };
            let Ok(lmeta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if lmeta.file_type().is_symlink() && !st.followlink {
                let link = std::fs::read_link(&host)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let e = Entry {
                    path: child,
                    kind: EntryKind::Symlink { target: link },
                    mode: S_IFLNK | 0o777 | S_ISVTX,
                    uid: st.uid.unwrap_or(lmeta.uid()),
                    gid: st.gid.unwrap_or(lmeta.gid()),
                    mtime: self.mtime_host(&lmeta),
                    attrs: FileAttrs::default(),
                    span,
                };
                self.push_entry(e, st);
                continue;
            }
            match std::fs::metadata(&host) {
                Ok(m) if m.is_dir() => self.include_dir(&host, &child, span, st, seen),
                Ok(m) if m.is_file() => {
                    self.file_entry(child, host, &m, span, st, FileRole::Plain);
                }
                _ => {} // dangling links, sockets, devices: not image content
            }
        }
    }

    // ----- the boot block -----------------------------------------------------

    fn boot_block(&mut self, src: &Arc<[u8]>, e: &EntryLine, st: &State) {
        let Some(spec) = st.boot.clone() else { return };
        if let Some(b) = &self.boot {
            let first = b.span;
            self.diags.push(
                Diagnostic::new(&codes::B0213, "a second boot block")
                    .at(spec.span, "another virtual= or physical= block")
                    .with(first, "the first boot block")
                    .help("an image has one boot block; remove one"),
            );
            return;
        }
        let Some(inline) = &e.inline else {
            self.diags.push(
                Diagnostic::new(&codes::B0214, "the boot block must be written inline")
                    .at(e.span, "not followed by `{`")
                    .help(format!(
                        "write `[{}=...] boot = {{` and the startup and kernel lines, then `}}`",
                        match spec.mode {
                            BootMode::Virtual => "virtual",
                            BootMode::Physical => "physical",
                        }
                    )),
            );
            return;
        };
        let bootfile = self.load_bootfile(&spec, st);
        // Lines of the block.
        let mut lx = Lexer::new(
            src,
            inline.body.file,
            inline.body.start as usize,
            inline.body.end as usize,
        );
        let mut block = st.clone();
        block.modules.clear();
        let mut pending: Option<(State, Vec<EnvVar>, Span)> = None;
        let mut programs: Vec<BootProgram> = Vec::new();
        let mut env_lines: Vec<EnvVar> = Vec::new();
        let mut extra: Vec<Span> = Vec::new();
        while let Some(line) = lx.script_line() {
            if line.toks.is_empty() {
                continue;
            }
            let mut lists = Vec::new();
            let mut words = Vec::new();
            for t in line.toks {
                match t {
                    LineTok::Attrs {
                        words: ws,
                        span,
                        closed,
                    } => {
                        if !closed {
                            self.diags.push(
                                Diagnostic::new(
                                    &codes::B0102,
                                    "this attribute list is never closed",
                                )
                                .at(span, "opened here")
                                .help("close the list with `]` on the same line"),
                            );
                        }
                        let mut list = AttrList {
                            span,
                            ..AttrList::default()
                        };
                        let mut other = None;
                        for w in ws {
                            parser::attr_word(&mut list, w, &mut self.diags, &mut other);
                        }
                        lists.push(list);
                    }
                    LineTok::Word(w) => words.push(w),
                }
            }
            let n_env = words.iter().take_while(|w| is_assignment(w)).count();
            let env: Vec<EnvVar> = words[..n_env].iter().map(env_var).collect();
            let rest = &words[n_env..];
            if rest.is_empty() && env.is_empty() {
                // Attribute-only line: for the following lines.
                match &mut pending {
                    Some((pst, _, _)) => {
                        for l in &lists {
                            self.apply_list(pst, l, false);
                        }
                    }
                    None => {
                        for l in &lists {
                            self.apply_list(&mut block, l, false);
                        }
                    }
                }
                continue;
            }
            if rest.is_empty() {
                if lists.is_empty() && pending.is_none() {
                    // Environment-only line: for the kernel and every script command.
                    for v in &env {
                        self.vars.insert(v.name.clone(), v.value.clone());
                    }
                    env_lines.extend(env);
                } else {
                    // Attributes and variables: the command goes on on the next line.
                    let (mut pst, mut penv, pspan) = pending.take().unwrap_or_else(|| {
                        let mut s = block.clone();
                        s.modules.clear();
                        (s, Vec::new(), line.span)
                    });
                    for l in &lists {
                        self.apply_list(&mut pst, l, false);
                    }
                    penv.extend(env);
                    pending = Some((pst, penv, pspan.to(line.span)));
                }
                continue;
            }
            let (mut lst, mut lenv, lspan) = pending.take().unwrap_or_else(|| {
                let mut s = block.clone();
                s.modules.clear();
                (s, Vec::new(), line.span)
            });
            for l in &lists {
                self.apply_list(&mut lst, l, false);
            }
            lenv.extend(env);
            let prog = &rest[0];
            let args: Vec<String> = rest[1..].iter().map(|w| w.text.clone()).collect();
            let span = lspan.to(line.span);
            let index = programs.len();
            if index > 4 {
                extra.push(prog.span);
                continue;
            }
            let (source, size, elf, meta) = match self.find(&prog.text, &lst) {
                Found::File(p, m) => {
                    let elf = host::elf_info(&p).ok().flatten();
                    (DataSource::Host { path: p }, Some(m.len()), elf, Some(m))
                }
                Found::Dir(p) => {
                    self.diags.push(
                        Diagnostic::new(
                            &codes::B0201,
                            format!("`{}` is a directory, not a program", p.display()),
                        )
                        .at(prog.span, "named here")
                        .help("name the startup or kernel executable"),
                    );
                    continue;
                }
                Found::Missing if self.opts.no_host_files => (
                    DataSource::Assumed {
                        name: prog.text.clone(),
                    },
                    None,
                    None,
                    None,
                ),
                Found::Missing => {
                    // A boot program cannot be left out, whatever `optional` says.
                    self.diags.push(
                        Diagnostic::new(&codes::B0201, format!("boot program `{}` not found", prog.text))
                            .at(prog.span, "not found along the search path")
                            .help("startup and kernel programs are looked up along the search path (boot/sys under QNX_TARGET); check the name, QNX_TARGET and PROCESSOR"),
                    );
                    (
                        DataSource::Assumed {
                            name: prog.text.clone(),
                        },
                        None,
                        None,
                        None,
                    )
                }
            };
            let mut bp = BootProgram {
                name: prog.text.clone(),
                source: source.clone(),
                size,
                elf: elf.clone(),
                args,
                env: lenv,
                modules: std::mem::take(&mut lst.modules),
                attrs: lst.file_attrs(),
                entry: None,
                span,
            };
            if index > 0 {
                // A bootstrap executable is also a file of the image.
                let base = prog
                    .text
                    .rsplit('/')
                    .next()
                    .unwrap_or(&prog.text)
                    .to_string();
                if let Some(path) = self.target_path(&base, &lst, prog.span) {
                    let mode = self.file_mode(
                        &lst,
                        meta.as_ref()
                            .map(std::os::unix::fs::MetadataExt::mode)
                            .unwrap_or(0o755),
                        elf.as_ref(),
                    );
                    let entry = Entry {
                        path,
                        kind: EntryKind::File(FileData {
                            source,
                            size,
                            elf,
                            role: FileRole::Bootstrap(index - 1),
                        }),
                        mode,
                        uid: lst
                            .uid
                            .or(meta.as_ref().map(std::os::unix::fs::MetadataExt::uid))
                            .unwrap_or(0),
                        gid: lst
                            .gid
                            .or(meta.as_ref().map(std::os::unix::fs::MetadataExt::gid))
                            .unwrap_or(0),
                        mtime: meta
                            .as_ref()
                            .map(|m| self.mtime_host(m))
                            .unwrap_or_else(|| self.mtime_generated()),
                        attrs: lst.file_attrs(),
                        span,
                    };
                    bp.entry = self.push_entry(entry, &lst);
                }
            }
            programs.push(bp);
        }
        if let Some((_, _, span)) = pending {
            self.diags.push(
                Diagnostic::new(&codes::B0308, "this boot line sets attributes and variables, but no program follows")
                    .at(span, "no program after this")
                    .help("end the line (or the next one) with the program to run, e.g. `procnto-smp-instr -v`"),
            );
        }
        if !extra.is_empty() {
            let mut d = Diagnostic::new(
                &codes::B0302,
                format!(
                    "{} bootstrap programs: at most 4 follow the startup program",
                    programs.len() - 1 + extra.len()
                ),
            )
            .at(extra[0], "one too many");
            for s in extra.iter().skip(1) {
                d = d.with(*s, "another");
            }
            self.diags.push(d.help("the image header has room for 4 bootstrap programs (boot_ino[4]); start the others from the boot script"));
        }
        if programs.is_empty() {
            self.diags.push(
                Diagnostic::new(&codes::B0301, "the boot block names no startup program")
                    .at(inline.open.to(inline.close), "empty boot block")
                    .help("the first line names the startup program (e.g. `startup-x86 -v`), the next the kernel (e.g. `procnto-smp-instr`)"),
            );
            return;
        }
        let startup = programs.remove(0);
        self.boot = Some(Boot {
            mode: spec.mode,
            cpu: spec.cpu.clone(),
            bootfile_name: spec.bootfile.clone(),
            bootfile_args: spec.args.clone(),
            bootfile,
            startup,
            bootstrap: programs,
            env: env_lines,
            span: spec.span,
        });
    }

    fn load_bootfile(&mut self, spec: &BootSpec, st: &State) -> Option<Bootfile> {
        let name = format!("{}.boot", spec.bootfile);
        match self.find(&name, st) {
            Found::File(p, _) => match host::read_regular(&p) {
                Ok(bytes) => match parse_bootfile(p.clone(), &bytes) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::new(&codes::B0212, format!("`{}`: {e}", p.display()))
                                .at(spec.span, "the bootfile named here")
                                .help("a bootfile starts with a `[ ... ]` header of `name=value` settings"),
                        );
                        None
                    }
                },
                Err(e) => {
                    self.diags.push(
                        Diagnostic::new(
                            &codes::B0211,
                            format!("cannot read `{}`: {e}", p.display()),
                        )
                        .at(spec.span, "named here"),
                    );
                    None
                }
            },
            _ if self.opts.no_host_files => None,
            _ => {
                self.diags.push(
                    Diagnostic::new(&codes::B0211, format!("bootfile `{name}` not found"))
                        .at(spec.span, "named here")
                        .help("bootfiles are looked up along the search path (boot/sys under QNX_TARGET); check the name, QNX_TARGET and PROCESSOR"),
                );
                None
            }
        }
    }

    // ----- the end ----------------------------------------------------------------

    fn finish(&mut self) -> Manifest {
        if self.boot.is_none()
            && let Some(s) = self.alone_boot
        {
            let mut d = Diagnostic::new(
                &codes::B0203,
                "virtual= on a line of its own: the image gets no startup program",
            )
            .at(s, "this sets a global attribute only");
            if let Some(b) = self.lost_block {
                d = d.with(b, "so this is read as an ordinary inline file");
            }
            self.diags
                .push(d.help("put it on the boot block's line: `[virtual=cpu,bootfile] boot = {`"));
        }
        // Bootfile attributes come after the buildfile.
        if let Some(b) = self.boot.as_ref().and_then(|b| b.bootfile.clone()) {
            self.apply_bootfile_attrs(&b);
        }
        let bootfile = self.boot.as_ref().and_then(|b| b.bootfile.as_ref());
        let mut image = self.img.image.unwrap_or_default();
        if self.img.image.is_none()
            && let Some(d) = bootfile.and_then(|b| b.default_image.as_deref())
            && let Ok(r) = attrs::parse_range(d)
        {
            image = r;
        }
        let byte_order = match self.img.bigendian {
            Some(true) => ByteOrder::Big,
            Some(false) => ByteOrder::Little,
            None => self.first_elf_order().unwrap_or_else(|| {
                let cpu = self
                    .boot
                    .as_ref()
                    .and_then(|b| b.cpu.clone())
                    .or_else(|| self.vars.get("PROCESSOR").cloned())
                    .unwrap_or_default();
                if cpu.ends_with("be") || cpu.contains("be-") {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                }
            }),
        };
        if let (Some((_, cspan)), Some((_, rspan))) = (self.img.compress, self.img.ram) {
            self.diags.push(
                Diagnostic::new(&codes::B0206, "a split image (`ram=`) cannot be compressed")
                    .at(cspan, "compression asked for here")
                    .with(rspan, "split image asked for here")
                    .help("remove `+compress`, or remove `ram=`"),
            );
        }
        let compression = self.img.compress.and_then(|(c, _)| match c {
            1 => Some(Compression::Zlib),
            2 => Some(Compression::Lzo),
            3 => Some(Compression::Ucl),
            _ => None,
        });
        let mountpoint = self.img.mount.clone().unwrap_or_else(|| {
            if self.boot.is_some() {
                "/".into()
            } else {
                String::new()
            }
        });
        let page_size = bootfile.and_then(|b| b.pagesize).unwrap_or(4096);
        let root = self.root.take().unwrap_or_else(|| Entry {
            path: String::new(),
            kind: EntryKind::Dir,
            mode: S_IFDIR | 0o755,
            uid: 0,
            gid: 0,
            mtime: self.mtime_generated(),
            attrs: FileAttrs::default(),
            span: Span::default(),
        });
        if let Some(i) = self.script_entry
            && let EntryKind::File(f) = &mut self.entries[i].kind
        {
            f.size = None;
        }
        Manifest {
            boot: self.boot.take(),
            image: ImageSettings {
                byte_order,
                image,
                ram: self.img.ram.map(|(r, _)| r),
                mountpoint,
                chain: self.img.chain.unwrap_or(0),
                compression,
                page_size,
            },
            root,
            entries: std::mem::take(&mut self.entries),
            script: std::mem::take(&mut self.script),
        }
    }

    fn first_elf_order(&self) -> Option<ByteOrder> {
        let startup = self
            .boot
            .as_ref()
            .and_then(|b| b.startup.elf.as_ref())
            .map(|e| e.byte_order);
        startup.or_else(|| {
            self.entries
                .iter()
                .find_map(|e| e.file().and_then(|f| f.elf.as_ref()).map(|e| e.byte_order))
        })
    }

    fn apply_bootfile_attrs(&mut self, b: &Bootfile) {
        for (i, text) in b.attr.iter().enumerate() {
            let name = format!("{} (attr {})", b.path.display(), i + 1);
            let id = self.map.add(name, format!("[{text}]"));
            let bytes = self.map.file(id).shared_bytes();
            let (bf, diags) = parser::parse_range(&bytes, id, 0, bytes.len());
            self.diags.extend(diags);
            for item in &bf.items {
                let Item::Attrs(list) = item else { continue };
                for a in &list.attrs {
                    if a.name == AttrName::Linker {
                        // The linker of the boot programs (`?linker=` only where none is set).
                        let Setting::Value(w) = &a.setting else {
                            continue;
                        };
                        let linker = self.expand(w);
                        if let Some(boot) = &mut self.boot {
                            for p in
                                std::iter::once(&mut boot.startup).chain(boot.bootstrap.iter_mut())
                            {
                                if p.attrs.linker.is_none() || !a.conditional {
                                    p.attrs.linker = Some(linker.to_string());
                                }
                            }
                        }
                    } else {
                        let mut st = std::mem::replace(&mut self.globals, self.spare.clone());
                        let one = AttrList {
                            attrs: vec![a.clone()],
                            bootfile_args: Vec::new(),
                            span: list.span,
                        };
                        self.apply_list(Rc::make_mut(&mut st), &one, false);
                        self.globals = st;
                    }
                }
            }
        }
    }
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
