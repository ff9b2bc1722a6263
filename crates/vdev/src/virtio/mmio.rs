//! The virtio-mmio transport (virtio 1.2 §4.2, version 2): a 0x200-byte
//! register window at the vdev's `loc mem:ADDR`, interrupts on its `intr`.
//!
//! | offset | register |
//! |---:|---|
//! | 0x000 | MagicValue `0x74726976` ("virt") |
//! | 0x004 | Version 2 |
//! | 0x008 | DeviceID |
//! | 0x00c | VendorID `0x48564853` ("SHVH") |
//! | 0x010, 0x014 | DeviceFeatures, DeviceFeaturesSel |
//! | 0x020, 0x024 | DriverFeatures, DriverFeaturesSel |
//! | 0x030 | QueueSel |
//! | 0x034, 0x038 | QueueNumMax, QueueNum |
//! | 0x044 | QueueReady |
//! | 0x050 | QueueNotify (a KVM ioeventfd per queue) |
//! | 0x060, 0x064 | InterruptStatus, InterruptACK |
//! | 0x070 | Status |
//! | 0x080..0x0a4 | QueueDesc, QueueDriver, QueueDevice (low, high) |
//! | 0x0ac..0x0bc | shared memory: none (SHMLen reads all ones) |
//! | 0x0fc | ConfigGeneration |
//! | 0x100.. | the device's configuration space |
//!
//! Registers below 0x100 take 32-bit aligned accesses only; others read 0
//! and are ignored when written.

use std::sync::Arc;

use virtio_queue::QueueT;

use super::{Core, VirtioDevice};
use crate::{
    Context, Device, Effect, Error, IoEvent, Loc, Range, Space, VdevSpec, le_value, put_le,
};

/// Size of the register window.
pub const WINDOW: u64 = 0x200;
/// Offset of QueueNotify.
pub const QUEUE_NOTIFY: u64 = 0x50;
/// "virt".
pub const MAGIC: u32 = 0x7472_6976;
/// The vendor ID hvhost's devices report.
pub const VENDOR: u32 = 0x4856_4853;

/// The window at `loc mem:ADDR` (a length, when given, must hold it).
pub fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    match spec.loc {
        Some(Loc {
            space: Space::Mem,
            base,
            len,
        }) => {
            if len.is_some_and(|l| l < WINDOW) {
                return Err(spec.misplaced(format!(
                    "a virtio-mmio window is {WINDOW:#x} bytes, not {:#x}",
                    len.unwrap_or(0)
                )));
            }
            if !base.is_multiple_of(4) || base.checked_add(WINDOW).is_none() {
                return Err(spec.misplaced(format!(
                    "{base:#x} is not a 4-byte aligned address with room for the window"
                )));
            }
            Ok(vec![Range {
                space: Space::Mem,
                base,
                len: WINDOW,
            }])
        }
        Some(_) => Err(spec.misplaced("a virtio-mmio device lives in memory space (mem:)")),
        None => Err(spec.misplaced(
            "hvhost runs virtio devices on virtio-mmio only for now: give `loc mem:ADDR` and `intr`",
        )),
    }
}

/// The transport with its device.
pub struct Mmio {
    core: Core,
    base: u64,
    features_sel: u32,
    driver_features_sel: u32,
    queue_sel: u32,
}

/// A virtio-mmio device for `spec` (its `loc` checked by [`ranges`]).
pub fn device(
    spec: &VdevSpec,
    ctx: &Context,
    dev: Box<dyn VirtioDevice>,
) -> Result<Box<dyn Device>, Error> {
    let base = ranges(spec)?[0].base;
    let core = Core::new(
        dev,
        (ctx.irq(), None),
        ctx.memory.clone(),
        ctx.logger.clone(),
    )?;
    Ok(Box::new(Mmio::new(core, base)))
}

impl Mmio {
    /// The transport at `base` around `core`.
    pub fn new(core: Core, base: u64) -> Mmio {
        Mmio {
            core,
            base,
            features_sel: 0,
            driver_features_sel: 0,
            queue_sel: 0,
        }
    }

    /// The device behind the transport.
    pub fn core(&self) -> &Core {
        &self.core
    }

    fn queue(&self) -> usize {
        self.queue_sel as usize
    }

    fn reg(&self, offset: u64) -> u32 {
        let c = &self.core;
        let q = self.queue();
        match offset {
            0x000 => MAGIC,
            0x004 => 2,
            0x008 => c.device_type(),
            0x00c => VENDOR,
            0x010 => match self.features_sel {
                0 => c.device_features() as u32,
                1 => (c.device_features() >> 32) as u32,
                _ => 0,
            },
            0x034 => c.queue(q, |q| u32::from(q.max_size())).unwrap_or(0),
            0x044 => c.queue(q, |q| u32::from(q.ready())).unwrap_or(0),
            0x060 => c.interrupt().status(),
            0x070 => c.status(),
            0x0b0 | 0x0b4 => u32::MAX,
            _ => 0,
        }
    }

    fn set_reg(&mut self, offset: u64, v: u32) {
        let q = self.queue();
        let c = &mut self.core;
        match offset {
            0x014 => self.features_sel = v,
            0x020 => c.set_driver_features(self.driver_features_sel, v),
            0x024 => self.driver_features_sel = v,
            0x030 => self.queue_sel = v,
            0x038 => {
                c.configure_queue(q, |q| q.set_size(v.min(u32::from(u16::MAX)) as u16));
            }
            0x044 => {
                c.configure_queue(q, |q| q.set_ready(v == 1));
            }
            QUEUE_NOTIFY => c.notify(v as usize),
            0x064 => c.interrupt().ack(v),
            0x070 => c.set_status(v),
            0x080 => {
                c.configure_queue(q, |q| q.set_desc_table_address(Some(v), None));
            }
            0x084 => {
                c.configure_queue(q, |q| q.set_desc_table_address(None, Some(v)));
            }
            0x090 => {
                c.configure_queue(q, |q| q.set_avail_ring_address(Some(v), None));
            }
            0x094 => {
                c.configure_queue(q, |q| q.set_avail_ring_address(None, Some(v)));
            }
            0x0a0 => {
                c.configure_queue(q, |q| q.set_used_ring_address(Some(v), None));
            }
            0x0a4 => {
                c.configure_queue(q, |q| q.set_used_ring_address(None, Some(v)));
            }
            _ => {}
        }
    }
}

impl Device for Mmio {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        if offset >= 0x100 {
            self.core.read_config(offset - 0x100, data);
        } else if data.len() == 4 && offset.is_multiple_of(4) {
            put_le(data, u64::from(self.reg(offset)));
        } else {
            data.fill(0);
        }
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        if offset >= 0x100 {
            self.core.write_config(offset - 0x100, data);
        } else if data.len() == 4 && offset.is_multiple_of(4) {
            self.set_reg(offset, le_value(data) as u32);
        }
        Ok(Effect::None)
    }

    fn ioevents(&self) -> Vec<IoEvent> {
        self.core
            .queue_events()
            .iter()
            .enumerate()
            .map(|(i, fd)| IoEvent {
                space: Space::Mem,
                addr: self.base + QUEUE_NOTIFY,
                datamatch: i as u32,
                fd: Arc::clone(fd),
            })
            .collect()
    }
}
