//! Interrupt plumbing: KVM's in-kernel PIC pair, IOAPIC and PIT stand for the
//! `8259`, `ioapic` and `timer8254` vdevs. GSIs are numbered like IOAPIC pins
//! (0–23); GSIs 0–15 also reach the PIC pair (except 2, the cascade). The PIT
//! always raises GSI 0, which goes to PIC line 0 and to the IOAPIC pin its
//! `intr` names. A user-space device's `intr ioapic-name:N` becomes GSI N, an
//! eventfd registered as an irqfd. MSI-based devices (virtio-pci) can add
//! `KVM_IRQ_ROUTING_MSI` entries to the same table later.

use std::collections::BTreeMap;

use kvm_bindings::{
    KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
    KvmIrqRouting, kvm_irq_routing_entry,
};
use kvm_ioctls::VmFd;
use vdev::{InKernel, Intr, IrqLine};
use vmm_sys_util::eventfd::EventFd;

use crate::{Error, kvm_err};

/// IOAPIC pins KVM provides.
pub const IOAPIC_PINS: u32 = 24;
/// Where KVM's IOAPIC is.
pub const IOAPIC_BASE: u64 = 0xfec0_0000;

/// The interrupt controllers the configuration names.
#[derive(Default)]
pub struct Controllers {
    ioapics: BTreeMap<String, u64>,
    pics: bool,
    /// The PIT's IOAPIC pin, when a `timer8254` is configured.
    pub pit_pin: Option<u32>,
}

impl Controllers {
    /// Record the in-kernel devices of the configuration.
    pub fn new(bindings: &[InKernel]) -> Result<Controllers, Error> {
        let mut c = Controllers::default();
        for b in bindings {
            match b {
                InKernel::Pic { .. } => c.pics = true,
                InKernel::Ioapic { base, name } => {
                    if !c.ioapics.is_empty() {
                        return Err(Error::Config(
                            "KVM provides one ioapic; a second `vdev ioapic` cannot be bound"
                                .into(),
                        ));
                    }
                    c.ioapics.insert(name.clone(), *base);
                }
                InKernel::Pit { .. } => {}
            }
        }
        for b in bindings {
            if let InKernel::Pit { intr } = b {
                if c.pit_pin.is_some() {
                    return Err(Error::Config("only one `vdev timer8254`".into()));
                }
                c.pit_pin = Some(match intr {
                    Some(i) => c.gsi(i, "timer8254")?,
                    None => 0,
                });
            }
        }
        Ok(c)
    }

    /// The IOAPIC's configured base, if any.
    pub fn ioapic_base(&self) -> Option<u64> {
        self.ioapics.values().next().copied()
    }

    /// The GSI an `intr` names.
    pub fn gsi(&self, intr: &Intr, vdev: &str) -> Result<u32, Error> {
        let line = intr.line.ok_or_else(|| {
            Error::Config(format!(
                "{vdev}: `intr {}` needs a line: `intr {}:N`",
                intr.controller, intr.controller
            ))
        })?;
        let c = intr.controller.as_str();
        if self.ioapics.contains_key(c) || (self.ioapics.is_empty() && c == "ioapic") {
            if line >= IOAPIC_PINS {
                return Err(Error::Config(format!(
                    "{vdev}: ioapic line {line} (the ioapic has {IOAPIC_PINS})"
                )));
            }
            return Ok(line);
        }
        if c == "8259" || c == "pic" {
            if line >= 16 || line == 2 {
                return Err(Error::Config(format!(
                    "{vdev}: 8259 line {line} (0-15, not 2)"
                )));
            }
            return Ok(line);
        }
        Err(Error::Config(format!(
            "{vdev}: `intr {c}:{line}` names no interrupt controller (known: {})",
            self.ioapics
                .keys()
                .cloned()
                .chain(["8259".to_string()])
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Install the GSI routing table. KVM's default table (set up with the
    /// irqchip) already routes GSI n to IOAPIC pin n and, below 16, to the
    /// PICs; it is replaced only when the PIT goes to another pin, because
    /// each routing change waits for an SRCU grace period (milliseconds in a
    /// nested VM).
    pub fn route(&self, vm: &VmFd) -> Result<(), Error> {
        if self.pit_pin.unwrap_or(0) == 0 {
            return Ok(());
        }
        let entry = |gsi: u32, chip: u32, pin: u32| {
            let mut e = kvm_irq_routing_entry {
                gsi,
                type_: KVM_IRQ_ROUTING_IRQCHIP,
                ..Default::default()
            };
            e.u.irqchip.irqchip = chip;
            e.u.irqchip.pin = pin;
            e
        };
        let mut entries = Vec::new();
        for gsi in 0..IOAPIC_PINS {
            if gsi < 16 && gsi != 2 {
                let (chip, pin) = if gsi < 8 {
                    (KVM_IRQCHIP_PIC_MASTER, gsi)
                } else {
                    (KVM_IRQCHIP_PIC_SLAVE, gsi - 8)
                };
                entries.push(entry(gsi, chip, pin));
            }
            let pin = if gsi == 0 {
                self.pit_pin.unwrap_or(0)
            } else {
                gsi
            };
            entries.push(entry(gsi, KVM_IRQCHIP_IOAPIC, pin));
        }
        let table = KvmIrqRouting::from_entries(&entries)
            .map_err(|e| Error::Host(format!("routing table: {e:?}")))?;
        vm.set_gsi_routing(&table).map_err(kvm_err("GSI routing"))
    }
}

/// An edge on a GSI through an irqfd.
pub struct IrqFd(EventFd);

impl IrqFd {
    /// Register a new irqfd for `gsi`.
    pub fn new(vm: &VmFd, gsi: u32) -> Result<IrqFd, Error> {
        let fd =
            EventFd::new(libc::EFD_NONBLOCK).map_err(|e| Error::Host(format!("eventfd: {e}")))?;
        vm.register_irqfd(&fd, gsi).map_err(kvm_err("irqfd"))?;
        Ok(IrqFd(fd))
    }
}

impl IrqLine for IrqFd {
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// An IOAPIC at a `loc` other than KVM's fixed 0xfec00000: its register
/// window (IOREGSEL at 0x00, IOWIN at 0x10) is emulated in user space and
/// forwarded to KVM's IOAPIC state with `KVM_GET_IRQCHIP`/`KVM_SET_IRQCHIP`.
/// Guests program the IOAPIC rarely, so the cost of a full state copy per
/// access does not matter.
pub struct RelocatedIoapic {
    vm: std::sync::Arc<VmFd>,
    select: u32,
}

impl RelocatedIoapic {
    /// Forward to `vm`'s IOAPIC.
    pub fn new(vm: std::sync::Arc<VmFd>) -> RelocatedIoapic {
        RelocatedIoapic { vm, select: 0 }
    }

    fn state(&self) -> Result<kvm_bindings::kvm_irqchip, vdev::Error> {
        let mut chip = kvm_bindings::kvm_irqchip {
            chip_id: KVM_IRQCHIP_IOAPIC,
            ..Default::default()
        };
        self.vm
            .get_irqchip(&mut chip)
            .map_err(|e| vdev::Error::Runtime {
                vdev: "ioapic".into(),
                msg: format!("KVM_GET_IRQCHIP: {e}"),
            })?;
        Ok(chip)
    }
}

impl vdev::Device for RelocatedIoapic {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), vdev::Error> {
        let v = match offset {
            0x00 => self.select,
            0x10 => {
                let chip = self.state()?;
                // SAFETY: `chip_id` is the IOAPIC, so KVM filled the `ioapic` member.
                let io = unsafe { chip.chip.ioapic };
                match self.select {
                    0 => io.id << 24,
                    1 => 0x0017_0011,
                    2 => io.id << 24,
                    r @ 0x10..=0x3f => {
                        let n = ((r - 0x10) / 2) as usize;
                        // SAFETY: `bits` covers the whole 64-bit entry.
                        let bits = unsafe { io.redirtbl[n].bits };
                        if r % 2 == 0 {
                            bits as u32
                        } else {
                            (bits >> 32) as u32
                        }
                    }
                    _ => 0,
                }
            }
            _ => 0,
        };
        vdev::put_le(data, u64::from(v));
        Ok(())
    }

    fn write(
        &mut self,
        _range: usize,
        offset: u64,
        data: &[u8],
    ) -> Result<vdev::Effect, vdev::Error> {
        let v = vdev::le_value(data) as u32;
        match offset {
            0x00 => self.select = v & 0xff,
            0x10 => {
                let mut chip = self.state()?;
                // SAFETY: `chip_id` is the IOAPIC, so KVM filled the `ioapic` member.
                let mut io = unsafe { chip.chip.ioapic };
                match self.select {
                    0 => io.id = (v >> 24) & 0xf,
                    r @ 0x10..=0x3f => {
                        let n = ((r - 0x10) / 2) as usize;
                        // SAFETY: `bits` covers the whole 64-bit entry.
                        let old = unsafe { io.redirtbl[n].bits };
                        let new = if r % 2 == 0 {
                            // delivery status (12) and remote IRR (14) are read-only
                            (old & !0xffff_ffff) | (u64::from(v) & !0x5000) | (old & 0x5000)
                        } else {
                            (old & 0xffff_ffff) | (u64::from(v) << 32)
                        };
                        io.redirtbl[n].bits = new;
                    }
                    _ => return Ok(vdev::Effect::None),
                }
                chip.chip.ioapic = io;
                self.vm
                    .set_irqchip(&chip)
                    .map_err(|e| vdev::Error::Runtime {
                        vdev: "ioapic".into(),
                        msg: format!("KVM_SET_IRQCHIP: {e}"),
                    })?;
            }
            _ => {}
        }
        Ok(vdev::Effect::None)
    }
}
