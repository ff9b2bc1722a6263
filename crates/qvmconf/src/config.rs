//! The typed result: one virtual machine as qvm would assemble it.
//!
//! Every value that came from the input carries the [`Span`] it came from, so
//! later checks (hostcheck, the VMM) can point back into the user's file.
//! Addresses here are final: defaults are applied, automatic placements
//! (RAM without a start, PCI slots, default device locations) are resolved.

use diag::Span;
use serde::Serialize;

pub use crate::options::{GivenOption, VdevOptions};
pub use crate::types::{Access, Location, PciHost, Sched, SchedPolicy};
pub use vdev::{Arch, Direction, HostDev, Intr, PciAddr, PciReg, Space, VdevKind};

/// A value with the place in the input it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value with its span.
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

/// Why the configuration is of an architecture: the first thing that said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchEvidence {
    /// The architecture.
    pub arch: Arch,
    /// What implied it (e.g. "vdev ser8250", "load of an x86_64 ELF").
    pub reason: String,
    /// Where.
    #[serde(skip)]
    pub span: Span,
}

/// One VM, validated.
#[derive(Debug, Clone, Serialize)]
pub struct VmConfig {
    /// `system name` (the VM's name; named vdevs appear as `/dev/qvm/<system>/<name>`).
    pub system: Option<Spanned<String>>,
    /// The architecture, when anything in the configuration implies one.
    pub arch: Option<ArchEvidence>,
    /// RAM and ROM regions in the order they were written, with final addresses.
    pub memory: Vec<MemRegion>,
    /// `reserve` entries.
    pub reserves: Vec<Reserve>,
    /// One entry per `cpu`; a configuration without `cpu` gets one default vCPU
    /// (with `span` empty and `implicit` set).
    pub cpus: Vec<Vcpu>,
    /// `load` entries, in order.
    pub loads: Vec<Load>,
    /// `cmdline`.
    pub cmdline: Option<Spanned<String>>,
    /// `pass` entries.
    pub passes: Vec<Pass>,
    /// Virtual devices, in the order written.
    pub vdevs: Vec<Vdev>,
    /// `vdev NAME` lines naming a device hvhost does not know (a vendor's
    /// own `vdev-NAME.so`, which qvm loads like any other): kept apart from
    /// [`VmConfig::vdevs`], whose kinds are all known. Their options cannot
    /// be checked ([`crate::codes::Q0112`]); hvhost's VMM does not run them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub foreign_vdevs: Vec<ForeignVdev>,
    /// `unsupported` policy (defaults applied).
    pub unsupported: Unsupported,
    /// `tolerance` in microseconds (None: 10% of the host tick).
    pub tolerance_us: Option<Spanned<u64>>,
    /// The last `safety` level written (or the default): it governs the global
    /// components (kernel, SMMU manager).
    pub safety: SafetyLevel,
    /// The last `safety` option (None: the default level).
    #[serde(skip)]
    pub safety_span: Option<Span>,
    /// `logger` (default `fatal,internal,error,warn,info stderr`).
    pub logger: Logger,
    /// `dump` destination (a directory, or `|cmd`).
    pub dump: Option<Spanned<String>>,
    /// `set variable value`, in order.
    pub settings: Vec<Setting>,
    /// `dryrun` was given in the configuration or on the command line.
    pub dryrun: bool,
}

impl VmConfig {
    /// The `set` value of `variable`, the last one written.
    pub fn setting(&self, variable: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.variable.value == variable)
            .map(|s| s.value.value.as_str())
    }

    /// RAM regions only (the guest's memory map; ROM is not in it).
    pub fn ram(&self) -> impl Iterator<Item = &MemRegion> {
        self.memory.iter().filter(|r| r.kind == MemKind::Ram)
    }

    /// Where the guest starts: the entry of the first untyped load that sets
    /// one (an ELF's or kernel's entry, or the first byte of a raw image).
    pub fn entry_point(&self) -> Option<u64> {
        self.loads
            .iter()
            .filter(|l| l.kind == LoadKind::Image)
            .find_map(|l| l.entry)
    }

    /// Total guest RAM in bytes.
    pub fn ram_size(&self) -> u64 {
        self.ram().fold(0u64, |a, r| a.saturating_add(r.len))
    }

    /// The vdev with this `name`.
    pub fn vdev_named(&self, name: &str) -> Option<&Vdev> {
        self.vdevs
            .iter()
            .find(|v| v.name.as_ref().is_some_and(|n| n.value == name))
    }
}

/// RAM or ROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemKind {
    /// Guest RAM: in the guest's memory map.
    Ram,
    /// Read-only memory: not in the guest's memory map.
    Rom,
}

/// A `ram` or `rom` region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemRegion {
    /// RAM or ROM.
    pub kind: MemKind,
    /// Guest-physical start.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// True when the start was written; false when placed after the highest RAM/ROM.
    pub explicit_start: bool,
    /// The whole `ram ...` option.
    #[serde(skip)]
    pub span: Span,
}

impl MemRegion {
    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// How a vdev is attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Attach {
    /// At a memory or I/O region (explicit `loc` or the device's default).
    Region {
        /// Memory or ports.
        space: Space,
        /// Start.
        start: u64,
        /// Length.
        len: u64,
        /// True when written with `loc`; false for the device's default location.
        explicit: bool,
    },
    /// A PCI device at this guest address.
    Pci {
        /// The address.
        addr: PciAddr,
        /// True when written with `loc pci:...`; false when allocated.
        explicit: bool,
    },
    /// No location (e.g. `progress`, or `gic` without `loc`).
    None,
}

/// The safety level in force (`safety none|warn|required`), ordered from
/// the most lenient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SafetyLevel {
    /// Use the safety variant if present, silently.
    #[default]
    None,
    /// The same, with a warning when it is missing.
    Warn,
    /// A missing safety variant is an error.
    Required,
}

impl SafetyLevel {
    /// `none`, `warn` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            SafetyLevel::None => "none",
            SafetyLevel::Warn => "warn",
            SafetyLevel::Required => "required",
        }
    }
}

/// One vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vcpu {
    /// 0-based index.
    pub index: u32,
    /// `sched`.
    pub sched: Option<Spanned<Sched>>,
    /// `runmask`: the host CPUs it may run on (empty: any).
    pub runmask: Vec<u32>,
    /// Span of the runmask option.
    #[serde(skip)]
    pub runmask_span: Option<Span>,
    /// `partition` (adaptive partitioning scheduler partition).
    pub partition: Option<Spanned<String>>,
    /// `cluster`.
    pub cluster: Option<Spanned<String>>,
    /// True for the default vCPU of a configuration without `cpu`.
    pub implicit: bool,
    /// The `cpu` word.
    #[serde(skip)]
    pub span: Span,
}

/// The type written before `load` (or none): what the loaded file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    /// Untyped: ELF and Linux images are recognised, set the entry point.
    Image,
    /// `acpi load`
    Acpi,
    /// `data load`
    Data,
    /// `fdt load`
    Fdt,
    /// `initrd load`
    Initrd,
}

/// What a loaded file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ImageType {
    /// An ELF file.
    Elf {
        /// ELF machine (`x86_64`, `aarch64`, or `machine-N`).
        machine: String,
        /// 64-bit class.
        class64: bool,
        /// Entry point.
        entry: u64,
        /// Lowest physical address of a loadable segment.
        load_addr: u64,
        /// Bytes from the lowest to the highest loaded address.
        mem_size: u64,
    },
    /// A Linux x86 bzImage (boot protocol version from the header).
    BzImage {
        /// Boot protocol version, e.g. 0x020f.
        protocol: u16,
    },
    /// A Linux arm64 `Image`.
    Arm64Image {
        /// text_offset from the header.
        text_offset: u64,
    },
    /// A QNX image file system (an IFS).
    Ifs,
    /// None of the above: loaded as bytes.
    Raw,
    /// Not read (`--no-host-files`, or the file is missing).
    Unknown,
}

/// A `load` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Load {
    /// The type written before `load`.
    pub kind: LoadKind,
    /// The host path as written (relative paths are relative to the current directory).
    pub path: Spanned<String>,
    /// The address written (`load addr,path`).
    pub addr: Option<u64>,
    /// Where it will be placed (written address, the image's own address, or
    /// the automatic placement); None when that depends on a size not known.
    pub placed_at: Option<u64>,
    /// The file's size, when read.
    pub size: Option<u64>,
    /// What the file is.
    pub detected: ImageType,
    /// The entry point it sets (ELF and kernel images).
    pub entry: Option<u64>,
    /// The whole option.
    #[serde(skip)]
    pub span: Span,
}

/// A `pass` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pass {
    /// `loc` (None when only `intr` was given).
    pub loc: Option<Spanned<Location>>,
    /// `intr` entries.
    pub intr: Vec<Spanned<Intr>>,
    /// The `pass` word.
    #[serde(skip)]
    pub span: Span,
}

/// A `reserve` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reserve {
    /// `loc`.
    pub loc: Option<Spanned<Location>>,
    /// `intr`.
    pub intr: Vec<Spanned<Intr>>,
    /// The `reserve` word.
    #[serde(skip)]
    pub span: Span,
}

/// `unsupported instruction|reference|register abort|fail|ignore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    /// Default `fail`.
    pub instruction: UnsupportedAction,
    /// Default `ignore`.
    pub reference: UnsupportedAction,
    /// Default `fail`.
    pub register: UnsupportedAction,
}

impl Default for Unsupported {
    fn default() -> Unsupported {
        Unsupported {
            instruction: UnsupportedAction::Fail,
            reference: UnsupportedAction::Ignore,
            register: UnsupportedAction::Fail,
        }
    }
}

/// What to do on something the VM cannot emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsupportedAction {
    /// Stop the VM.
    Abort,
    /// Deliver a fault to the guest.
    Fail,
    /// Carry on.
    Ignore,
}

impl UnsupportedAction {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            UnsupportedAction::Abort => "abort",
            UnsupportedAction::Fail => "fail",
            UnsupportedAction::Ignore => "ignore",
        }
    }
}

/// `logger filter[,filter] dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logger {
    /// The filters, in order (`fatal internal error warn info debug verbose`).
    pub filters: Vec<String>,
    /// `stdout`, `stderr`, `slog` or `none`.
    pub dest: String,
    /// Where written (None: the default).
    #[serde(skip)]
    pub span: Option<Span>,
}

impl Default for Logger {
    fn default() -> Logger {
        Logger {
            filters: ["fatal", "internal", "error", "warn", "info"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            dest: "stderr".into(),
            span: None,
        }
    }
}

/// `set variable value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The variable (e.g. `exit-on-halt`).
    pub variable: Spanned<String>,
    /// Its value.
    pub value: Spanned<String>,
}

/// `delayed secs|forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delayed {
    /// Seconds.
    Secs(u64),
    /// `forever`.
    Forever,
}

/// One virtual device instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vdev {
    /// Which device.
    pub kind: VdevKind,
    /// The name as written after `vdev` (e.g. `vdev-ser8250.so`).
    pub written: Spanned<String>,
    /// `name`.
    pub name: Option<Spanned<String>>,
    /// The `loc` written, if any.
    pub loc: Option<Spanned<Location>>,
    /// Where the device ends up (explicit, default or allocated).
    pub attach: Attach,
    /// `intr` entries (hpet: one per timer).
    pub intr: Vec<Spanned<Intr>>,
    /// `log`.
    pub log: Option<Spanned<String>>,
    /// `hostvector` (PICs).
    pub hostvector: Option<Spanned<u32>>,
    /// `delayed`.
    pub delayed: Option<Spanned<Delayed>>,
    /// `sched`.
    pub sched: Option<Spanned<Sched>>,
    /// The device's own options.
    pub options: VdevOptions,
    /// The `safety` level in force for this vdev.
    pub safety: SafetyLevel,
    /// The `safety` option that set it (None: the default).
    #[serde(skip)]
    pub safety_span: Option<Span>,
    /// `vdev NAME`.
    #[serde(skip)]
    pub span: Span,
}

/// A `vdev` hvhost does not know: its name and its words, unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignVdev {
    /// The name as written after `vdev` (`foo`, `vdev-foo`, `vdev-foo.so`).
    pub written: Spanned<String>,
    /// The name without `vdev-` and `.so` (`foo`).
    pub name: String,
    /// The words after it that belong to it (up to the next top-level
    /// option), as written: its options, which only the vdev knows.
    pub words: Vec<Spanned<String>>,
    /// The `safety` level in force for this vdev.
    pub safety: SafetyLevel,
    /// The `safety` option that set it (None: the default).
    #[serde(skip)]
    pub safety_span: Option<Span>,
    /// `vdev NAME`.
    #[serde(skip)]
    pub span: Span,
}

impl ForeignVdev {
    /// The name of the shared object qvm loads (`vdev-foo.so`).
    pub fn shared_object(&self) -> String {
        format!("vdev-{}.so", self.name)
    }
}

impl Vdev {
    /// The name of the shared object qvm loads (`vdev-ser8250.so`).
    pub fn shared_object(&self) -> String {
        format!("vdev-{}.so", self.kind.name())
    }

    /// The safety variant's file name (`vdev-ser8250-safety.so`).
    pub fn safety_object(&self) -> String {
        format!("vdev-{}-safety.so", self.kind.name())
    }

    /// The PIC name other vdevs use to refer to this one, if it is a PIC.
    pub fn pic_name(&self) -> Option<&str> {
        if !self.kind.decl().pic {
            return None;
        }
        Some(
            self.name
                .as_ref()
                .map(|n| n.value.as_str())
                .unwrap_or(self.kind.name()),
        )
    }
}
