//! Virtual devices for the hvhost VMM.
//!
//! A device emulated in user space implements [`Device`]: it is handed the
//! port-I/O or MMIO accesses that fall in the ranges it claims and answers
//! them. Devices emulated by KVM itself (`8259`, `ioapic`, `timer8254`) are
//! returned as [`InKernel`] bindings, which the VMM turns into interrupt
//! routing. [`create`] maps a [`VdevSpec`] (one `vdev` line of a qvmconf
//! file, typed) to one of the two.
//!
//! Every vdev hvhost knows is declared here, once ([`decl`]): its place, its
//! architecture and its options (name, value type, default, doc line, and
//! whether the VMM applies it). One line of the registry (`registry!` below)
//! names each kind with its declaration and its [`Provider`]; a device the
//! VMM runs has a module here, one it does not run yet is declared in
//! [`catalogue`]. The crates above read these declarations: `qvmconf`
//! (which depends on this crate, so that the declarations and the typed
//! values it parses into — [`Arch`], [`Space`], [`Intr`], [`HostDev`],
//! [`Value`] — are defined once, here) validates `vdev` lines with them and
//! the VMM refuses what they do not run. Adding a device is one module here
//! and one registry line.
//!
//! The crate knows nothing about KVM: interrupts leave a device through the
//! [`IrqLine`] the VMM gives it, and VM-wide effects (reset, power-off) are
//! returned from [`Device::write`] as an [`Effect`].
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`decl`], [`event`], `logger` | option declarations; the event loop devices wait in; the guest log |
//! | 2 | [`catalogue`], [`inkernel`], [`value`], [`pci`] | the vendor vdevs hvhost does not run; KVM's own devices; typed option values; the PCI function model |
//! | 3 | [`ser8250`], [`mc146818`], [`pckeyboard`], [`progress`], [`pci_dummy`], [`hpet`], [`shmem`], [`wdt_ib700`], [`virtio`] | one module per device (virtio: the transport-neutral core, its transports and devices) |
//! | 4 | this file | [`Device`], the registry of kinds ([`VdevKind`]) |

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

pub mod catalogue;
pub mod decl;
pub mod event;
pub mod hpet;
pub mod inkernel;
mod logger;
pub mod mc146818;
pub mod pci;
pub mod pci_dummy;
pub mod pckeyboard;
pub mod progress;
pub mod ser8250;
pub mod shmem;
pub mod value;
pub mod virtio;
pub mod wdt_ib700;

pub use decl::{Applied, Arch, Attachment, DeviceDecl, OptDecl, Repeat, Space, ValueType};
pub use logger::{Dest, Level, Logger, LoggerSpec};
pub use value::{Direction, HostDev, Intr, OptionValue, PciAddr, PciReg, Value};

/// Errors creating or running a device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vdev kind is declared, but not provided by this VMM.
    #[error("vdev `{0}` is not provided by this VMM")]
    NotProvided(String),
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
            Error::NotProvided(_) | Error::BadOption { .. } | Error::Placement { .. }
        )
    }
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

/// Builds a user-space device from its checked spec.
pub type Build = fn(&VdevSpec, &Context) -> Result<Box<dyn Device>, Error>;

/// How hvhost's VMM provides a device: nothing, a user-space device on the
/// bus (its ranges, then the device), or a KVM device to bind.
#[derive(Clone, Copy)]
pub enum Provider {
    /// Declared only: a VM with it does not run here.
    None,
    /// A user-space device.
    Bus {
        /// Its ranges, checked without side effects.
        ranges: fn(&VdevSpec) -> Result<Vec<Range>, Error>,
        /// The device (host files, threads).
        device: Build,
    },
    /// A device KVM emulates.
    InKernel(fn(&VdevSpec) -> Result<InKernel, Error>),
    /// A virtio device: on virtio-mmio when its `loc` is given, else a
    /// virtio-pci function.
    Virtio {
        /// Its options, checked without side effects.
        check: fn(&VdevSpec) -> Result<(), Error>,
        /// The device (host files, threads), for either transport.
        build: BuildVirtio,
    },
    /// A PCI function on the VMM's PCI bus.
    Pci {
        /// Its options, checked without side effects.
        check: fn(&VdevSpec) -> Result<(), Error>,
        /// The function; `ctx.irq` is its INTx line, the sink its MSI-X.
        function: BuildPci,
    },
    /// A user-space device at its `loc`, or a PCI function when it has none.
    BusOrPci {
        /// Its ranges at `loc`, checked without side effects.
        ranges: fn(&VdevSpec) -> Result<Vec<Range>, Error>,
        /// The device at `loc`.
        device: Build,
        /// Its options without `loc`, checked without side effects.
        check: fn(&VdevSpec) -> Result<(), Error>,
        /// The PCI function.
        function: BuildPci,
    },
}

/// Builds a virtio device (either transport) from its checked spec.
pub type BuildVirtio = fn(&VdevSpec, &Context) -> Result<Box<dyn virtio::VirtioDevice>, Error>;

/// Builds a PCI function from its checked spec.
pub type BuildPci =
    fn(&VdevSpec, &Context, Arc<dyn pci::MsiSink>) -> Result<Box<dyn pci::PciFunction>, Error>;

/// The registry: one line per vdev, `Kind => declaration, provider`. It
/// defines [`VdevKind`] with [`VdevKind::decl`] and [`VdevKind::ALL`] (in this
/// order, which is the order of messages and of the reference table).
macro_rules! registry {
    ($($kind:ident => $decl:path, $provider:expr;)*) => {
        /// The vdevs hvhost knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum VdevKind {
            $(
                #[doc = concat!("`", stringify!($kind), "`: see [`", stringify!($decl), "`].")]
                $kind,
            )*
        }

        impl VdevKind {
            /// Every vdev hvhost knows.
            pub const ALL: &[VdevKind] = &[$(VdevKind::$kind),*];

            /// What the device declares.
            pub fn decl(self) -> &'static DeviceDecl {
                match self {
                    $(VdevKind::$kind => &$decl,)*
                }
            }

            /// How the VMM provides it.
            pub fn provider(self) -> Provider {
                match self {
                    $(VdevKind::$kind => $provider,)*
                }
            }
        }
    };
}

/// A PCI function module's provider.
macro_rules! pci {
    ($m:ident) => {
        Provider::Pci {
            check: $m::check,
            function: $m::function,
        }
    };
}

/// A virtio device module's provider.
macro_rules! virtio {
    ($($m:ident)::+) => {
        Provider::Virtio {
            check: $($m)::+::check,
            build: $($m)::+::build,
        }
    };
}

/// A user-space device module's provider.
macro_rules! bus {
    ($m:ident) => {
        Provider::Bus {
            ranges: $m::ranges,
            device: $m::device,
        }
    };
}

registry! {
    Pic8259 => inkernel::PIC8259, Provider::InKernel(inkernel::pic);
    Ioapic => inkernel::IOAPIC, Provider::InKernel(inkernel::ioapic);
    Timer8254 => inkernel::TIMER8254, Provider::InKernel(inkernel::pit);
    Mc146818 => mc146818::DECL, bus!(mc146818);
    Pckeyboard => pckeyboard::DECL, bus!(pckeyboard);
    Hpet => hpet::DECL, bus!(hpet);
    PciDummy => pci_dummy::DECL, pci!(pci_dummy);
    Ser8250 => ser8250::DECL, bus!(ser8250);
    Pl011 => catalogue::PL011, Provider::None;
    VirtioConsole => virtio::console::DECL, virtio!(virtio::console);
    VirtioBlk => virtio::blk::DECL, virtio!(virtio::blk);
    VirtioNet => virtio::net::DECL, virtio!(virtio::net);
    VirtioEntropy => virtio::entropy::DECL, virtio!(virtio::entropy);
    Shmem => shmem::DECL, Provider::BusOrPci {
        ranges: shmem::ranges,
        device: shmem::device,
        check: shmem::pci::check,
        function: shmem::pci::function,
    };
    Progress => progress::DECL, bus!(progress);
    VgpuGvtg => catalogue::VGPU_GVTG, Provider::None;
    Gic => catalogue::GIC, Provider::None;
    WdtIb700 => wdt_ib700::DECL, bus!(wdt_ib700);
    WdtSp805 => catalogue::WDT_SP805, Provider::None;
    Smmu => catalogue::SMMU, Provider::None;
}

impl VdevKind {
    /// The name after `vdev` (`ser8250`).
    pub fn name(self) -> &'static str {
        self.decl().name
    }

    /// The kind for a name as written after `vdev`: `foo`, `vdev-foo` and
    /// `vdev-foo.so` all name `foo`.
    pub fn from_written(written: &str) -> Option<VdevKind> {
        let base = base_name(written);
        VdevKind::ALL.iter().copied().find(|k| k.name() == base)
    }

    /// What hvhost's VMM does with the device: runs it, or refuses a VM that has it.
    pub fn hvhost(self) -> Applied {
        match self.provider() {
            Provider::None => Applied::Refused,
            _ => Applied::Runs,
        }
    }

    /// The names of every vdev hvhost knows, for messages (`8259, ioapic, ...`).
    pub fn known() -> String {
        VdevKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The vdevs the VMM runs.
    pub fn provided() -> impl Iterator<Item = VdevKind> {
        VdevKind::ALL
            .iter()
            .copied()
            .filter(|k| k.hvhost() == Applied::Runs)
    }
}

impl Serialize for VdevKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for VdevKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VdevKind, D::Error> {
        let s = String::deserialize(d)?;
        let k = s.strip_suffix(".so").unwrap_or(&s);
        let k = k.strip_suffix("-safety").unwrap_or(k);
        VdevKind::from_written(k).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown vdev `{s}` (hvhost knows {})",
                VdevKind::known()
            ))
        })
    }
}

/// `vdev-foo.so` → `foo`, `vdev-foo` → `foo`, `foo` → `foo`.
pub fn base_name(written: &str) -> &str {
    let s = written.rsplit('/').next().unwrap_or(written);
    let s = s.strip_suffix(".so").unwrap_or(s);
    s.strip_prefix("vdev-").unwrap_or(s)
}

/// One `vdev` of a VM as the VMM gets it: its kind, its typed common
/// options, and its own options typed and checked against its declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VdevSpec {
    /// The vdev kind (`ser8250`; a `vdev-` prefix and `.so` suffix are accepted).
    pub kind: VdevKind,
    /// `loc`.
    #[serde(default)]
    pub loc: Option<Loc>,
    /// `intr` (the first line given).
    #[serde(default)]
    pub intr: Option<Intr>,
    /// The further lines of `intr` (`intr a,b,c`: hpet's timers 1 and 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_intr: Vec<Intr>,
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// Its PCI address, for a PCI device (from `loc pci:...` or allocated
    /// by the qvmconf validator; the VMM allocates one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<PciAddr>,
    /// The device's own options, in the order written.
    #[serde(default)]
    pub options: Vec<OptionValue>,
}

impl VdevSpec {
    /// A vdev of this kind with no options.
    pub fn new(kind: VdevKind) -> VdevSpec {
        VdevSpec {
            kind,
            loc: None,
            intr: None,
            more_intr: Vec::new(),
            name: None,
            pci: None,
            options: Vec::new(),
        }
    }

    /// The kind's name.
    pub fn base_kind(&self) -> &'static str {
        self.kind.name()
    }

    /// The values of option `decl`, in order.
    pub fn values(&self, decl: &OptDecl) -> impl Iterator<Item = &Value> {
        let name = decl.name;
        self.options
            .iter()
            .filter(move |o| o.name == name)
            .map(|o| &o.value)
    }

    /// Every `intr` line, in order.
    pub fn intrs(&self) -> impl Iterator<Item = &Intr> {
        self.intr.iter().chain(&self.more_intr)
    }

    /// The value of option `decl` (the last one written).
    pub fn value(&self, decl: &OptDecl) -> Option<&Value> {
        self.values(decl).last()
    }

    /// Every option is one the device declares, with a value of its type.
    fn check_options(&self) -> Result<(), Error> {
        let d = self.kind.decl();
        for o in &self.options {
            let Some(decl) = d.option(&o.name) else {
                return Err(self.bad(format!("`{}` is not an option of this vdev", o.name)));
            };
            if !o.value.is_of(decl.value) {
                return Err(self.bad(format!(
                    "`{}` takes {}, not {:?}",
                    o.name,
                    decl.value.form(),
                    o.value
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn bad(&self, msg: impl Into<String>) -> Error {
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
    /// The watchdog expired: the VM ends with qvm's watchdog exit code (4).
    Watchdog,
}

/// A device's way to end the VM from a thread of its own (a timer that
/// expired), not during a guest access: the request is kept (the first one
/// wins) and the VMM's main loop, which waits for [`EndVm::fd`] to be
/// readable, is woken and takes it ([`EndVm::take`]).
#[derive(Clone)]
pub struct EndVm {
    request: Arc<Mutex<Option<(Effect, String)>>>,
    wake: Arc<EventFd>,
}

impl EndVm {
    /// A path with nothing requested.
    pub fn new() -> std::io::Result<EndVm> {
        Ok(EndVm {
            request: Arc::default(),
            wake: Arc::new(EventFd::new(EFD_NONBLOCK)?),
        })
    }

    /// Ask the VMM to end the VM with `effect`, for `reason` (for the log).
    pub fn end(&self, effect: Effect, reason: impl Into<String>) {
        if let Ok(mut r) = self.request.lock()
            && r.is_none()
        {
            *r = Some((effect, reason.into()));
        }
        // fails only on counter overflow, when the reader is woken anyway
        let _ = self.wake.write(1);
    }

    /// The eventfd that becomes readable when an end was requested.
    pub fn fd(&self) -> &EventFd {
        &self.wake
    }

    /// The request, if any (and clear the eventfd).
    pub fn take(&self) -> Option<(Effect, String)> {
        let _ = self.wake.read();
        self.request.lock().ok().and_then(|mut r| r.take())
    }
}

/// A notification register a device wants as a KVM ioeventfd: a guest
/// write of `datamatch` (32 bits) at `addr` signals `fd` without a VM exit
/// to user space.
#[derive(Clone)]
pub struct IoEvent {
    /// Port or memory space.
    pub space: Space,
    /// The register's address.
    pub addr: u64,
    /// The 32-bit value that selects this eventfd (a queue index).
    pub datamatch: u32,
    /// What the write signals.
    pub fd: Arc<vmm_sys_util::eventfd::EventFd>,
}

/// An interrupt line into the VM's interrupt controllers.
pub trait IrqLine: Send + Sync {
    /// Signal an edge on the line.
    fn trigger(&self) -> std::io::Result<()>;
}

/// Lines to any GSI, for a device whose guest moves its interrupts to lines
/// its `intr` does not name (the hpet's legacy replacement). GSIs are
/// numbered like IOAPIC pins; 0-15 reach the 8259 pair too.
pub trait IrqLines: Send + Sync {
    /// A line to `gsi`.
    fn line(&self, gsi: u32) -> std::io::Result<Arc<dyn IrqLine>>;
    /// The GSI the 8254 PIT's interrupt takes (it reaches 8259 line 0 and
    /// the IOAPIC pin the `timer8254` is configured with), or IOAPIC pin 2
    /// when the VM has no 8254.
    fn pit_gsi(&self) -> u32;
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
    /// The notification registers the VMM turns into ioeventfds (none by default).
    fn ioevents(&self) -> Vec<IoEvent> {
        Vec::new()
    }
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

/// Maps host memory into the guest while it runs, for devices that attach
/// memory (`shmem`): the VMM checks the place and adds a memory slot.
pub trait GuestMapper: Send + Sync {
    /// Map `len` bytes of `file` (from its start; `len` a multiple of 4 KiB
    /// the file has) read-write at guest address `gpa`. Refused when `gpa`
    /// is not 4 KiB aligned or the range meets guest memory, a device or
    /// another mapping.
    fn map(&self, gpa: u64, len: u64, file: &std::fs::File) -> Result<(), String>;
}

/// What a device may need from the VMM when it is created.
#[derive(Clone)]
pub struct Context {
    /// The device's interrupt lines, one per line of its `intr`, in order.
    pub irqs: Vec<Arc<dyn IrqLine>>,
    /// Lines to other GSIs, when the VMM offers them.
    pub lines: Option<Arc<dyn IrqLines>>,
    /// Maps memory into the guest at run time, when the VMM can.
    pub mapper: Option<Arc<dyn GuestMapper>>,
    /// The VM's logger.
    pub logger: Logger,
    /// Set by the VMM when the power button is pressed (SIGTERM/SIGINT).
    pub power_button: Arc<AtomicBool>,
    /// The guest's memory, for devices that use it (virtio's queues).
    pub memory: Option<virtio::Memory>,
    /// Ends the VM from a device's own thread.
    pub end: EndVm,
}

impl Context {
    /// A context with no interrupt line, the power button released and an
    /// end path of its own.
    pub fn new(logger: Logger) -> std::io::Result<Context> {
        Ok(Context {
            irqs: Vec::new(),
            lines: None,
            mapper: None,
            logger,
            power_button: Arc::default(),
            end: EndVm::new()?,
            memory: None,
        })
    }

    /// The device's first interrupt line (its `intr`), if it has one.
    pub fn irq(&self) -> Option<Arc<dyn IrqLine>> {
        self.irqs.first().cloned()
    }
}

/// What a `vdev` line becomes, known without creating anything: the ranges
/// of a user-space device, or the binding of an in-kernel one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A user-space device answering these ranges.
    Bus(Vec<Range>),
    /// A KVM device.
    InKernel(InKernel),
    /// A PCI function (its BARs are placed by the VMM's PCI bus).
    Pci,
}

/// Check a `vdev` line without opening files or starting threads: its kind,
/// its `loc` and its options. [`create`] starts with the same check, so a
/// VMM can refuse a configuration before running it with exactly the rules
/// that would stop it later.
pub fn layout(spec: &VdevSpec) -> Result<Layout, Error> {
    spec.check_options()?;
    Ok(match spec.kind.provider() {
        Provider::None => return Err(Error::NotProvided(spec.kind.name().to_string())),
        Provider::Bus { ranges, .. } => Layout::Bus(ranges(spec)?),
        Provider::InKernel(bind) => Layout::InKernel(bind(spec)?),
        Provider::Pci { check, .. } => {
            check(spec)?;
            Layout::Pci
        }
        Provider::BusOrPci { ranges, .. } if spec.loc.is_some() => Layout::Bus(ranges(spec)?),
        Provider::BusOrPci { check, .. } => {
            check(spec)?;
            Layout::Pci
        }
        Provider::Virtio { check, .. } => {
            check(spec)?;
            match spec.loc {
                Some(_) => Layout::Bus(virtio::mmio::ranges(spec)?),
                None => Layout::Pci,
            }
        }
    })
}

/// Build the device a `vdev` line describes ([`layout`] first, then the
/// device itself: host files, threads).
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    let ranges = match layout(spec)? {
        Layout::InKernel(b) => return Ok(Created::InKernel(b)),
        Layout::Bus(ranges) => ranges,
        Layout::Pci => return Err(spec.bad("a PCI function is created with `create_pci`")),
    };
    let device = match spec.kind.provider() {
        Provider::Bus { device, .. } | Provider::BusOrPci { device, .. } => device(spec, ctx)?,
        Provider::Virtio { build, .. } => virtio::mmio::device(spec, ctx, build(spec, ctx)?)?,
        _ => return Err(Error::NotProvided(spec.kind.name().to_string())),
    };
    Ok(Created::Bus { device, ranges })
}

/// Build the PCI function a `vdev` line describes ([`layout`] first);
/// `msi` is where its MSI-X messages go.
pub fn create_pci(
    spec: &VdevSpec,
    ctx: &Context,
    msi: Arc<dyn pci::MsiSink>,
) -> Result<Box<dyn pci::PciFunction>, Error> {
    layout(spec)?;
    match spec.kind.provider() {
        Provider::Pci { function, .. } | Provider::BusOrPci { function, .. } => {
            function(spec, ctx, msi)
        }
        Provider::Virtio { build, .. } => virtio::pci::function(build(spec, ctx)?, ctx, msi),
        _ => Err(spec.bad("not a PCI device")),
    }
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

/// The memory base from `loc`, or `default`; a port `loc` is an error.
pub(crate) fn mem_base(spec: &VdevSpec, default: Option<u64>) -> Result<u64, Error> {
    match spec.loc {
        Some(Loc {
            space: Space::Mem,
            base,
            ..
        }) => Ok(base),
        Some(Loc {
            space: Space::Io, ..
        }) => Err(spec.misplaced("this device lives in memory space (mem:)")),
        None => default.ok_or_else(|| spec.bad("needs `loc mem:ADDR`")),
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

    fn spec(kind: VdevKind, loc: Option<(Space, u64)>) -> VdevSpec {
        VdevSpec {
            loc: loc.map(|(space, base)| Loc {
                space,
                base,
                len: None,
            }),
            ..VdevSpec::new(kind)
        }
    }

    fn with(mut s: VdevSpec, name: &str, value: Value) -> VdevSpec {
        s.options.push(OptionValue::new(name, value));
        s
    }

    fn hostdev(direction: Option<Direction>, path: &str) -> Value {
        Value::HostDev(HostDev {
            direction,
            path: path.into(),
        })
    }

    #[test]
    fn layout_gives_ranges_and_bindings_without_side_effects() {
        let io = |base, len| Range {
            space: Space::Io,
            base,
            len,
        };
        assert_eq!(
            layout(&spec(VdevKind::Ser8250, None)).ok(),
            Some(Layout::Bus(vec![io(0x3f8, 8)]))
        );
        assert_eq!(
            layout(&spec(VdevKind::Pckeyboard, Some((Space::Io, 0x160)))).ok(),
            Some(Layout::Bus(vec![io(0x160, 1), io(0x164, 1)]))
        );
        assert_eq!(
            layout(&spec(VdevKind::Timer8254, None)).ok(),
            Some(Layout::InKernel(InKernel::Pit {
                base: 0x40,
                intr: None
            }))
        );
        // a hostdev input file is not opened by layout (create opens it)
        let s = with(
            spec(VdevKind::Ser8250, None),
            "hostdev",
            hostdev(Some(Direction::Input), "/nonexistent/input"),
        );
        assert!(layout(&s).is_ok());
    }

    #[test]
    fn layout_refusals_are_configuration_errors_of_the_right_kind() {
        let placement = |s: &VdevSpec| matches!(layout(s), Err(Error::Placement { .. }));
        assert!(placement(&spec(
            VdevKind::Pic8259,
            Some((Space::Io, 0x4d0))
        )));
        assert!(placement(&spec(VdevKind::Ioapic, Some((Space::Io, 0x20)))));
        assert!(placement(&spec(
            VdevKind::Ser8250,
            Some((Space::Mem, 0x1000))
        )));
        assert!(placement(&spec(
            VdevKind::Ser8250,
            Some((Space::Io, 0x1_0000))
        )));
        assert!(placement(&spec(
            VdevKind::Pckeyboard,
            Some((Space::Io, 0xfffc))
        )));
        assert!(matches!(
            layout(&spec(VdevKind::VgpuGvtg, None)),
            Err(Error::NotProvided(_))
        ));
        let rtc = with(
            spec(VdevKind::Mc146818, None),
            "reg",
            Value::RtcReg(0x90, 1),
        );
        assert!(matches!(layout(&rtc), Err(Error::BadOption { .. })));
        let uart = with(
            spec(VdevKind::Ser8250, None),
            "hostdev",
            hostdev(Some(Direction::Output), ""),
        );
        let e = layout(&uart).expect_err("refused");
        assert!(e.is_config(), "{e}");
        assert!(layout(&spec(VdevKind::Pic8259, Some((Space::Io, 0xa0)))).is_ok());
    }

    #[test]
    fn options_a_device_does_not_declare_or_of_the_wrong_type_are_refused() {
        let undeclared = with(spec(VdevKind::Ser8250, None), "reg", Value::RtcReg(1, 1));
        assert!(matches!(layout(&undeclared), Err(Error::BadOption { .. })));
        let mistyped = with(spec(VdevKind::Ser8250, None), "hostdev", Value::Number(1));
        assert!(matches!(layout(&mistyped), Err(Error::BadOption { .. })));
    }

    #[test]
    fn every_kind_has_one_declaration_and_written_forms_name_it() {
        let mut names: Vec<&str> = VdevKind::ALL.iter().map(|k| k.name()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "two kinds declare the same name");
        for k in VdevKind::ALL {
            let so = format!("vdev-{}.so", k.name());
            assert_eq!(VdevKind::from_written(&so), Some(*k), "{so}");
            for o in k.decl().options {
                assert!(
                    !decl::common_names().any(|c| c == o.name),
                    "{}: `{}` is a common option",
                    k.name(),
                    o.name
                );
            }
        }
        assert_eq!(VdevKind::from_written("ser825"), None);
        let json = serde_json::to_string(&VdevKind::Pic8259).unwrap_or_default();
        assert_eq!(json, "\"8259\"");
        let back: VdevKind = serde_json::from_str("\"vdev-ser8250-safety.so\"").expect("a kind");
        assert_eq!(back, VdevKind::Ser8250);
    }
}
