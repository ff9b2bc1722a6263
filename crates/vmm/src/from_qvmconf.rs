//! `qvmconf::VmConfig` → [`VmSpec`]: what `hvhost qvm @file` runs.

use std::path::Path;

use qvmconf::{
    Direction, ImageType, Intr as QIntr, LoadKind as QLoadKind, Location, MemKind as QMemKind,
    Space as QSpace, UnsupportedAction, VdevKind, VdevOptions, VmConfig,
};

use crate::Error;
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

fn level(name: &str) -> Result<Level, Error> {
    Ok(match name {
        "fatal" => Level::Fatal,
        "internal" => Level::Internal,
        "error" => Level::Error,
        "warn" => Level::Warn,
        "info" => Level::Info,
        "debug" => Level::Debug,
        "verbose" => Level::Verbose,
        other => return Err(Error::Config(format!("logger: unknown filter `{other}`"))),
    })
}

/// The VmSpec for a VM read by the qvmconf crate. Relative paths (`load`,
/// `hostdev`) are taken relative to `cwd`. vdevs this VMM does not provide
/// yet (virtio, PCI, shmem, hpet, ARM devices) are a configuration error.
pub fn spec_from_config(cfg: &VmConfig, cwd: &Path) -> Result<VmSpec, Error> {
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
        }
    }
    if !cfg.passes.is_empty() {
        return Err(Error::Config(
            "`pass` (pass-through) is not supported by this VMM".into(),
        ));
    }
    spec.cpus = cfg.cpus.len().max(1) as u32;
    spec.runmasks = cfg.cpus.iter().map(|c| c.runmask.clone()).collect();
    for l in &cfg.loads {
        let kind = match (l.kind, &l.detected) {
            (QLoadKind::Data, _) => LoadKind::Data,
            (QLoadKind::Initrd, _) => LoadKind::Initrd,
            (QLoadKind::Acpi | QLoadKind::Fdt, _) => {
                return Err(Error::Config(
                    format!("`{:?} load` is not supported by this VMM", l.kind).to_lowercase(),
                ));
            }
            (QLoadKind::Image, ImageType::BzImage { .. }) => LoadKind::Bzimage,
            (QLoadKind::Image, ImageType::Ifs) => LoadKind::Ifs,
            (QLoadKind::Image, ImageType::Raw) => LoadKind::Raw,
            (QLoadKind::Image, ImageType::Arm64Image { .. }) => {
                return Err(Error::Config(format!(
                    "{}: an arm64 image cannot run on x86 KVM",
                    l.path.value
                )));
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
    for v in &cfg.vdevs {
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
            return Err(Error::Config(format!(
                "vdev {} is not provided by this VMM yet",
                v.kind.name()
            )));
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
                return Err(Error::Config(format!(
                    "vdev {}: a PCI `loc` needs PCI support",
                    v.kind.name()
                )));
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
    }
    spec.unsupported_reference = match cfg.unsupported.reference {
        UnsupportedAction::Ignore => Policy::Ignore,
        UnsupportedAction::Fail => Policy::Fail,
        UnsupportedAction::Abort => Policy::Abort,
    };
    spec.exit_on_halt = cfg
        .setting("exit-on-halt")
        .is_some_and(|v| !matches!(v, "0" | "off" | "no" | "false"));
    spec.logger = LoggerSpec {
        filters: cfg
            .logger
            .filters
            .iter()
            .map(|f| level(f))
            .collect::<Result<_, _>>()?,
        dest: match cfg.logger.dest.as_str() {
            "stdout" => Dest::Stdout,
            "stderr" => Dest::Stderr,
            "slog" => Dest::Slog,
            "none" => Dest::None,
            other => {
                return Err(Error::Config(format!(
                    "logger: unknown destination `{other}`"
                )));
            }
        },
    };
    spec.dryrun = cfg.dryrun;
    Ok(spec)
}
