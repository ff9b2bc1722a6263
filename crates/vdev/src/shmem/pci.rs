//! `shmem` as a PCI function, for a `vdev shmem` without `loc` (where QNX
//! qvm puts it on PCI too, and where qvmconf allocates its slot): the same
//! factory page, behind a 4 KiB memory BAR 0, and the notification on INTx
//! pin A.
//!
//! QNX does not publish the IDs of its shmem PCI function, so hvhost's are
//! its own: vendor 0x1234, device 0x5348 (`"SH"`), class 05/80/00 (memory
//! controller, other). A guest driver finds the function by these IDs and
//! then speaks the factory-page protocol of [`super`].

use std::sync::Arc;

use crate::pci::{Bar, ConfigSpace, Ids, MsiSink, PciFunction};
use crate::{Context, Device, Effect, Error, VdevSpec};

/// The function's IDs.
pub const IDS: Ids = Ids {
    vendor: 0x1234,
    device: 0x5348,
    class: 0x05_80_00,
    revision: 1,
    subsystem_vendor: 0x1234,
    subsystem: 0x5348,
    multifunction: false,
};

/// Checks the options, as for the memory-mapped device.
pub(crate) fn check(spec: &VdevSpec) -> Result<(), Error> {
    super::config(spec).map(|_| ())
}

/// The function (regions created, host sockets bound).
pub(crate) fn function(
    spec: &VdevSpec,
    ctx: &Context,
    _msi: Arc<dyn MsiSink>,
) -> Result<Box<dyn PciFunction>, Error> {
    let mut config = ConfigSpace::new(&IDS);
    config
        .set_bar(0, Bar::mem32(super::PAGE))
        .map_err(|e| Error::Runtime {
            vdev: super::DECL.name.into(),
            msg: e.to_string(),
        })?;
    config.set_interrupt_pin(1);
    Ok(Box::new(ShmemPci {
        config,
        page: super::device(spec, ctx)?,
    }))
}

/// The PCI function: its configuration space and the factory page.
struct ShmemPci {
    config: ConfigSpace,
    page: Box<dyn Device>,
}

impl PciFunction for ShmemPci {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }
    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }
    fn bar_read(&mut self, bar: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        match bar {
            0 => self.page.read(0, offset, data),
            _ => {
                data.fill(0xff);
                Ok(())
            }
        }
    }
    fn bar_write(&mut self, bar: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        match bar {
            0 => self.page.write(0, offset, data),
            _ => Ok(Effect::None),
        }
    }
}
