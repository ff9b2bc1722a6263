//! `qvmconf::VmConfig` → [`VmSpec`]: what `hvhost qvm @file` runs.

use std::path::Path;

use std::path::PathBuf;

use crate::{Error, codes};
use qvmconf::{
    Attach, ImageType, Intr, Location, MemKind as QMemKind, Space, UnsupportedAction, Vdev,
    VmConfig,
};
use vdev::{Applied, OptionValue, Value};

use diag::Span;

use crate::spec::{
    Dest, ImageFormat, Level, Load, LoadKind, Loc, LoggerSpec, MemKind, MemRegion, Policy,
    VdevSpec, VmSpec,
};

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
    let mem_spans;
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
    (spec.memory, mem_spans) = memory(cfg);
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
    spec.loads = loads(cfg, &abs, &mut refused);
    spec.cmdline = cfg.cmdline.as_ref().map(|c| c.value.clone());
    for (src, v) in cfg.vdevs.iter().enumerate() {
        if let Some(d) = vdev_spec(v, &abs, &mut refused) {
            spec.vdevs.push(d);
            vdev_src.push(src);
        }
    }
    for f in &cfg.foreign_vdevs {
        refused.push(Refusal {
            code: &codes::V0101,
            span: Some(f.span),
            msg: format!(
                "vdev {} is not one hvhost knows: this VMM cannot run it",
                f.name
            ),
            label: format!("a vendor's vdev (`{}`)", f.shared_object()),
            help: format!(
                "this VMM provides {}: remove the line to run the VM here (QNX qvm loads `{}`)",
                crate::validate::provided(),
                f.shared_object()
            ),
        });
    }
    spec.unsupported_reference = match cfg.unsupported.reference {
        UnsupportedAction::Ignore => Policy::Ignore,
        UnsupportedAction::Fail => Policy::Fail,
        UnsupportedAction::Abort => Policy::Abort,
    };
    spec.exit_on_halt = cfg
        .setting("exit-on-halt")
        .is_some_and(|v| !matches!(v, "0" | "off" | "no" | "false"));
    spec.logger = logger(cfg, &mut refused);
    spec.dryrun = cfg.dryrun;
    Converted {
        spec,
        mem_spans,
        vdev_src,
        refused,
    }
}

/// `ram`, `rom` and `reserve loc mem:...` as memory regions, with their lines.
fn memory(cfg: &VmConfig) -> (Vec<MemRegion>, Vec<Span>) {
    let mut regions = Vec::new();
    let mut mem_spans = Vec::new();
    for m in &cfg.memory {
        let kind = match m.kind {
            QMemKind::Ram => MemKind::Ram,
            QMemKind::Rom => MemKind::Rom,
        };
        regions.push(MemRegion {
            kind,
            start: m.start,
            size: m.len,
        });
        mem_spans.push(m.span);
    }
    for r in &cfg.reserves {
        if let Some(Location::Region {
            space: Space::Mem,
            start,
            len,
            ..
        }) = r.loc.as_ref().map(|l| &l.value)
        {
            regions.push(MemRegion {
                kind: MemKind::Reserve,
                start: *start,
                size: *len,
            });
            mem_spans.push(r.span);
        }
    }
    (regions, mem_spans)
}

/// The loads, typed as far as their headers tell; `acpi`/`fdt` loads and
/// arm64 images are refused.
fn loads(cfg: &VmConfig, abs: &dyn Fn(&str) -> PathBuf, refused: &mut Vec<Refusal>) -> Vec<Load> {
    let mut out = Vec::new();
    for l in &cfg.loads {
        let format = match (l.kind, &l.detected) {
            (LoadKind::Data | LoadKind::Initrd, _) => ImageFormat::Auto,
            (LoadKind::Acpi | LoadKind::Fdt, _) => {
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
            (LoadKind::Image, ImageType::BzImage { .. }) => ImageFormat::Bzimage,
            (LoadKind::Image, ImageType::Ifs) => ImageFormat::Ifs,
            (LoadKind::Image, ImageType::Raw) => ImageFormat::Raw,
            (LoadKind::Image, ImageType::Arm64Image { .. }) => {
                refused.push(refuse(
                    Some(l.path.span),
                    format!("{}: an arm64 image cannot run on x86 KVM", l.path.value),
                    "an arm64 image",
                    "load an x86-64 image (ELF, multiboot, bzImage, IFS) to run the VM here",
                ));
                continue;
            }
            (LoadKind::Image, _) => ImageFormat::Auto,
        };
        out.push(Load {
            kind: l.kind,
            format,
            addr: l.addr,
            path: abs(&l.path.value),
        });
    }
    out
}

/// `logger`: its filters and destination (an unknown one is refused).
fn logger(cfg: &VmConfig, refused: &mut Vec<Refusal>) -> LoggerSpec {
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
    LoggerSpec {
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
    }
}

/// The VMM's spec of one vdev, or None (and why, in `refused`) when the
/// VMM cannot run it: the device, or one of its options, is declared
/// refused, or its `loc` is a PCI one. Options declared accepted but not
/// applied are left out.
fn vdev_spec(
    v: &Vdev,
    abs: &dyn Fn(&str) -> PathBuf,
    refused: &mut Vec<Refusal>,
) -> Option<VdevSpec> {
    if v.kind.hvhost() == Applied::Refused {
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
        return None;
    }
    let loc = match v.loc.as_ref().map(|l| &l.value) {
        Some(Location::Region {
            space, start, len, ..
        }) => Some(Loc {
            space: *space,
            base: *start,
            len: (*len > 0).then_some(*len),
        }),
        // a PCI address: qvmconf's validator put it in `attach`
        Some(_) => None,
        None => None,
    };
    let mut lines = v
        .intr
        .iter()
        .filter(|i| matches!(i.value, Intr::Line { .. }))
        .map(|i| i.value.clone());
    let mut d = VdevSpec {
        loc,
        intr: lines.next(),
        more_intr: lines.collect(),
        name: v.name.as_ref().map(|n| n.value.clone()),
        pci: match v.attach {
            Attach::Pci { addr, .. } => Some(addr),
            _ => None,
        },
        ..VdevSpec::new(v.kind)
    };
    let mut ok = true;
    for g in &v.options.given {
        match g.decl.hvhost {
            Applied::Runs => {
                let value = match &g.value {
                    Value::HostDev(h) if !h.is_stdio() => {
                        let mut h = h.clone();
                        h.path = abs(&h.path).display().to_string();
                        Value::HostDev(h)
                    }
                    other => other.clone(),
                };
                d.options.push(OptionValue::new(g.decl.name, value));
            }
            Applied::Ignored => {}
            Applied::Refused => {
                ok = false;
                refused.push(refuse(
                    Some(g.span),
                    format!(
                        "vdev {}: `{}` is not supported by this VMM",
                        v.kind.name(),
                        g.decl.name
                    ),
                    "not supported here",
                    "remove the option to run the VM here",
                ));
            }
        }
    }
    ok.then_some(d)
}
