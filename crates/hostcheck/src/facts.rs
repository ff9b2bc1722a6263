//! The thin view of a VM that the rules work on.
//!
//! [`VmFacts`] holds only what the host rules need from one `qvm` instance's
//! configuration: the vdevs it loads, what it passes through, the CPU
//! partitions it asks for, the files it loads, the safety level in force, each
//! with the span of the qvmconf line it came from. It is built from a parsed
//! qvmconf by one adapter; tests build it by hand.

use diag::Span;

pub use qvmconf::SafetyLevel;

/// A `safety` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Safety {
    /// The level.
    pub level: SafetyLevel,
    /// The line.
    pub span: Span,
}

/// One `vdev NAME` of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdevUse {
    /// The vdev's name without `vdev-` and `.so` (`ser8250`, `virtio-blk`).
    pub name: String,
    /// The `vdev` line.
    pub span: Span,
    /// The latest `safety` line before it, if any (otherwise the host's default applies).
    pub safety: Option<Safety>,
}

/// The host side of a pass-through location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLoc {
    /// `mem:addr,len`: host physical memory.
    Mem {
        /// First address.
        start: u64,
        /// Length in bytes (at least 1).
        len: u64,
    },
    /// `io:port,len`: x86 I/O ports.
    Io {
        /// First port.
        start: u64,
        /// Number of ports (at least 1).
        len: u64,
    },
    /// `pci:bus:dev[.func]`: a PCI function by address.
    PciAddr {
        /// Bus.
        bus: u8,
        /// Device.
        dev: u8,
        /// Function; `None` means every function of the device.
        func: Option<u8>,
    },
    /// `pci:vendor/device`: a PCI function by identity.
    PciId {
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
    },
}

impl HostLoc {
    /// True for a PCI location.
    pub fn is_pci(&self) -> bool {
        matches!(self, HostLoc::PciAddr { .. } | HostLoc::PciId { .. })
    }
}

impl std::fmt::Display for HostLoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            HostLoc::Mem { start, len } => write!(f, "mem:{start:#x},{len:#x}"),
            HostLoc::Io { start, len } => write!(f, "io:{start:#x},{len:#x}"),
            HostLoc::PciAddr { bus, dev, func } => match func {
                Some(fu) => write!(f, "pci:{bus}:{dev}.{fu}"),
                None => write!(f, "pci:{bus}:{dev}"),
            },
            HostLoc::PciId { vendor, device } => write!(f, "pci:{vendor:#06x}/{device:#06x}"),
        }
    }
}

/// One `pass` of a VM, seen from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassFacts {
    /// The host location given to the guest (the part after `=`, else the
    /// location itself); `None` for a `pass` of only an interrupt.
    pub loc: Option<HostLoc>,
    /// The host interrupt passed with it (`intr n[=hostvector]`: the host vector, else `n`).
    pub intr: Option<u32>,
    /// The `pass` line.
    pub span: Span,
}

/// A `cpu ... partition NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionUse {
    /// The APS partition name.
    pub name: String,
    /// The `cpu` line (or the `partition` word).
    pub span: Span,
}

/// A `load` of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFacts {
    /// The path as written (absolute in the host's filesystem, or relative to qvm's directory).
    pub path: String,
    /// The `load` line.
    pub span: Span,
}

/// The architecture a VM's configuration implies, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchFacts {
    /// The architecture.
    pub arch: qvmconf::Arch,
    /// What implied it (`vdev ser8250`, `load of an x86_64 ELF`).
    pub reason: String,
    /// Where.
    pub span: Span,
}

/// What the host rules need to know about one VM (one `qvm` instance).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmFacts {
    /// The VM's name (`system`), or the configuration file's stem.
    pub name: String,
    /// Target paths of the configuration files it was assembled from, in
    /// order, as named by `qvm @PATH` (absolute: `/vm/config/a.qvmconf`).
    pub configs: Vec<String>,
    /// Index in the boot script of the `qvm` command that starts it, when
    /// known; otherwise the command is found by the first configuration file.
    pub start: Option<usize>,
    /// Every `vdev`, in order.
    pub vdevs: Vec<VdevUse>,
    /// Every `pass`.
    pub pass: Vec<PassFacts>,
    /// Every `cpu ... partition NAME`.
    pub partitions: Vec<PartitionUse>,
    /// Every `load`.
    pub loads: Vec<LoadFacts>,
    /// The last `safety` line: it governs the global components (kernel, SMMU manager).
    pub last_safety: Option<Safety>,
    /// The architecture the configuration implies, if any.
    pub arch: Option<ArchFacts>,
}
