//! Reading the VMs a host starts: for each `qvm @PATH` of the boot script,
//! the configuration file the Manifest maps `PATH` to (a host file, or
//! inline contents), parsed by the qvmconf front end and reduced to
//! [`VmFacts`] by [`facts`]. Its own diagnostics point into its own file.

use crate::facts::{
    ArchFacts, HostLoc, LoadFacts, PartitionUse, PassFacts, Safety, SafetyLevel, VdevUse, VmFacts,
};
use crate::host::{Arch, HostView, QvmStart, basename};
use crate::{Options, codes};
use buildfile::{DataSource, EntryKind, Manifest};
use diag::{Diagnostic, SourceMap, Span};
use qvmconf::{Intr, Location, PciHost, Space, VmConfig};

/// The VMs that could be read, and what was found while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// One per `qvm` command whose configuration was read and is valid.
    pub vms: Vec<VmFacts>,
    /// Diagnostics of the configuration files (each in its own file), and
    /// H0204/H0206 at the `qvm` lines.
    pub diagnostics: Vec<Diagnostic>,
}

/// A configuration file's name in messages and its bytes.
struct Source {
    name: String,
    bytes: Vec<u8>,
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
            })),
            Err(err) => Err(unchecked(format!(
                "`{}`: {}",
                path.display(),
                io_reason(&err)
            ))),
        },
        DataSource::Inline { bytes } => Ok(Some(Source {
            name: target.to_string(),
            bytes: bytes.clone(),
        })),
        DataSource::Assumed { name } => {
            let d = unchecked(format!("the host file `{name}` is not on this machine"));
            Err(Box::new(d.help(
                "run where the file exists, or without --no-host-files to make a missing file an error",
            )))
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

/// Reads every VM the boot script starts.
pub fn load_vms(map: &mut SourceMap, manifest: &Manifest, opts: &Options) -> Loaded {
    let host = HostView::new(manifest, opts.sdp);
    let default = if host.is_safety_host() {
        SafetyLevel::Required
    } else {
        SafetyLevel::None
    };
    let qopts = qvmconf::Options {
        // `load` and `hostdev` name files of the running host, not of this machine.
        host_files: false,
        default_safety: match default {
            SafetyLevel::Required => qvmconf::SafetyLevel::Required,
            _ => qvmconf::SafetyLevel::None,
        },
        ..qvmconf::Options::default()
    };
    let mut out = Loaded::default();
    for s in &host.qvm_starts {
        if s.configs.is_empty() {
            continue; // H0207
        }
        let extra = s.args.iter().any(|a| !a.starts_with('@'));
        let (cfg, diags, files) = if s.configs.len() > 1 || extra {
            // qvm's whole command line: each `@PATH` read from its host file.
            match command_line(&host, s) {
                Ok(Some(words)) => {
                    let (cfg, diags) = qvmconf::load(map, &words, &qopts);
                    (cfg, diags, s.configs.join(", "))
                }
                Ok(None) => continue,
                Err(d) => {
                    out.diagnostics.push(*d);
                    continue;
                }
            }
        } else {
            let config = &s.configs[0];
            let src = match source(&host, config, s.span()) {
                Ok(Some(src)) => src,
                Ok(None) => continue,
                Err(d) => {
                    out.diagnostics.push(*d);
                    continue;
                }
            };
            let (cfg, diags) = qvmconf::load_source(map, &src.name, src.bytes, &qopts);
            (cfg, diags, src.name)
        };
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
            out.vms.push(facts(&cfg, s, default, map));
        }
    }
    out
}

fn level(l: qvmconf::SafetyLevel) -> SafetyLevel {
    match l {
        qvmconf::SafetyLevel::None => SafetyLevel::None,
        qvmconf::SafetyLevel::Warn => SafetyLevel::Warn,
        qvmconf::SafetyLevel::Required => SafetyLevel::Required,
    }
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
    let vdevs: Vec<VdevUse> = cfg
        .vdevs
        .iter()
        .map(|v| VdevUse {
            name: v.kind.name().to_string(),
            span: v.span,
            safety: v.safety_span.map(|span| Safety {
                level: level(v.safety),
                span,
            }),
        })
        .collect();
    // The last `safety` line: VmConfig keeps its level, and each vdev the
    // line in force for it. When the last level differs from the last
    // vdev's, the line comes after every vdev: its exact place is not
    // recorded, so the end of the (last) configuration file stands for it.
    let last_level = level(cfg.safety);
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
            arch: match a.arch {
                qvmconf::Arch::X86_64 => Arch::X86_64,
                qvmconf::Arch::Aarch64 => Arch::Aarch64,
            },
            reason: a.reason.clone(),
            span: a.span,
        }),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
