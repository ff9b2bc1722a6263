//! Virtual devices for the hvhost VMM.
//!
//! A device emulated in user space implements [`Device`]: it is handed the
//! port-I/O or MMIO accesses that fall in the ranges it claims and answers
//! them. Devices emulated by KVM itself (`8259`, `ioapic`, `timer8254`) are
//! returned as [`InKernel`] bindings, which the VMM turns into interrupt
//! routing. [`create`] is the registry: it maps a [`VdevSpec`] (one `vdev`
//! line of a qvmconf file) to one of the two.
//!
//! The crate knows nothing about KVM: interrupts leave a device through the
//! [`IrqLine`] the VMM gives it, and VM-wide effects (reset, power-off) are
//! returned from [`Device::write`] as an [`Effect`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

pub mod event;
mod logger;
pub mod mc146818;
pub mod pckeyboard;
pub mod progress;
pub mod ser8250;

pub use logger::{Dest, Level, Logger, LoggerSpec};

/// Errors creating or running a device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vdev kind is not one this VMM provides.
    #[error("unknown vdev `{0}`")]
    UnknownVdev(String),
    /// An option of a vdev is missing or has a bad value.
    #[error("vdev {vdev}: {msg}")]
    BadOption {
        /// The vdev kind.
        vdev: String,
        /// What is wrong.
        msg: String,
    },
    /// A `loc` this device cannot have: the wrong address space, ports
    /// beyond 0xffff, or another place than the one KVM gives an in-kernel
    /// device.
    #[error("vdev {vdev}: {msg}")]
    Placement {
        /// The vdev kind.
        vdev: String,
        /// What is wrong.
        msg: String,
    },
    /// A host file named by `hostdev` could not be opened or read.
    #[error("vdev {vdev}: cannot open {}: {source}", path.display())]
    HostFile {
        /// The vdev kind.
        vdev: String,
        /// The host file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A device failed while the guest ran.
    #[error("vdev {vdev}: {msg}")]
    Runtime {
        /// The vdev kind.
        vdev: String,
        /// What failed.
        msg: String,
    },
}

impl Error {
    /// True for errors in the configuration itself (qvm exit code 65), false
    /// for host failures (64 before the guest runs, 6 while it runs).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Error::UnknownVdev(_) | Error::BadOption { .. } | Error::Placement { .. }
        )
    }
}

/// An address space a device range lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// x86 port I/O.
    Io,
    /// Guest-physical memory (MMIO).
    Mem,
}

/// A `loc` specification: `io:port[,len]` or `mem:addr[,len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loc {
    /// Port or memory space.
    pub space: Space,
    /// First port or address.
    pub base: u64,
    /// Length, when given.
    #[serde(default)]
    pub len: Option<u64>,
}

/// An `intr` specification: `controller:line` (e.g. `myioapic:4`), or `apic`
/// (an ioapic's upstream) with no line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intr {
    /// The interrupt controller's name (an ioapic's `name`, `ioapic`, `8259`, `apic`).
    pub controller: String,
    /// The input line on that controller.
    #[serde(default)]
    pub line: Option<u32>,
}

/// One `vdev` of a VM: its kind and typed common options, plus the
/// device-specific options as they were written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VdevSpec {
    /// The vdev kind: `ser8250`, `mc146818`, `pckeyboard`, `progress`, `8259`,
    /// `ioapic`, `timer8254` (a `vdev-` prefix and `.so` suffix are accepted).
    pub kind: String,
    /// `loc`.
    #[serde(default)]
    pub loc: Option<Loc>,
    /// `intr`.
    #[serde(default)]
    pub intr: Option<Intr>,
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `hostdev [<|>]path` as written (`>-` is the VMM's standard output).
    #[serde(default)]
    pub hostdev: Option<String>,
    /// `reg index,value` presets, in order.
    #[serde(default)]
    pub regs: Vec<(u64, u64)>,
    /// Any other option: name → value as written.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl VdevSpec {
    /// The kind without a `vdev-` prefix or `.so` suffix.
    pub fn base_kind(&self) -> &str {
        let k = self.kind.strip_prefix("vdev-").unwrap_or(&self.kind);
        let k = k.strip_suffix(".so").unwrap_or(k);
        k.strip_suffix("-safety").unwrap_or(k)
    }

    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::BadOption {
            vdev: self.base_kind().to_string(),
            msg: msg.into(),
        }
    }

    fn misplaced(&self, msg: impl Into<String>) -> Error {
        Error::Placement {
            vdev: self.base_kind().to_string(),
            msg: msg.into(),
        }
    }
}

/// A range of ports or addresses that a device answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Port or memory space.
    pub space: Space,
    /// First port or address.
    pub base: u64,
    /// Number of ports or bytes.
    pub len: u64,
}

/// What a device write asks of the VM as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond the device itself.
    None,
    /// Reset the machine (e.g. the 8042 reset line).
    Reset,
    /// Turn the machine off (the guest shut down).
    PowerOff,
}

/// An interrupt line into the VM's interrupt controllers.
pub trait IrqLine: Send + Sync {
    /// Signal an edge on the line.
    fn trigger(&self) -> std::io::Result<()>;
}

/// A device emulated in user space.
///
/// `offset` is relative to the base of the range that was hit; `data` is the
/// access (1, 2, 4 or 8 bytes, little-endian). The bus serialises calls.
pub trait Device: Send {
    /// A guest read. Fill `data`.
    fn read(&mut self, range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error>;
    /// A guest write.
    fn write(&mut self, range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error>;
}

/// A device emulated by KVM, which the VMM binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InKernel {
    /// A legacy 8259 PIC at the given port (0x20 master, 0xa0 slave).
    Pic {
        /// I/O base.
        base: u64,
    },
    /// An IOAPIC: MMIO base, and the name other vdevs' `intr` uses.
    Ioapic {
        /// MMIO base.
        base: u64,
        /// Name (`name` option; `ioapic` when absent).
        name: String,
    },
    /// The 8254 PIT (KVM's is at ports 0x40–0x43) with its interrupt.
    Pit {
        /// I/O base (`loc`, default 0x40).
        base: u64,
        /// Where its output goes.
        intr: Option<Intr>,
    },
}

/// What [`create`] gives back.
pub enum Created {
    /// A user-space device with the ranges it answers.
    Bus {
        /// The device.
        device: Box<dyn Device>,
        /// Its ranges; [`Device`] calls receive the index of the range hit.
        ranges: Vec<Range>,
    },
    /// A binding to a KVM device.
    InKernel(InKernel),
}

/// What a device may need from the VMM when it is created.
#[derive(Clone)]
pub struct Context {
    /// The device's interrupt line, when its `intr` names one.
    pub irq: Option<Arc<dyn IrqLine>>,
    /// The VM's logger.
    pub logger: Logger,
    /// Set by the VMM when the power button is pressed (SIGTERM/SIGINT).
    pub power_button: Arc<AtomicBool>,
}

/// Kinds [`create`] knows, for messages.
pub const KINDS: &[&str] = &[
    "ser8250",
    "mc146818",
    "pckeyboard",
    "progress",
    "8259",
    "ioapic",
    "timer8254",
];

/// What a `vdev` line becomes, known without creating anything: the ranges
/// of a user-space device, or the binding of an in-kernel one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A user-space device answering these ranges.
    Bus(Vec<Range>),
    /// A KVM device.
    InKernel(InKernel),
}

/// Check a `vdev` line without opening files or starting threads: its kind,
/// its `loc` and its options. [`create`] starts with the same check, so a
/// VMM can refuse a configuration before running it with exactly the rules
/// that would stop it later.
pub fn layout(spec: &VdevSpec) -> Result<Layout, Error> {
    Ok(match spec.base_kind() {
        "ser8250" => Layout::Bus(ser8250::ranges(spec)?),
        "mc146818" => Layout::Bus(mc146818::ranges(spec)?),
        "pckeyboard" => Layout::Bus(pckeyboard::ranges(spec)?),
        "progress" => Layout::Bus(progress::ranges(spec)?),
        "8259" => {
            let base = io_base(spec, None)?;
            if base != 0x20 && base != 0xa0 {
                return Err(spec.misplaced(format!(
                    "the in-kernel 8259 pair lives at io:0x20 and io:0xa0, not {base:#x}"
                )));
            }
            Layout::InKernel(InKernel::Pic { base })
        }
        "ioapic" => {
            let base = match spec.loc {
                Some(Loc {
                    space: Space::Mem,
                    base,
                    ..
                }) => base,
                Some(_) => return Err(spec.misplaced("the ioapic lives in memory space")),
                None => 0xfec0_0000,
            };
            let name = spec.name.clone().unwrap_or_else(|| "ioapic".to_string());
            Layout::InKernel(InKernel::Ioapic { base, name })
        }
        // where KVM's PIT is (0x40) is the VMM's to check, with the rule
        // that a VM has one
        "timer8254" => Layout::InKernel(InKernel::Pit {
            base: io_base(spec, Some(0x40))?,
            intr: spec.intr.clone(),
        }),
        _ => return Err(Error::UnknownVdev(spec.kind.clone())),
    })
}

/// The registry: build the device a `vdev` line describes ([`layout`]
/// first, then the device itself: host files, threads).
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    let ranges = match layout(spec)? {
        Layout::InKernel(b) => return Ok(Created::InKernel(b)),
        Layout::Bus(ranges) => ranges,
    };
    let device = match spec.base_kind() {
        "ser8250" => ser8250::device(spec, ctx)?,
        "mc146818" => mc146818::device(spec, ctx)?,
        "pckeyboard" => pckeyboard::device(spec, ctx)?,
        "progress" => progress::device(spec, ctx)?,
        _ => return Err(Error::UnknownVdev(spec.kind.clone())),
    };
    Ok(Created::Bus { device, ranges })
}

/// The port base from `loc`, or `default`; a memory `loc` is an error.
pub(crate) fn io_base(spec: &VdevSpec, default: Option<u64>) -> Result<u64, Error> {
    match spec.loc {
        Some(Loc {
            space: Space::Io,
            base,
            ..
        }) if base <= 0xffff => Ok(base),
        Some(Loc {
            space: Space::Io,
            base,
            ..
        }) => Err(spec.misplaced(format!("port {base:#x} is beyond 0xffff"))),
        Some(Loc {
            space: Space::Mem, ..
        }) => Err(spec.misplaced("this device lives in port space (io:)")),
        None => default.ok_or_else(|| spec.bad("needs `loc io:PORT`")),
    }
}

/// Little-endian value of an access.
pub fn le_value(data: &[u8]) -> u64 {
    let mut v = [0u8; 8];
    let n = data.len().min(8);
    v[..n].copy_from_slice(&data[..n]);
    u64::from_le_bytes(v)
}

/// Fill an access with a little-endian value.
pub fn put_le(data: &mut [u8], v: u64) {
    let b = v.to_le_bytes();
    for (i, d) in data.iter_mut().enumerate() {
        *d = if i < 8 { b[i] } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, loc: Option<(Space, u64)>) -> VdevSpec {
        VdevSpec {
            kind: kind.into(),
            loc: loc.map(|(space, base)| Loc {
                space,
                base,
                len: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn layout_gives_ranges_and_bindings_without_side_effects() {
        let io = |base, len| Range {
            space: Space::Io,
            base,
            len,
        };
        assert_eq!(
            layout(&spec("vdev-ser8250.so", None)).ok(),
            Some(Layout::Bus(vec![io(0x3f8, 8)]))
        );
        assert_eq!(
            layout(&spec("pckeyboard", Some((Space::Io, 0x160)))).ok(),
            Some(Layout::Bus(vec![io(0x160, 1), io(0x164, 1)]))
        );
        assert_eq!(
            layout(&spec("timer8254", None)).ok(),
            Some(Layout::InKernel(InKernel::Pit {
                base: 0x40,
                intr: None
            }))
        );
        // a hostdev input file is not opened by layout (create opens it)
        let mut s = spec("ser8250", None);
        s.hostdev = Some("</nonexistent/input".into());
        assert!(layout(&s).is_ok());
    }

    #[test]
    fn layout_refusals_are_configuration_errors_of_the_right_kind() {
        let placement = |s: &VdevSpec| matches!(layout(s), Err(Error::Placement { .. }));
        assert!(placement(&spec("8259", Some((Space::Io, 0x4d0)))));
        assert!(placement(&spec("ioapic", Some((Space::Io, 0x20)))));
        assert!(placement(&spec("ser8250", Some((Space::Mem, 0x1000)))));
        assert!(placement(&spec("ser8250", Some((Space::Io, 0x1_0000)))));
        assert!(placement(&spec("pckeyboard", Some((Space::Io, 0xfffc)))));
        assert!(matches!(
            layout(&spec("virtio-blk", None)),
            Err(Error::UnknownVdev(_))
        ));
        let mut rtc = spec("mc146818", None);
        rtc.regs = vec![(0x90, 1)];
        assert!(matches!(layout(&rtc), Err(Error::BadOption { .. })));
        let mut uart = spec("ser8250", None);
        uart.hostdev = Some(">".into());
        let e = layout(&uart).expect_err("refused");
        assert!(e.is_config(), "{e}");
        assert!(layout(&spec("8259", Some((Space::Io, 0xa0)))).is_ok());
    }
}
