//! The virtio-pci modern transport (virtio 1.2 §4.1): a PCI function with
//! vendor 0x1af4, device 0x1040 + the device type, revision 1, and one
//! 32-bit memory BAR (BAR0, 32 KiB) holding the structures its vendor
//! capabilities point at:
//!
//! | BAR0 offset | structure |
//! |---:|---|
//! | 0x0000 | common configuration (0x40 bytes) |
//! | 0x1000 | ISR status (1 byte, read to clear) |
//! | 0x2000 | device configuration |
//! | 0x3000 | notifications: queue N at 0x3000 + 4·N (`notify_off_multiplier` 4) |
//! | 0x4000 | MSI-X table (one vector per queue, plus one for configuration changes) |
//! | 0x5000 | MSI-X pending bits |
//!
//! With MSI-X enabled each queue and the configuration change raise the
//! vector the driver chose (`queue_msix_vector`, `config_msix_vector`;
//! 0xffff: none); without, the INTx pin A line with the ISR bits.
//! Each queue's notification address is a [`Notifier`]: the VMM registers
//! it as a KVM ioeventfd where BAR0 is (and moves it with the BAR), so a
//! notification wakes the device's worker without a VM exit to user space;
//! a write the bus still sees (decoding just turned on) notifies the same
//! way. The `VIRTIO_PCI_CAP_PCI_CFG` window is not offered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use virtio_queue::QueueT;

use super::{Core, Vectors, VirtioDevice};
use crate::pci::{Bar, ConfigSpace, Datamatch, Ids, MsiSink, Msix, Notifier, PciFunction};
use crate::{Context, Effect, Error, le_value, put_le};

/// The virtio vendor ID.
pub const VENDOR: u16 = 0x1af4;
/// BAR0's size.
pub const BAR_SIZE: u64 = 0x8000;
const COMMON: u64 = 0x0000;
const ISR: u64 = 0x1000;
const DEVICE: u64 = 0x2000;
const NOTIFY: u64 = 0x3000;
const NOTIFY_MULTIPLIER: u32 = 4;
const MSIX_TABLE: u64 = 0x4000;
const MSIX_PBA: u64 = 0x5000;
/// "No vector".
pub const NO_VECTOR: u16 = 0xffff;
const CAP_VENDOR: u8 = 0x09;

/// The PCI class of each device type.
fn class(device_type: u32) -> u32 {
    match device_type {
        1 => 0x02_0000, // network controller, Ethernet
        2 => 0x01_8000, // mass storage, other
        3 => 0x07_8000, // communication, other
        _ => 0xff_0000,
    }
}

/// The vectors the driver chose, and the MSI-X state they are sent through.
struct PciVectors {
    msix: Msix,
    config: AtomicU16,
    queues: Vec<AtomicU16>,
}

impl Vectors for PciVectors {
    fn send(&self, queue: Option<usize>) -> bool {
        let v = match queue {
            None => self.config.load(Ordering::SeqCst),
            Some(q) => self
                .queues
                .get(q)
                .map_or(NO_VECTOR, |v| v.load(Ordering::SeqCst)),
        };
        let m = &self.msix;
        if !m.enabled() {
            return false;
        }
        // with MSI-X on, NO_VECTOR means no interrupt at all
        v == NO_VECTOR || m.notify(v).unwrap_or(true)
    }
}

/// The virtio-pci function around a device.
pub struct VirtioPci {
    cfg: ConfigSpace,
    core: Core,
    vectors: Arc<PciVectors>,
    features_sel: u32,
    driver_features_sel: u32,
    queue_sel: u16,
}

fn layout_err(e: crate::pci::LayoutError) -> Error {
    Error::Runtime {
        vdev: "virtio-pci".into(),
        msg: format!("configuration space: {e:?}"),
    }
}

/// The function for `dev`, its INTx on `ctx.irq`, MSI-X through `msi`.
pub fn function(
    dev: Box<dyn VirtioDevice>,
    ctx: &Context,
    msi: Arc<dyn MsiSink>,
) -> Result<Box<dyn PciFunction>, Error> {
    let ty = dev.device_type();
    let nq = dev.queue_max_sizes().len();
    let mut cfg = ConfigSpace::new(&Ids {
        vendor: VENDOR,
        device: 0x1040 + ty as u16,
        class: class(ty),
        revision: 1,
        subsystem_vendor: VENDOR,
        subsystem: 0x40,
        multifunction: false,
    });
    cfg.set_bar(0, Bar::mem32(BAR_SIZE)).map_err(layout_err)?;
    cfg.set_interrupt_pin(1);
    let config_len = 0x1000u32;
    let caps: [(u8, u64, u32); 4] = [
        (1, COMMON, 0x40),
        (3, ISR, 1),
        (4, DEVICE, config_len),
        (2, NOTIFY, NOTIFY_MULTIPLIER * nq as u32),
    ];
    for (ty, offset, len) in caps {
        let mut body = vec![if ty == 2 { 20 } else { 16 }, ty, 0, 0, 0, 0];
        body.extend_from_slice(&(offset as u32).to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        if ty == 2 {
            body.extend_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
        }
        cfg.add_capability(CAP_VENDOR, &body, &[])
            .map_err(layout_err)?;
    }
    let mut msix = Msix::new(nq as u16 + 1, 0, MSIX_TABLE, MSIX_PBA, msi);
    msix.install(&mut cfg).map_err(layout_err)?;
    let vectors = Arc::new(PciVectors {
        msix,
        config: AtomicU16::new(NO_VECTOR),
        queues: (0..nq).map(|_| AtomicU16::new(NO_VECTOR)).collect(),
    });
    let line = (ctx.irq(), Some(vectors.clone() as Arc<dyn Vectors>));
    let core = Core::new(dev, line, ctx.memory.clone(), ctx.logger.clone())?;
    Ok(Box::new(VirtioPci {
        cfg,
        core,
        vectors,
        features_sel: 0,
        driver_features_sel: 0,
        queue_sel: 0,
    }))
}

impl VirtioPci {
    /// The common configuration structure as the driver reads it.
    fn common(&self) -> [u8; 0x40] {
        let c = &self.core;
        let q = usize::from(self.queue_sel);
        let mut b = [0u8; 0x40];
        let mut put =
            |at: usize, v: u64, n: usize| b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        put(0x00, u64::from(self.features_sel), 4);
        let f = match self.features_sel {
            0 => c.device_features() & 0xffff_ffff,
            1 => c.device_features() >> 32,
            _ => 0,
        };
        put(0x04, f, 4);
        put(0x08, u64::from(self.driver_features_sel), 4);
        let d = match self.driver_features_sel {
            0 => c.driver_features() & 0xffff_ffff,
            1 => c.driver_features() >> 32,
            _ => 0,
        };
        put(0x0c, d, 4);
        put(
            0x10,
            u64::from(self.vectors.config.load(Ordering::SeqCst)),
            2,
        );
        put(0x12, c.queue_count() as u64, 2);
        put(0x14, u64::from(c.status()), 1);
        put(0x16, u64::from(self.queue_sel), 2);
        let qv = self.vectors.queues.get(q);
        put(
            0x1a,
            u64::from(qv.map_or(NO_VECTOR, |v| v.load(Ordering::SeqCst))),
            2,
        );
        put(0x1e, u64::from(self.queue_sel), 2);
        let info = c.queue(q, |q| {
            (
                q.size(),
                q.ready(),
                q.desc_table(),
                q.avail_ring(),
                q.used_ring(),
            )
        });
        if let Some((size, ready, desc, avail, used)) = info {
            put(0x18, u64::from(size), 2);
            put(0x1c, u64::from(ready), 2);
            put(0x20, desc, 8);
            put(0x28, avail, 8);
            put(0x30, used, 8);
        }
        b
    }

    fn set_vector(&self, slot: &AtomicU16, v: u16) {
        let n = self.vectors.msix.vectors();
        slot.store(if v < n { v } else { NO_VECTOR }, Ordering::SeqCst);
    }

    fn write_common(&mut self, offset: u64, data: &[u8]) {
        let v = le_value(data);
        let (lo, hi) = (v as u32, (v >> 32) as u32);
        let wide = data.len() == 8;
        let q = usize::from(self.queue_sel);
        let c = &mut self.core;
        match offset {
            0x00 => self.features_sel = lo,
            0x08 => self.driver_features_sel = lo,
            0x0c => c.set_driver_features(self.driver_features_sel, lo),
            0x10 => self.set_vector(&self.vectors.config, v as u16),
            0x14 => {
                c.set_status(v as u32 & 0xff);
                if v & 0xff == 0 {
                    self.vectors.config.store(NO_VECTOR, Ordering::SeqCst);
                    for q in &self.vectors.queues {
                        q.store(NO_VECTOR, Ordering::SeqCst);
                    }
                }
            }
            0x16 => self.queue_sel = v as u16,
            0x18 => {
                c.configure_queue(q, |q| q.set_size(v as u16));
            }
            0x1a => {
                if let Some(slot) = self.vectors.queues.get(q) {
                    self.set_vector(slot, v as u16);
                }
            }
            0x1c => {
                c.configure_queue(q, |q| q.set_ready(v & 1 == 1));
            }
            0x20 => {
                c.configure_queue(q, |q| {
                    q.set_desc_table_address(Some(lo), wide.then_some(hi))
                });
            }
            0x24 => {
                c.configure_queue(q, |q| q.set_desc_table_address(None, Some(lo)));
            }
            0x28 => {
                c.configure_queue(q, |q| {
                    q.set_avail_ring_address(Some(lo), wide.then_some(hi))
                });
            }
            0x2c => {
                c.configure_queue(q, |q| q.set_avail_ring_address(None, Some(lo)));
            }
            0x30 => {
                c.configure_queue(q, |q| q.set_used_ring_address(Some(lo), wide.then_some(hi)));
            }
            0x34 => {
                c.configure_queue(q, |q| q.set_used_ring_address(None, Some(lo)));
            }
            _ => {}
        }
    }
}

impl PciFunction for VirtioPci {
    fn config(&self) -> &ConfigSpace {
        &self.cfg
    }
    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.cfg
    }
    fn msix(&self) -> Option<&Msix> {
        Some(&self.vectors.msix)
    }
    fn notifiers(&self) -> Vec<Notifier> {
        self.core
            .queue_events()
            .iter()
            .enumerate()
            .map(|(i, fd)| Notifier {
                bar: 0,
                offset: NOTIFY + i as u64 * u64::from(NOTIFY_MULTIPLIER),
                datamatch: Datamatch::Any,
                fd: Arc::clone(fd),
            })
            .collect()
    }

    fn bar_read(&mut self, _bar: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        data.fill(0);
        let end = offset.saturating_add(data.len() as u64);
        if end <= COMMON + 0x40 {
            let b = self.common();
            let at = (offset - COMMON) as usize;
            data.copy_from_slice(&b[at..at + data.len()]);
        } else if offset == ISR {
            let isr = self.core.interrupt().status();
            self.core.interrupt().ack(isr);
            put_le(data, u64::from(isr));
        } else if (DEVICE..NOTIFY).contains(&offset) {
            self.core.read_config(offset - DEVICE, data);
        }
        Ok(())
    }

    fn bar_write(&mut self, _bar: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let end = offset.saturating_add(data.len() as u64);
        if end <= COMMON + 0x40 {
            self.write_common(offset - COMMON, data);
        } else if (DEVICE..NOTIFY).contains(&offset) {
            self.core.write_config(offset - DEVICE, data);
        } else if (NOTIFY..MSIX_TABLE).contains(&offset) {
            self.core
                .notify(((offset - NOTIFY) / u64::from(NOTIFY_MULTIPLIER)) as usize);
        }
        Ok(Effect::None)
    }
}
