//! The PCI function model, transport-neutral and free of KVM: what a PCI
//! device is to the bus the VMM runs. A device implements [`PciFunction`]:
//! it owns its [`ConfigSpace`] (IDs, class, BARs, capabilities, interrupt
//! pin), answers accesses to its BARs, and may have an [`Msix`] table that
//! the bus serves for it. Interrupts leave through the [`crate::IrqLine`]
//! of its INTx pin or through the [`MsiSink`] the VMM implements.

mod config;
mod msix;

pub use config::{
    BAR0, CAPABILITIES, CMD_BUS_MASTER, CMD_INTX_DISABLE, CMD_IO, CMD_MEMORY, COMMAND, CONFIG_LEN,
    ConfigSpace, DEVICE_ID, HEADER_TYPE, INTERRUPT_LINE, INTERRUPT_PIN, LEGACY_LEN, LayoutError,
    REVISION_ID, STATUS, STATUS_CAP_LIST, STATUS_INTERRUPT, SUBSYSTEM_ID, SUBSYSTEM_VENDOR_ID,
    VENDOR_ID,
};
pub use msix::{CAP_MSIX, MsiMessage, Msix, MsixRegion};

use crate::{Effect, Error};

/// A function's identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Class code: base class, subclass, programming interface (24 bits).
    pub class: u32,
    /// Revision ID.
    pub revision: u8,
    /// Subsystem vendor ID.
    pub subsystem_vendor: u16,
    /// Subsystem ID.
    pub subsystem: u16,
    /// The header's multi-function bit.
    pub multifunction: bool,
}

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// I/O ports.
    Io,
    /// Memory below 4 GiB.
    Mem32,
    /// Memory anywhere (two registers).
    Mem64,
}

/// A BAR a function declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Ports or memory.
    pub kind: BarKind,
    /// Size in bytes, a power of two (≥ 16 for memory, ≥ 4 for I/O).
    pub size: u64,
    /// Prefetchable memory.
    pub prefetchable: bool,
}

impl Bar {
    /// A 32-bit non-prefetchable memory BAR.
    pub const fn mem32(size: u64) -> Bar {
        Bar {
            kind: BarKind::Mem32,
            size,
            prefetchable: false,
        }
    }
    /// A 64-bit memory BAR.
    pub const fn mem64(size: u64, prefetchable: bool) -> Bar {
        Bar {
            kind: BarKind::Mem64,
            size,
            prefetchable,
        }
    }
    /// An I/O BAR.
    pub const fn io(size: u64) -> Bar {
        Bar {
            kind: BarKind::Io,
            size,
            prefetchable: false,
        }
    }
}

/// Where a function's MSI-X messages go: implemented by the VMM (with KVM
/// it keeps one MSI route and one irqfd per vector).
pub trait MsiSink: Send + Sync {
    /// Vector `vector` now sends `msg`, or nothing (`None`: masked,
    /// disabled or not programmed).
    fn route(&self, vector: u16, msg: Option<MsiMessage>) -> std::io::Result<()>;
    /// Send vector `vector`'s message (it was routed unmasked).
    fn signal(&self, vector: u16) -> std::io::Result<()>;
}

/// A PCI function as the bus sees it.
///
/// Configuration accesses go to [`PciFunction::config_mut`]'s space (after
/// which [`PciFunction::config_written`] is called); accesses to a BAR the
/// guest enabled go to [`PciFunction::bar_read`] and
/// [`PciFunction::bar_write`], except those in the MSI-X table and PBA of
/// [`PciFunction::msix`], which the bus serves.
pub trait PciFunction: Send {
    /// The configuration space.
    fn config(&self) -> &ConfigSpace;
    /// The configuration space, to write.
    fn config_mut(&mut self) -> &mut ConfigSpace;
    /// The function's MSI-X state, when it has the capability (a device
    /// that raises vectors from its own thread keeps it in an `Arc`).
    fn msix(&self) -> Option<&Msix> {
        None
    }
    /// After a guest write of `len` bytes at `offset` of configuration space.
    fn config_written(&mut self, _offset: usize, _len: usize) {}
    /// A guest read of BAR `bar` at `offset`.
    fn bar_read(&mut self, _bar: usize, _offset: u64, data: &mut [u8]) -> Result<(), Error> {
        data.fill(0);
        Ok(())
    }
    /// A guest write to BAR `bar` at `offset`.
    fn bar_write(&mut self, _bar: usize, _offset: u64, _data: &[u8]) -> Result<Effect, Error> {
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests;
