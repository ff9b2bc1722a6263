//! Reading the VMs a host starts: for each `qvm @PATH` of the boot script,
//! the configuration file the Manifest maps `PATH` to (a host file, or
//! inline contents), parsed by the qvmconf front end and reduced to
//! [`VmFacts`] by [`facts`]. Its own diagnostics point into its own file.

use crate::facts::{
    ArchFacts, HostLoc, LoadFacts, PartitionUse, PassFacts, Safety, SafetyLevel, VdevUse, VmFacts,
};
use crate::host::{HostView, QvmStart, basename};
use crate::{Options, codes};
use buildfile::{DataSource, EntryKind, Manifest};
use diag::{Diagnostic, FileId, SourceMap, Span};
use qvmconf::{Intr, Location, PciHost, Space, VmConfig};

/// The VMs that could be read, and what was found while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// One per `qvm` command whose configuration was read and is valid.
    pub vms: Vec<VmFacts>,
    /// Diagnostics of the configuration files (each in its own file; text
    /// taken from the buildfile, an inline configuration or qvm's option
    /// words in the boot script, at its place in the buildfile), and
    /// H0204/H0206 at the `qvm` lines.
    pub diagnostics: Vec<Diagnostic>,
}

/// A configuration file's name in messages and its bytes.
struct Source {
    name: String,
    bytes: Vec<u8>,
    /// For inline contents: the entry, whose buildfile text holds them.
    inline_in: Option<Span>,
}

/// The bytes of the image entry at `target`: `Ok(None)` when the image has
/// no such file (reported by the host domain rules, H0203).
fn source(host: &HostView, target: &str, at: Span) -> Result<Option<Source>, Box<Diagnostic>> {
    let Some(e) = host.find_followed(target) else {
        return Ok(None);
    };
    let EntryKind::File(f) = &e.kind else {
        return Ok(None);
    };
    let unchecked = |why: String| {
        Box::new(
            Diagnostic::new(
                &codes::H0206,
                format!(
                    "the configuration `{target}` cannot be read here: {why}; its VM is not checked"
                ),
            )
            .at(at, "this VM is not checked")
            .with(e.span, "its entry in the image"),
        )
    };
    match &f.source {
        DataSource::Host { path } => match std::fs::read(path) {
            Ok(bytes) => Ok(Some(Source {
                name: path.display().to_string(),
                bytes,
                inline_in: None,
            })),
            Err(err) => Err(unchecked(format!(
                "`{}`: {}",
                path.display(),
                diag::io::reason(&err)
            ))),
        },
        DataSource::Inline { bytes } => Ok(Some(Source {
            name: target.to_string(),
            bytes: bytes.clone(),
            inline_in: Some(e.span),
        })),
        DataSource::Assumed { name } => {
            let d = unchecked(format!("the host file `{name}` is not on this machine"));
            Err(Box::new(d.help(missing_help(name))))
        }
        DataSource::Script => Err(unchecked("it is the boot script".into())),
    }
}

/// qvm's words with each `@PATH` replaced by the host file the image takes
/// it from: `Ok(None)` when a file is not in the image (H0203), an error
/// when one is not a host file readable here.
fn command_line(host: &HostView, s: &QvmStart) -> Result<Option<Vec<String>>, Box<Diagnostic>> {
    let mut words = Vec::new();
    for a in s.args {
        let Some(t) = a.strip_prefix('@') else {
            words.push(a.clone());
            continue;
        };
        let target = crate::host::absolute(t);
        let Some(e) = host.find_followed(&target) else {
            return Ok(None);
        };
        match e.file().map(|f| &f.source) {
            Some(DataSource::Host { path }) => words.push(format!("@{}", path.display())),
            Some(_) => {
                return Err(Box::new(
                    Diagnostic::new(
                        &codes::H0206,
                        format!(
                            "`{target}` is not a host file readable here: a qvm with several `@FILE`s or options is checked from the files on this machine; its VM is not checked"
                        ),
                    )
                    .at(s.span(), "this VM is not checked")
                    .with(e.span, "its entry in the image"),
                ));
            }
            None => return Ok(None),
        }
    }
    Ok(Some(words))
}

/// The qvmconf options a host's configurations are read with: `load` and
/// `hostdev` name files of the running host (not of this machine), and a
/// safety host's components default to `safety required`.
pub fn config_options(host: &HostView) -> qvmconf::Options {
    qvmconf::Options {
        host_files: false,
        default_safety: if host.is_safety_host() {
            qvmconf::SafetyLevel::Required
        } else {
            qvmconf::SafetyLevel::None
        },
        ..qvmconf::Options::default()
    }
}

/// One VM's configuration as a `qvm` command of the boot script reads it.
pub struct ConfigRead {
    /// The configuration, when it could be parsed (it may still have errors).
    pub config: Option<VmConfig>,
    /// Its diagnostics, located in the buildfile where the text came from it.
    pub diagnostics: Vec<Diagnostic>,
    /// The file name(s) the configuration was read from, for messages.
    pub files: String,
    remap: Remap,
}

impl ConfigRead {
    /// Moves diagnostics about the configuration (its spans) to where its
    /// text is: the buildfile for inline configurations and qvm's words.
    pub fn locate(&self, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
        self.remap.diags(diags)
    }
}

/// Reads the configuration the `qvm` command `s` starts: its `@PATH`s from
/// the host files or inline contents the Manifest puts there, and its other
/// words, as one option stream. `Ok(None)`: nothing to read (no `@PATH`, or
/// a path that is not in the image, which the host rules report).
pub fn read_config(
    map: &mut SourceMap,
    host: &HostView,
    s: &QvmStart,
    qopts: &qvmconf::Options,
) -> Result<Option<ConfigRead>, Box<Diagnostic>> {
    if s.configs.is_empty() {
        return Ok(None); // H0207
    }
    let extra = s.args.iter().any(|a| !a.starts_with('@'));
    if s.configs.len() > 1 || extra {
        // qvm's whole command line: each `@PATH` read from its host file.
        let Some(words) = command_line(host, s)? else {
            return Ok(None);
        };
        let first_new = map.files().count();
        let (config, diags) = qvmconf::load(map, &words, qopts);
        let remap = command_line_remap(map, first_new, s, &words);
        return Ok(Some(ConfigRead {
            config,
            diagnostics: remap.diags(diags),
            files: s.configs.join(", "),
            remap,
        }));
    }
    let config = &s.configs[0];
    let Some(src) = source(host, config, s.span())? else {
        return Ok(None);
    };
    // Read out of an image: the entry's span is in a file holding its bytes,
    // registered under `IMAGE:/PATH` (see `ifs::sniff`); that is its name.
    let in_image = src
        .inline_in
        .and_then(|e| map.get(e.file))
        .filter(|f| f.bytes() == src.bytes.as_slice())
        .map(|f| f.name().to_string());
    Ok(Some(match src.inline_in.filter(|_| in_image.is_none()) {
        Some(entry) => {
            // Parsed under a name saying where the text is; every span is
            // then moved to the text in the buildfile.
            let origin = format!(
                "{config} (inline in {})",
                map.location(entry).rsplit_once(':').map_or("", |(l, _)| l)
            );
            let first_new = map.files().count();
            let (cfg, diags) = qvmconf::load_source(map, &origin, src.bytes, qopts);
            let remap = inline_remap(map, first_new, entry);
            ConfigRead {
                config: cfg,
                diagnostics: remap.diags(diags),
                files: origin,
                remap,
            }
        }
        None => {
            let name = in_image.unwrap_or(src.name);
            let (cfg, diags) = qvmconf::load_source(map, &name, src.bytes, qopts);
            ConfigRead {
                config: cfg,
                diagnostics: diags,
                files: name,
                remap: Remap::default(),
            }
        }
    }))
}

/// Reads every VM the boot script starts.
pub fn load_vms(map: &mut SourceMap, manifest: &Manifest, opts: &Options) -> Loaded {
    let host = HostView::new(manifest, opts.sdp);
    let default = if host.is_safety_host() {
        SafetyLevel::Required
    } else {
        SafetyLevel::None
    };
    let qopts = config_options(&host);
    let mut out = Loaded::default();
    for s in &host.qvm_starts {
        let read = match read_config(map, &host, s, &qopts) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(d) => {
                out.diagnostics.push(*d);
                continue;
            }
        };
        let ConfigRead {
            config: cfg,
            diagnostics: diags,
            files,
            remap,
        } = read;
        let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
        if let Some(first) = errors.first() {
            let mut d = Diagnostic::new(
                &codes::H0204,
                format!(
                    "the configuration `{}` has {} error{}: this qvm would stop with exit code 65 (fatal configuration error)",
                    s.configs.join(" "),
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                ),
            )
            .at(s.span(), "this VM does not start");
            if let Some(sp) = first.span() {
                d = d.with(sp, "the first error");
            }
            out.diagnostics
                .push(d.help(format!("fix the errors reported in `{files}`")));
        }
        out.diagnostics.extend(diags);
        if let Some(cfg) = cfg {
            let mut vm = facts(&cfg, s, default, map);
            remap.facts(&mut vm);
            out.vms.push(vm);
        }
    }
    out
}

/// The host side of a pass-through location.
pub fn host_loc(l: &Location) -> HostLoc {
    match *l {
        Location::Region {
            space,
            start,
            len,
            host,
            ..
        } => {
            let start = host.unwrap_or(start);
            match space {
                Space::Mem => HostLoc::Mem { start, len },
                Space::Io => HostLoc::Io { start, len },
            }
        }
        Location::Pci { addr, host } => match host {
            Some(PciHost::Addr(a)) => HostLoc::PciAddr {
                bus: a.bus,
                dev: a.dev,
                func: Some(a.func),
            },
            Some(PciHost::Id { vendor, device }) => HostLoc::PciId { vendor, device },
            None => HostLoc::PciAddr {
                bus: addr.bus,
                dev: addr.dev,
                func: Some(addr.func),
            },
        },
        Location::PciId { vendor, device } => HostLoc::PciId { vendor, device },
    }
}

/// Reduces a parsed configuration to what the host rules need. `start` is
/// the `qvm` command that runs it; `default` the safety level before any
/// `safety` line; `map` holds the configuration's files.
pub fn facts(cfg: &VmConfig, start: &QvmStart, default: SafetyLevel, map: &SourceMap) -> VmFacts {
    let stem = |p: &str| {
        let b = basename(p);
        b.strip_suffix(".qvmconf").unwrap_or(b).to_string()
    };
    let name = cfg
        .system
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_else(|| start.configs.first().map(|c| stem(c)).unwrap_or_default());
    let safety = |level, span: Option<diag::Span>| span.map(|span| Safety { level, span });
    // A vendor's own vdevs too: whether the image holds them is the host's
    // verdict (their options cannot be checked; Q0112).
    let vdevs: Vec<VdevUse> = cfg
        .vdevs
        .iter()
        .map(|v| VdevUse {
            name: v.kind.name().to_string(),
            span: v.span,
            safety: safety(v.safety, v.safety_span),
        })
        .chain(cfg.foreign_vdevs.iter().map(|f| VdevUse {
            name: f.name.clone(),
            span: f.span,
            safety: safety(f.safety, f.safety_span),
        }))
        .collect();
    // The last `safety` line: VmConfig keeps its level, and each vdev the
    // line in force for it. When the last level differs from the last
    // vdev's, the line comes after every vdev: its exact place is not
    // recorded, so the end of the (last) configuration file stands for it.
    let last_level = cfg.safety;
    let last_vdev_line = vdevs
        .iter()
        .filter_map(|v| v.safety)
        .max_by_key(|s| (s.span.file, s.span.start));
    let last_safety = match last_vdev_line {
        Some(s) if s.level == last_level => Some(s),
        _ if last_level == default => None,
        _ => {
            let file = cfg
                .vdevs
                .iter()
                .map(|v| v.span.file)
                .chain(cfg.system.iter().map(|s| s.span.file))
                .chain(cfg.memory.iter().map(|r| r.span.file))
                .max();
            file.and_then(|f| map.get(f).map(|sf| (f, sf.bytes().len())))
                .map(|(f, len)| Safety {
                    level: last_level,
                    span: Span::new(f, len, len),
                })
        }
    };
    VmFacts {
        name,
        configs: start.configs.clone(),
        start: Some(start.index),
        vdevs,
        pass: cfg
            .passes
            .iter()
            .map(|p| PassFacts {
                loc: p.loc.as_ref().map(|l| host_loc(&l.value)),
                intr: p.intr.iter().find_map(|i| match i.value {
                    Intr::Line {
                        line, host_vector, ..
                    } => Some(host_vector.unwrap_or(line)),
                    Intr::Apic => None,
                }),
                span: p.span,
            })
            .collect(),
        partitions: cfg
            .cpus
            .iter()
            .filter_map(|c| {
                c.partition.as_ref().map(|p| PartitionUse {
                    name: p.value.clone(),
                    span: p.span,
                })
            })
            .collect(),
        loads: cfg
            .loads
            .iter()
            .map(|l| LoadFacts {
                path: l.path.value.clone(),
                span: l.span,
            })
            .collect(),
        last_safety,
        arch: cfg.arch.as_ref().map(|a| ArchFacts {
            arch: a.arch,
            reason: a.reason.clone(),
            span: a.span,
        }),
    }
}

/// How a host file that is not here is found: a path relative to the
/// current directory, or a bare name along the search path.
pub fn where_host_files_are(name: &str) -> String {
    if name.contains('/') {
        format!(
            "`{name}` is relative to the current directory: run from the directory the buildfile's paths are relative to"
        )
    } else {
        format!(
            "a bare name is looked for along the search path only (MKIFS_PATH, or the defaults under -r and QNX_TARGET), never in the current directory, as mkifs does: write `./{name}` for a file here, or add its directory to MKIFS_PATH or `[search=DIR]`"
        )
    }
}

/// [`where_host_files_are`], and how to make a missing file an error.
fn missing_help(name: &str) -> String {
    format!(
        "{}, or check without --no-host-files, which makes a missing file an error",
        where_host_files_are(name)
    )
}

/// Moves spans in files that qvmconf registered for text taken from the
/// buildfile (an inline configuration, qvm's option words in the boot
/// script) to that text in the buildfile.
#[derive(Default)]
struct Remap {
    /// `(file, buildfile, pieces)`: each piece maps `from..to` of the file to
    /// `at..at_end` of the buildfile (offsets inside a piece move with it).
    files: Vec<(FileId, FileId, Vec<Piece>)>,
}

/// A stretch of a registered file and the buildfile text it came from.
#[derive(Debug, Clone, Copy)]
struct Piece {
    from: usize,
    to: usize,
    at: usize,
    at_end: usize,
    /// Bytes before the text proper at `at` (an opening quote).
    shift: usize,
}

impl Remap {
    fn offset(pieces: &[Piece], o: usize, end: bool) -> usize {
        // The piece holding `o` (a span's end may sit on a piece's end).
        let p = pieces
            .iter()
            .find(|p| o >= p.from && (o < p.to || (end && o == p.to)))
            .or_else(|| pieces.iter().rev().find(|p| p.to <= o))
            .or_else(|| pieces.first());
        match p {
            Some(p) if end && o >= p.to => p.at_end,
            Some(p) if !end && o <= p.from => p.at,
            Some(p) => (p.at + p.shift + (o - p.from)).min(p.at_end),
            None => o,
        }
    }

    fn span(&self, sp: Span) -> Span {
        match self.files.iter().find(|(f, _, _)| *f == sp.file) {
            Some((_, to, pieces)) => {
                let start = Self::offset(pieces, sp.start as usize, false);
                let end = Self::offset(pieces, sp.end as usize, sp.end > sp.start);
                Span::new(*to, start, end.max(start))
            }
            None => sp,
        }
    }

    fn diags(&self, mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
        if self.files.is_empty() {
            return diags;
        }
        for d in &mut diags {
            for l in d.primary.iter_mut().chain(d.secondary.iter_mut()) {
                l.span = self.span(l.span);
            }
        }
        diags
    }

    fn facts(&self, vm: &mut VmFacts) {
        if self.files.is_empty() {
            return;
        }
        for v in &mut vm.vdevs {
            v.span = self.span(v.span);
            if let Some(s) = &mut v.safety {
                s.span = self.span(s.span);
            }
        }
        for p in &mut vm.pass {
            p.span = self.span(p.span);
        }
        for p in &mut vm.partitions {
            p.span = self.span(p.span);
        }
        for l in &mut vm.loads {
            l.span = self.span(l.span);
        }
        if let Some(s) = &mut vm.last_safety {
            s.span = self.span(s.span);
        }
        if let Some(a) = &mut vm.arch {
            a.span = self.span(a.span);
        }
    }
}

/// Line start offsets of a text (the first is 0).
fn line_starts(text: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr_newlines(text).map(|i| i + 1))
        .collect()
}

fn memchr_newlines(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    text.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}

/// The inline configuration registered as the one file added to `map`
/// since `first_new`, mapped line by line to the body of the entry's
/// `{ ... }` in the buildfile (the line after `{` onwards). Escapes (`\}`)
/// may shift a column by one on their line; lines stay exact. When the
/// buildfile text does not have the lines the contents have, nothing moves
/// (the file's name still says where the text is).
fn inline_remap(map: &SourceMap, first_new: usize, entry: Span) -> Remap {
    let Some((id, file)) = map.files().nth(first_new) else {
        return Remap::default();
    };
    let Some(build) = map.get(entry.file) else {
        return Remap::default();
    };
    let text = build.bytes();
    let from = (entry.start as usize).min(text.len());
    let Some(open) = text[from..]
        .iter()
        .position(|&b| b == b'{')
        .map(|i| from + i)
    else {
        return Remap::default();
    };
    let Some(body) = text[open..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| open + i + 1)
    else {
        return Remap::default();
    };
    let inner = line_starts(file.bytes());
    let outer: Vec<usize> = line_starts(&text[body..])
        .iter()
        .map(|o| body + o)
        .collect();
    if outer.len() < inner.len() {
        return Remap::default();
    }
    let len = file.bytes().len();
    let pieces = inner
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = inner.get(i + 1).copied().unwrap_or(len);
            let at = outer[i];
            let at_end = outer.get(i + 1).copied().unwrap_or(text.len()).max(at);
            Piece {
                from: start,
                to: end,
                at,
                at_end: at_end.min(at + (end - start)).max(at),
                shift: 0,
            }
        })
        .collect();
    Remap {
        files: vec![(id, entry.file, pieces)],
    }
}

/// The `<command line>` file qvmconf registered for qvm's words (if any,
/// since `first_new`), mapped word by word to the words of the script line
/// (quotes included when a span covers a whole word).
fn command_line_remap(map: &SourceMap, first_new: usize, s: &QvmStart, words: &[String]) -> Remap {
    let Some((id, _)) = map
        .files()
        .skip(first_new)
        .find(|(_, f)| f.name() == "<command line>")
    else {
        return Remap::default();
    };
    let line = s.span();
    let Some(build) = map.get(line.file) else {
        return Remap::default();
    };
    let text = build.bytes();
    let (lo, hi) = (
        (line.start as usize).min(text.len()),
        (line.end as usize).min(text.len()),
    );
    let script_words = script_words(&text[lo..hi]);
    // qvm's words are the last `words.len()` words of the line before `&`.
    let script_words: Vec<(usize, usize)> = script_words
        .into_iter()
        .filter(|&(a, b)| &text[lo + a..lo + b] != b"&")
        .map(|(a, b)| (lo + a, lo + b))
        .collect();
    if script_words.len() < words.len() {
        return Remap::default();
    }
    let script_words = &script_words[script_words.len() - words.len()..];
    let mut pieces = Vec::new();
    let mut pos = 0;
    for (w, &(a, b)) in words.iter().zip(script_words) {
        pieces.push(Piece {
            from: pos,
            to: pos + w.len(),
            at: a,
            at_end: b,
            shift: usize::from(
                matches!(text.get(a), Some(b'"' | b'\'')) && !w.starts_with(['"', '\'']),
            ),
        });
        pos += w.len() + 1;
    }
    Remap {
        files: vec![(id, line.file, pieces)],
    }
}

/// The words of a script line as `(start, end)` offsets, quotes included.
fn script_words(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && !text[i].is_ascii_whitespace() {
            if text[i] == b'"' || text[i] == b'\'' {
                let q = text[i];
                i += 1;
                while i < text.len() && text[i] != q {
                    if q == b'"' && text[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            i += 1;
        }
        out.push((start, i.min(text.len())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_a_script_line() {
        let t = br#"qvm @/a.qvmconf cmdline "hello off" x='a b' &"#;
        let w: Vec<&str> = script_words(t)
            .into_iter()
            .map(|(a, b)| std::str::from_utf8(&t[a..b]).unwrap())
            .collect();
        assert_eq!(
            w,
            [
                "qvm",
                "@/a.qvmconf",
                "cmdline",
                "\"hello off\"",
                "x='a b'",
                "&"
            ]
        );
    }

    #[test]
    fn spans_move_into_pieces() {
        let pieces = [
            Piece {
                from: 0,
                to: 7,
                at: 100,
                at_end: 107,
                shift: 0,
            },
            Piece {
                from: 8,
                to: 17,
                at: 108,
                at_end: 119,
                shift: 1,
            },
        ];
        // A whole word, quotes included.
        assert_eq!(Remap::offset(&pieces, 8, false), 108);
        assert_eq!(Remap::offset(&pieces, 17, true), 119);
        // Inside a quoted word: after the quote.
        assert_eq!(Remap::offset(&pieces, 9, false), 110);
        assert_eq!(Remap::offset(&pieces, 3, false), 103);
    }
}
