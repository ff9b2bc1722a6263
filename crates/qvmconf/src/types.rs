//! The small value types that option values parse into ([`crate::value`])
//! and that [`crate::config`] is built from: access flags, locations, the
//! host side of a pass-through, scheduling.

use serde::Serialize;

use vdev::{PciAddr, Space};

/// Access flags of a pass-through memory region (`r`, `w`, `x`, `n` = no cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Access {
    /// `r`
    pub read: bool,
    /// `w`
    pub write: bool,
    /// `x`
    pub exec: bool,
    /// `n`: uncached.
    pub nocache: bool,
}

/// A location spec (`loc ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "kebab-case")]
pub enum Location {
    /// `mem:addr[,len]` or `io:port[,len]` (len defaulted per device when not written).
    Region {
        /// Memory or I/O ports.
        space: Space,
        /// Start address or port.
        start: u64,
        /// Length in bytes or ports.
        len: u64,
        /// Pass-through only: the access flags (empty for vdevs).
        access: Option<Access>,
        /// Pass-through only: the host address (`=hostaddr`; None = same as guest).
        host: Option<u64>,
    },
    /// `pci:bus:dev[.func]` (for `pass`, optionally `=pci:vendor/device` or `=pci:b:d.f` on the host).
    Pci {
        /// The guest address.
        addr: PciAddr,
        /// The host device it maps (pass-through).
        host: Option<PciHost>,
    },
    /// `pci:vendor/device` (a host PCI device named by its IDs).
    PciId {
        /// Vendor ID.
        vendor: u16,
        /// Device ID.
        device: u16,
    },
}

/// The host side of a PCI pass-through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PciHost {
    /// By bus address.
    Addr(PciAddr),
    /// By vendor/device ID.
    Id {
        /// Vendor ID.
        vendor: u16,
        /// Device ID.
        device: u16,
    },
}

impl Location {
    /// `(space, start, end)` of a memory or I/O region.
    pub fn region(&self) -> Option<(Space, u64, u64)> {
        match self {
            Location::Region {
                space, start, len, ..
            } => Some((*space, *start, start.saturating_add(*len))),
            _ => None,
        }
    }
}

/// A scheduling priority and policy (`sched 10`, `sched 10r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sched {
    /// Priority.
    pub priority: u32,
    /// Policy suffix (None: the default).
    pub policy: Option<SchedPolicy>,
}

/// `r` round robin, `f` FIFO, `o` other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedPolicy {
    /// `r`
    RoundRobin,
    /// `f`
    Fifo,
    /// `o`
    Other,
}
