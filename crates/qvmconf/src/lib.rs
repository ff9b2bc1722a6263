//! The qvm VM configuration language (`*.qvmconf`).
//!
//! qvm reads one stream of options: the words of each `@file` argument and
//! the command-line words, in order. [`load`] does the same, then validates
//! the VM and returns it as a typed [`VmConfig`] with every diagnostic (each
//! pointing into the file, or the command line, it came from).
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`codes`], [`types`] | the Q codes; locations, access flags, scheduling |
//! | 2 | [`value`], [`lexer`] | option values as written; tokens |
//! | 3 | [`options`] | a vdev's options, typed by the `vdev` crate's declarations |
//! | 4 | [`config`] | [`VmConfig`], the typed VM |
//! | 5 | [`schema`], [`image`], [`plan`] | what each option takes; guest images; the dry-run plan |
//! | 6 | `parse` | words → [`VmConfig`] |
//! | 7 | `validate` | the checks qvm makes before it starts a VM |
//!
//! ```
//! use qvmconf::{load_source, Options, VdevKind, Attach};
//! let mut map = diag::SourceMap::new();
//! let text = "system demo\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,255m\n\
//!             vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
//!             vdev ser8250 intr myioapic:4 hostdev >-\n";
//! let opts = Options { host_files: false, ..Options::default() };
//! let (vm, diags) = load_source(&mut map, "demo.qvmconf", text.as_bytes().to_vec(), &opts);
//! assert!(diags.is_empty(), "{diags:?}");
//! let vm = vm.unwrap();
//! assert_eq!(vm.memory[2].start, 0x10_0000);
//! assert_eq!(vm.vdevs[1].kind, VdevKind::Ser8250);
//! assert!(matches!(vm.vdevs[1].attach, Attach::Region { start: 0x3f8, .. }));
//! ```

pub mod codes;
pub mod config;
pub mod image;
pub mod lexer;
pub mod options;
mod parse;
pub mod plan;
pub mod schema;
pub mod types;
mod validate;
pub mod value;

pub use config::*;
pub use validate::FIRST_AUTO_PCI_DEV;

use diag::{Diagnostic, FileId, SourceMap, Span};
use lexer::Token;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How far `@file`s may include each other.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// The largest `@file` read (a configuration is a few KiB; this stops
/// `@/dev/zero` and the like).
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// How a configuration is read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read the files named by `load` and `hostdev` (detect image types,
    /// sizes; a missing file is an error). False (`--no-host-files`): plan
    /// them without their contents.
    pub host_files: bool,
    /// The directory relative paths (`@file`, `load`, `hostdev`) are relative to.
    pub cwd: PathBuf,
    /// The `safety` level before any `safety` option (qvm: `required` on the
    /// safety-certified hypervisor, `none` otherwise).
    pub default_safety: SafetyLevel,
    /// Where absolute paths of the files a VM loads (`load /vm/images/x`,
    /// `initrd load`, `data load`) are looked up on this machine (`--root
    /// DIR`: a tree made by `dump -x`, a target's file system copied here);
    /// `None`: as written. `hostdev` names a device of the running host and
    /// is not moved.
    pub root: Option<PathBuf>,
    /// Return the VM as far as it could be read even when it has errors
    /// (not when it could not be read at all: a template, an unreadable
    /// `@file`), so that a preflight can run every later stage on it and
    /// report all the errors of one configuration at once. False: the VM
    /// only when it has no error.
    pub partial: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            host_files: true,
            cwd: PathBuf::from("."),
            default_safety: SafetyLevel::None,
            root: None,
            partial: false,
        }
    }
}

/// Reads qvm's command-line words as qvm does: `@FILE` reads a file (its
/// words join the stream where the argument is), any other word is an option
/// word. The files are registered in `map`; the command-line words in a file
/// named `<command line>`. Returns the VM when there is no error, and every
/// diagnostic.
pub fn load(
    map: &mut SourceMap,
    words: &[String],
    opts: &Options,
) -> (Option<VmConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut toks = Vec::new();
    let mut foreign = false;
    // The command line as one pseudo-file, so words have spans.
    let mut line = String::new();
    let mut spans = Vec::new();
    for w in words {
        if !line.is_empty() {
            line.push(' ');
        }
        let start = line.len();
        line.push_str(w);
        spans.push((start, line.len()));
    }
    let cmd = if words.iter().any(|w| !w.starts_with('@')) {
        Some(map.add("<command line>", line.clone()))
    } else {
        None
    };
    for (w, (s, e)) in words.iter().zip(spans) {
        if let Some(path) = w.strip_prefix('@') {
            let at = cmd.map(|c| Span::new(c, s, e));
            foreign |= include(map, path, at, 0, opts, &mut toks, &mut diags);
        } else if let Some(c) = cmd {
            toks.push(Token {
                text: w.clone(),
                span: Span::new(c, s, e),
                quoted: w.is_empty() || w.chars().any(char::is_whitespace),
            });
        }
    }
    finish(toks, foreign, diags, opts)
}

/// Reads one configuration given as bytes (registered in `map` as `name`);
/// `@file` words inside it are read relative to `opts.cwd`.
pub fn load_source(
    map: &mut SourceMap,
    name: &str,
    bytes: Vec<u8>,
    opts: &Options,
) -> (Option<VmConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut toks = Vec::new();
    let id = map.add(name, bytes);
    let foreign = tokens_of(map, id, 0, opts, &mut toks, &mut diags);
    finish(toks, foreign, diags, opts)
}

fn finish(
    toks: Vec<Token>,
    foreign: bool,
    mut diags: Vec<Diagnostic>,
    opts: &Options,
) -> (Option<VmConfig>, Vec<Diagnostic>) {
    if foreign {
        return (None, diags);
    }
    let p = parse::Parser::new(&toks, opts.default_safety).run();
    diags.extend(p.diags);
    let mut cfg = p.cfg;
    let load_arch = read_loads(&mut cfg, opts, &mut diags);
    check_hostdevs(&cfg, opts, &mut diags);
    validate::validate(&mut cfg, &p.facts, &load_arch, &mut diags);
    let ok = !diags.iter().any(Diagnostic::is_error);
    (Some(cfg).filter(|_| ok || opts.partial), diags)
}

/// Reads `@path`; returns true when the file is a template (not usable).
fn include(
    map: &mut SourceMap,
    path: &str,
    at: Option<Span>,
    depth: usize,
    opts: &Options,
    toks: &mut Vec<Token>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    if depth >= MAX_INCLUDE_DEPTH {
        let mut d = Diagnostic::new(
            &codes::Q0109,
            format!("`@{path}` is nested more than {MAX_INCLUDE_DEPTH} files deep"),
        )
        .help("an @file that includes itself (directly or through others) never ends; remove the loop");
        if let Some(s) = at {
            d = d.at(s, "included here");
        }
        diags.push(d);
        return false;
    }
    let full = opts.cwd.join(path);
    let bytes = std::fs::File::open(&full).and_then(|f| {
        let mut b = Vec::new();
        f.take(MAX_FILE_SIZE + 1).read_to_end(&mut b)?;
        if b.len() as u64 > MAX_FILE_SIZE {
            return Err(std::io::Error::other(format!(
                "larger than {} MiB: not a configuration file",
                MAX_FILE_SIZE >> 20
            )));
        }
        Ok(b)
    });
    match bytes {
        Ok(b) => {
            let id = map.add(path, b);
            tokens_of(map, id, depth, opts, toks, diags)
        }
        Err(e) => {
            let mut d = Diagnostic::new(
                &codes::Q0108,
                format!("cannot read `{path}`: {}", diag::io::reason(&e)),
            )
            .help("relative paths are relative to the current directory, as for qvm");
            if let Some(s) = at {
                d = d.at(s, "named here");
            }
            diags.push(d);
            false
        }
    }
}

/// Lexes file `id` into `toks`, expanding `@file` words; true when it is a template.
fn tokens_of(
    map: &mut SourceMap,
    id: FileId,
    depth: usize,
    opts: &Options,
    toks: &mut Vec<Token>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let file = map.file(id);
    if let Some(at) = file.bytes().iter().position(|&b| b == 0) {
        diags.push(
            Diagnostic::new(
                &diag::G0002,
                format!(
                    "`{}` is not a text file (NUL byte at offset {at})",
                    file.name()
                ),
            )
            .at(Span::new(id, at, at + 1), "NUL byte")
            .help("give the qvm configuration file (text)"),
        );
        return true;
    }
    let text = file.text().to_string();
    let mut mine = Vec::new();
    lexer::lex(id, &text, &mut mine, diags);
    let placeholders: Vec<&Token> = mine.iter().filter(|t| has_placeholder(&t.text)).collect();
    if let Some(first) = placeholders.first() {
        let mut d = Diagnostic::new(
            &codes::Q0107,
            "this file is a template: it has `@NAME@` placeholders to be filled in before qvm can read it",
        )
        .at(first.span, "a placeholder");
        if placeholders.len() > 1 {
            d = d.note(format!("{} words hold placeholders", placeholders.len()));
        }
        diags.push(d.help("check the file generated from the template (e.g. by the Yocto recipe), not the template"));
        return true;
    }
    let mut foreign = false;
    for t in mine {
        match t.text.strip_prefix('@') {
            Some(path) if !t.quoted && !path.is_empty() => {
                foreign |= include(map, path, Some(t.span), depth + 1, opts, toks, diags);
            }
            _ => toks.push(t),
        }
    }
    foreign
}

/// `@NAME@` with NAME of letters, digits and `_`.
fn has_placeholder(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'@') {
        let start = i + p + 1;
        let n = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        if n > 0 && b.get(start + n) == Some(&b'@') {
            return true;
        }
        i = start;
    }
    false
}

impl Options {
    /// The file on this machine a `load` path names: relative paths under
    /// `cwd`, absolute ones under `root` when set.
    pub fn host_path(&self, path: &str) -> PathBuf {
        match (&self.root, path.strip_prefix('/')) {
            (Some(root), Some(rel)) => root.join(rel.trim_start_matches('/')),
            _ => self.cwd.join(Path::new(path)),
        }
    }
}

fn host_path(opts: &Options, path: &str) -> PathBuf {
    opts.host_path(path)
}

/// Reads each load's header (unless `host_files` is off): type, size, and the
/// architecture it implies.
fn read_loads(
    cfg: &mut VmConfig,
    opts: &Options,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Option<Arch>> {
    let mut arches = Vec::new();
    for l in &mut cfg.loads {
        if !opts.host_files {
            arches.push(None);
            continue;
        }
        let p = host_path(opts, &l.path.value);
        let r = std::fs::File::open(&p).and_then(|f| {
            let size = f.metadata()?.len();
            let mut head = Vec::new();
            f.take(image::HEADER_BYTES as u64).read_to_end(&mut head)?;
            Ok((size, head))
        });
        match r {
            Ok((size, head)) => {
                l.size = Some(size);
                let (t, a) = if l.kind == LoadKind::Image {
                    image::detect(&head)
                } else {
                    (ImageType::Raw, None)
                };
                l.detected = t;
                arches.push(a);
            }
            Err(e) => {
                diags.push(missing(&l.path, &e, "loaded into the guest"));
                arches.push(None);
            }
        }
    }
    arches
}

fn missing(path: &Spanned<String>, e: &std::io::Error, what: &str) -> Diagnostic {
    Diagnostic::new(
        &codes::Q0211,
        format!("cannot read `{}`: {}", path.value, diag::io::reason(e)),
    )
    .at(path.span, what.to_string())
    .help("relative paths are relative to the current directory; to plan without the host's files use `--no-host-files`")
}

fn check_hostdevs(cfg: &VmConfig, opts: &Options, diags: &mut Vec<Diagnostic>) {
    if opts.host_files {
        diags.extend(missing_hostdevs(cfg, &opts.cwd));
    }
}

/// The `hostdev` files of `cfg`'s vdevs that do not exist on this machine
/// (relative paths under `cwd`; stdio and output-only ones are made when
/// the VM runs), each a [`codes::Q0211`] error at its `hostdev`. [`load`]
/// reports them itself unless [`Options::host_files`] is off; a caller that
/// reads the configuration without host files (a host image's VM, whose
/// loads are image paths) but runs it here checks them with this.
pub fn missing_hostdevs(cfg: &VmConfig, cwd: &Path) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for v in &cfg.vdevs {
        let Some((h, span)) = v.options.hostdev() else {
            continue;
        };
        if h.is_stdio() || h.direction == Some(Direction::Output) {
            continue;
        }
        if let Err(e) = std::fs::metadata(cwd.join(&h.path)) {
            diags.push(missing(
                &Spanned::new(h.path.clone(), span),
                &e,
                "the device's host side",
            ));
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found() {
        assert!(has_placeholder("@QNX_NAME@"));
        assert!(has_placeholder("@A@,@B@"));
        assert!(!has_placeholder("@file.qvmconf"));
        assert!(!has_placeholder("user@host"));
        assert!(!has_placeholder("@@"));
    }
}
