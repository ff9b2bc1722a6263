//! `qvmconf::VmConfig` → [`VmSpec`]: what `hvhost qvm @file` runs.

use std::path::Path;

use crate::{Error, codes};
use qvmconf::{
    Direction, ImageType, Intr as QIntr, LoadKind as QLoadKind, Location, MemKind as QMemKind,
    Space as QSpace, UnsupportedAction, VdevKind, VdevOptions, VmConfig,
};

use diag::Span;

use crate::spec::{
    Dest, Intr, Level, Load, LoadKind, Loc, LoggerSpec, MemKind, MemRegion, Policy, Space,
    VdevSpec, VmSpec,
};

fn space(s: QSpace) -> Space {
    match s {
        QSpace::Io => Space::Io,
        QSpace::Mem => Space::Mem,
    }
}

fn level(name: &str) -> Result<Level, String> {
    Ok(match name {
        "fatal" => Level::Fatal,
        "internal" => Level::Internal,
        "error" => Level::Error,
        "warn" => Level::Warn,
        "info" => Level::Info,
        "debug" => Level::Debug,
        "verbose" => Level::Verbose,
        other => return Err(format!("logger: unknown filter `{other}`")),
    })
}

/// Something of a configuration this VMM does not provide, located.
pub(crate) struct Refusal {
    pub code: &'static diag::Code,
    pub span: Option<Span>,
    pub msg: String,
    pub label: String,
    pub help: String,
}

/// A converted configuration: the spec, for each of its vdevs the index of
/// the configuration's vdev it comes from, and what could not be converted
/// (the refused lines are left out of the spec).
pub(crate) struct Converted {
    pub spec: VmSpec,
    /// Per region of `spec.memory`: its line.
    pub mem_spans: Vec<Span>,
    pub vdev_src: Vec<usize>,
    pub refused: Vec<Refusal>,
}

fn refuse(
    span: Option<Span>,
    msg: impl Into<String>,
    label: impl Into<String>,
    help: impl Into<String>,
) -> Refusal {
    Refusal {
        code: &codes::V0102,
        span,
        msg: msg.into(),
        label: label.into(),
        help: help.into(),
    }
}

/// The VmSpec for a VM read by the qvmconf crate. Relative paths (`load`,
/// `hostdev`) are taken relative to `cwd`. vdevs this VMM does not provide
/// yet (virtio, PCI, shmem, hpet, ARM devices) are a configuration error;
/// [`crate::preflight`] reports them (and every other problem) located.
pub fn spec_from_config(cfg: &VmConfig, cwd: &Path) -> Result<VmSpec, Error> {
    let c = convert(cfg, cwd);
    match c.refused.into_iter().next() {
        Some(r) => Err(Error::Config(r.msg)),
        None => Ok(c.spec),
    }
}

pub(crate) fn convert(cfg: &VmConfig, cwd: &Path) -> Converted {
    let mut refused = Vec::new();
    let mut vdev_src = Vec::new();
    let mut mem_spans = Vec::new();
    let abs = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let mut spec = VmSpec {
        name: cfg
            .system
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| "vm".into()),
        ..Default::default()
    };
    for m in &cfg.memory {
        let kind = match m.kind {
            QMemKind::Ram => MemKind::Ram,
            QMemKind::Rom => MemKind::Rom,
        };
        spec.memory.push(MemRegion {
            kind,
            start: m.start,
            size: m.len,
        });
        mem_spans.push(m.span);
    }
    for r in &cfg.reserves {
        if let Some(Location::Region {
            space: QSpace::Mem,
            start,
            len,
            ..
        }) = r.loc.as_ref().map(|l| &l.value)
        {
            spec.memory.push(MemRegion {
                kind: MemKind::Reserve,
                start: *start,
                size: *len,
            });
            mem_spans.push(r.span);
        }
    }
    for p in &cfg.passes {
        refused.push(refuse(
            Some(p.span),
            "`pass` (pass-through) is not supported by this VMM",
            "pass-through",
            "remove the `pass` line to run the VM here (QNX qvm passes devices through)",
        ));
    }
    spec.cpus = cfg.cpus.len().max(1) as u32;
    spec.runmasks = cfg.cpus.iter().map(|c| c.runmask.clone()).collect();
    for l in &cfg.loads {
        let kind = match (l.kind, &l.detected) {
            (QLoadKind::Data, _) => LoadKind::Data,
            (QLoadKind::Initrd, _) => LoadKind::Initrd,
            (QLoadKind::Acpi | QLoadKind::Fdt, _) => {
                refused.push(refuse(
                    Some(l.span),
                    format!(
                        "`{} load` is not supported by this VMM",
                        format!("{:?}", l.kind).to_lowercase()
                    ),
                    "not supported here",
                    "remove the line: this VMM builds the guest's boot tables itself",
                ));
                continue;
            }
            (QLoadKind::Image, ImageType::BzImage { .. }) => LoadKind::Bzimage,
            (QLoadKind::Image, ImageType::Ifs) => LoadKind::Ifs,
            (QLoadKind::Image, ImageType::Raw) => LoadKind::Raw,
            (QLoadKind::Image, ImageType::Arm64Image { .. }) => {
                refused.push(refuse(
                    Some(l.path.span),
                    format!("{}: an arm64 image cannot run on x86 KVM", l.path.value),
                    "an arm64 image",
                    "load an x86-64 image (ELF, multiboot, bzImage, IFS) to run the VM here",
                ));
                continue;
            }
            (QLoadKind::Image, _) => LoadKind::Auto,
        };
        spec.loads.push(Load {
            kind,
            addr: l.addr,
            path: abs(&l.path.value),
        });
    }
    spec.cmdline = cfg.cmdline.as_ref().map(|c| c.value.clone());
    for (src, v) in cfg.vdevs.iter().enumerate() {
        let supported = matches!(
            v.kind,
            VdevKind::Pic8259
                | VdevKind::Ioapic
                | VdevKind::Timer8254
                | VdevKind::Mc146818
                | VdevKind::Pckeyboard
                | VdevKind::Ser8250
                | VdevKind::Progress
        );
        if !supported {
            refused.push(Refusal {
                code: &codes::V0101,
                span: Some(v.span),
                msg: format!("vdev {} is not provided by this VMM yet", v.kind.name()),
                label: "not provided by this VMM".into(),
                help: format!(
                    "this VMM provides {}: remove the line to run the VM here (QNX qvm has the others)",
                    crate::validate::provided()
                ),
            });
            continue;
        }
        let loc = match v.loc.as_ref().map(|l| &l.value) {
            Some(Location::Region {
                space: s,
                start,
                len,
                ..
            }) => Some(Loc {
                space: space(*s),
                base: *start,
                len: (*len > 0).then_some(*len),
            }),
            Some(_) => {
                refused.push(refuse(
                    v.loc.as_ref().map(|l| l.span),
                    format!("vdev {}: a PCI `loc` needs PCI support", v.kind.name()),
                    "a PCI location",
                    "give a port or memory location (`loc io:PORT`, `loc mem:ADDR`); this VMM has no PCI bus",
                ));
                continue;
            }
            None => None,
        };
        let intr = v.intr.iter().find_map(|i| match &i.value {
            QIntr::Line { pic, line, .. } => Some(Intr {
                controller: pic.clone().unwrap_or_else(|| "ioapic".into()),
                line: Some(*line),
            }),
            QIntr::Apic => None,
        });
        let mut d = VdevSpec {
            kind: v.kind.name().to_string(),
            loc,
            intr,
            name: v.name.as_ref().map(|n| n.value.clone()),
            ..Default::default()
        };
        match &v.options {
            VdevOptions::Mc146818 { regs } => {
                d.regs = regs
                    .iter()
                    .map(|&(i, v)| (u64::from(i), u64::from(v)))
                    .collect();
            }
            VdevOptions::Ser8250 {
                hostdev: Some(h), ..
            } => {
                let path = if h.is_stdio() {
                    "-".to_string()
                } else {
                    abs(&h.path).display().to_string()
                };
                d.hostdev = Some(match h.direction {
                    Some(Direction::Input) => format!("<{path}"),
                    Some(Direction::Output) if h.is_stdio() => ">-".to_string(),
                    Some(Direction::Output) => format!(">{path}"),
                    None => path,
                });
            }
            _ => {}
        }
        spec.vdevs.push(d);
        vdev_src.push(src);
    }
    spec.unsupported_reference = match cfg.unsupported.reference {
        UnsupportedAction::Ignore => Policy::Ignore,
        UnsupportedAction::Fail => Policy::Fail,
        UnsupportedAction::Abort => Policy::Abort,
    };
    spec.exit_on_halt = cfg
        .setting("exit-on-halt")
        .is_some_and(|v| !matches!(v, "0" | "off" | "no" | "false"));
    let mut filters = Vec::new();
    for f in &cfg.logger.filters {
        match level(f) {
            Ok(l) => filters.push(l),
            Err(msg) => refused.push(refuse(
                cfg.logger.span,
                msg,
                "unknown filter",
                "the filters are fatal, internal, error, warn, info, debug, verbose",
            )),
        }
    }
    spec.logger = LoggerSpec {
        filters,
        dest: match cfg.logger.dest.as_str() {
            "stdout" => Dest::Stdout,
            "stderr" => Dest::Stderr,
            "slog" => Dest::Slog,
            "none" => Dest::None,
            other => {
                refused.push(refuse(
                    cfg.logger.span,
                    format!("logger: unknown destination `{other}`"),
                    "unknown destination",
                    "the destinations are stdout, stderr, slog, none",
                ));
                Dest::Stderr
            }
        },
    };
    spec.dryrun = cfg.dryrun;
    Converted {
        spec,
        mem_spans,
        vdev_src,
        refused,
    }
}
