//! Interrupt plumbing: KVM's in-kernel PIC pair, IOAPIC and PIT stand for the
//! `8259`, `ioapic` and `timer8254` vdevs. GSIs are numbered like IOAPIC pins
//! (0–23); GSIs 0–15 also reach the PIC pair (except 2, the cascade). The PIT
//! always raises GSI 0, which goes to PIC line 0 and to the IOAPIC pin its
//! `intr` names. A user-space device's `intr ioapic-name:N` becomes GSI N, an
//! eventfd registered as an irqfd. MSI-X vectors of PCI functions get GSIs from 24 up,
//! each a `KVM_IRQ_ROUTING_MSI` entry of the same table ([`Routes`]) and an irqfd.

#![allow(unsafe_code, reason = "KVM interrupt-controller state ioctls")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kvm_bindings::{
    KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE, KvmIrqRouting, kvm_irq_routing_entry,
};
use kvm_ioctls::VmFd;
use vdev::pci::MsiMessage;
use vdev::{InKernel, Intr, IrqLine};
use vmm_sys_util::eventfd::EventFd;

use crate::codes::{Problem, Subject};
use crate::{Error, codes, kvm_err};

/// IOAPIC pins KVM provides.
pub(crate) const IOAPIC_PINS: u32 = 24;
/// Where KVM's PIT is (ports 0x40–0x43).
pub(crate) const PIT_BASE: u64 = 0x40;
/// Where KVM's IOAPIC is.
pub(crate) const IOAPIC_BASE: u64 = 0xfec0_0000;
/// Where the local APICs are.
pub(crate) const LAPIC_BASE: u64 = 0xfee0_0000;

/// The interrupt controllers the configuration names.
#[derive(Default)]
pub(crate) struct Controllers {
    ioapics: BTreeMap<String, u64>,
    pics: bool,
    /// The PIT's IOAPIC pin, when a `timer8254` is configured.
    pub pit_pin: Option<u32>,
}

impl Controllers {
    /// Record the in-kernel devices of the configuration (with the index of
    /// their vdev); returns the controllers and what is wrong with them.
    /// A second ioapic or timer8254 is reported and left out.
    pub(crate) fn new(bindings: &[(usize, &InKernel)]) -> (Controllers, Vec<Problem>) {
        let mut c = Controllers::default();
        let mut problems = Vec::new();
        let mut first_ioapic = None;
        for &(i, b) in bindings {
            match b {
                InKernel::Pic { .. } => c.pics = true,
                InKernel::Ioapic { base, name } => match first_ioapic {
                    Some(first) => problems.push(
                        Problem::new(
                            &codes::V0103,
                            Subject::Vdev(i),
                            "KVM provides one ioapic; a second `vdev ioapic` cannot be bound",
                            "a second ioapic",
                            format!(
                                "remove this line; give its devices pins 0-{} on the first ioapic",
                                IOAPIC_PINS - 1
                            ),
                        )
                        .related(Subject::Vdev(first), "the VM's ioapic"),
                    ),
                    None => {
                        first_ioapic = Some(i);
                        c.ioapics.insert(name.clone(), *base);
                    }
                },
                InKernel::Pit { .. } => {}
            }
        }
        let mut first_pit = None;
        for &(i, b) in bindings {
            if let InKernel::Pit { base, intr } = b {
                if let Some(first) = first_pit {
                    problems.push(
                        Problem::new(
                            &codes::V0104,
                            Subject::Vdev(i),
                            "only one `vdev timer8254`",
                            "a second timer8254",
                            "remove this line: KVM has one 8254 PIT (ports 0x40-0x43)",
                        )
                        .related(Subject::Vdev(first), "the VM's timer8254"),
                    );
                    continue;
                }
                first_pit = Some(i);
                if *base != PIT_BASE {
                    problems.push(Problem::new(
                        &codes::V0105,
                        Subject::Loc(i),
                        format!(
                            "vdev timer8254: the in-kernel 8254 lives at io:{PIT_BASE:#x}, not {base:#x}"
                        ),
                        "not where this VMM can put it",
                        "leave out `loc`: KVM's 8254 is at io:0x40",
                    ));
                }
                c.pit_pin = Some(match intr {
                    Some(intr) => match c.gsi(intr, "timer8254", Subject::Intr(i)) {
                        Ok(pin) => pin,
                        Err(p) => {
                            problems.push(p);
                            0
                        }
                    },
                    None => 0,
                });
            }
        }
        (c, problems)
    }

    /// The IOAPIC's configured base, if any.
    pub(crate) fn ioapic_base(&self) -> Option<u64> {
        self.ioapics.values().next().copied()
    }

    /// The GSI an `intr` names; `at` is where the `intr` is, for the problem.
    pub(crate) fn gsi(&self, intr: &Intr, vdev: &str, at: Subject) -> Result<u32, Problem> {
        let (c, line) = match intr {
            Intr::Line { pic, line, .. } => (pic.as_deref().unwrap_or("ioapic"), Some(*line)),
            Intr::Apic => ("apic", None),
        };
        let known = || {
            self.ioapics
                .keys()
                .cloned()
                .chain(["8259".to_string()])
                .collect::<Vec<_>>()
        };
        let Some(line) = line else {
            return Err(Problem::new(
                &codes::V0107,
                at,
                format!("{vdev}: `intr {c}` needs a line: `intr {c}:N`"),
                "no line",
                format!("name a controller and a line, e.g. `intr {}:4`", known()[0]),
            ));
        };
        if self.ioapics.contains_key(c) || (self.ioapics.is_empty() && c == "ioapic") {
            if line >= IOAPIC_PINS {
                return Err(Problem::new(
                    &codes::V0106,
                    at,
                    format!("{vdev}: ioapic line {line} (the ioapic has {IOAPIC_PINS})"),
                    format!("the ioapic has pins 0-{}", IOAPIC_PINS - 1),
                    format!("use a pin from 0 to {}: `intr {c}:N`", IOAPIC_PINS - 1),
                ));
            }
            return Ok(line);
        }
        if c == "8259" || c == "pic" {
            if line >= 16 || line == 2 {
                return Err(Problem::new(
                    &codes::V0106,
                    at,
                    format!("{vdev}: 8259 line {line} (0-15, not 2)"),
                    "the 8259 pair has lines 0-15, 2 being the cascade",
                    "use a line from 0 to 15 other than 2",
                ));
            }
            return Ok(line);
        }
        let known = known();
        let help = if c == "apic" {
            format!(
                "`apic` is the local APICs, the ioapic's upstream; name the ioapic or the 8259: `intr {}:{line}`",
                known[0]
            )
        } else {
            format!(
                "name one of {}: `intr {}:{line}`",
                known.join(", "),
                known[0]
            )
        };
        Err(Problem::new(
            &codes::V0107,
            at,
            format!(
                "{vdev}: `intr {c}:{line}` names no interrupt controller (known: {})",
                known.join(", ")
            ),
            "no such interrupt controller",
            help,
        ))
    }

    /// Install the GSI routing table. KVM's default table (set up with the
    /// irqchip) already routes GSI n to IOAPIC pin n and, below 16, to the
    /// PICs; it is replaced only when the PIT goes to another pin, because
    /// each routing change waits for an SRCU grace period (milliseconds in a
    /// nested VM).
    pub(crate) fn route(&self, vm: &VmFd) -> Result<(), Error> {
        if self.pit_pin.unwrap_or(0) == 0 {
            return Ok(());
        }
        set_routing(vm, &self.irqchip_entries())
            .map_err(|e| Error::Host(format!("GSI routing: {e}")))
    }

    /// The routing table's irqchip part: GSI n to IOAPIC pin n (the PIT's
    /// GSI 0 to its pin) and, below 16 except 2, to the PIC pair.
    pub(crate) fn irqchip_entries(&self) -> Vec<kvm_irq_routing_entry> {
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
        entries
    }
}

fn set_routing(vm: &VmFd, entries: &[kvm_irq_routing_entry]) -> std::io::Result<()> {
    let table = KvmIrqRouting::from_entries(entries)
        .map_err(|e| std::io::Error::other(format!("routing table: {e:?}")))?;
    vm.set_gsi_routing(&table)
        .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))
}

/// The most GSIs KVM routes (KVM_MAX_IRQ_ROUTES).
const MAX_ROUTES: u32 = 4096;

/// The GSI routing table once MSI routes are added: the irqchip entries
/// and one `KVM_IRQ_ROUTING_MSI` entry per routed MSI-X vector, on GSIs
/// from [`IOAPIC_PINS`] up. Each change installs the whole table again.
pub(crate) struct Routes {
    vm: Arc<VmFd>,
    irqchip: Vec<kvm_irq_routing_entry>,
    msi: Mutex<MsiRoutes>,
}

#[derive(Default)]
struct MsiRoutes {
    next_gsi: u32,
    routes: BTreeMap<u32, MsiMessage>,
}

impl Routes {
    /// The table for `vm` with the controllers' irqchip entries.
    pub(crate) fn new(vm: Arc<VmFd>, controllers: &Controllers) -> Routes {
        Routes {
            vm,
            irqchip: controllers.irqchip_entries(),
            msi: Mutex::new(MsiRoutes {
                next_gsi: IOAPIC_PINS,
                routes: BTreeMap::new(),
            }),
        }
    }

    /// The VM.
    pub(crate) fn vm(&self) -> &VmFd {
        &self.vm
    }

    /// A GSI for one MSI vector.
    pub(crate) fn allocate(&self) -> std::io::Result<u32> {
        let mut m = self
            .msi
            .lock()
            .map_err(|_| std::io::Error::other("routes poisoned"))?;
        if m.next_gsi >= MAX_ROUTES {
            return Err(std::io::Error::other("no GSI left for an MSI route"));
        }
        m.next_gsi += 1;
        Ok(m.next_gsi - 1)
    }

    /// Route `gsi` to `msg`, or remove its route.
    pub(crate) fn set_msi(&self, gsi: u32, msg: Option<MsiMessage>) -> std::io::Result<()> {
        let mut m = self
            .msi
            .lock()
            .map_err(|_| std::io::Error::other("routes poisoned"))?;
        match msg {
            Some(msg) => m.routes.insert(gsi, msg),
            None => m.routes.remove(&gsi),
        };
        let mut entries = self.irqchip.clone();
        for (&gsi, msg) in &m.routes {
            let mut e = kvm_irq_routing_entry {
                gsi,
                type_: KVM_IRQ_ROUTING_MSI,
                ..Default::default()
            };
            e.u.msi.address_lo = msg.addr as u32;
            e.u.msi.address_hi = (msg.addr >> 32) as u32;
            e.u.msi.data = msg.data;
            entries.push(e);
        }
        set_routing(&self.vm, &entries)
    }
}

/// An edge on a GSI through an irqfd.
pub(crate) struct IrqFd(EventFd);

impl IrqFd {
    /// Signal the GSI.
    pub(crate) fn fd(&self) -> &EventFd {
        &self.0
    }

    /// Register a new irqfd for `gsi`.
    pub(crate) fn new(vm: &VmFd, gsi: u32) -> Result<IrqFd, Error> {
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

/// Register a device's notification registers as KVM ioeventfds.
pub(crate) fn register_ioevents(
    vm: &VmFd,
    events: Vec<vdev::IoEvent>,
    name: &str,
) -> Result<(), Error> {
    for ev in events {
        let addr = match ev.space {
            vdev::Space::Io => kvm_ioctls::IoEventAddress::Pio(ev.addr),
            vdev::Space::Mem => kvm_ioctls::IoEventAddress::Mmio(ev.addr),
        };
        vm.register_ioevent(&ev.fd, &addr, ev.datamatch)
            .map_err(|e| Error::Host(format!("vdev {name}: ioeventfd at {:#x}: {e}", ev.addr)))?;
    }
    Ok(())
}

/// Lines to any GSI (irqfds registered when asked for), for devices whose
/// guest reroutes their interrupts.
pub(crate) struct GsiLines {
    vm: std::sync::Arc<VmFd>,
    pit: bool,
}

impl GsiLines {
    /// Lines of `vm`; `pit`: the VM has a `timer8254`.
    pub(crate) fn new(vm: std::sync::Arc<VmFd>, pit: bool) -> GsiLines {
        GsiLines { vm, pit }
    }
}

impl vdev::IrqLines for GsiLines {
    fn line(&self, gsi: u32) -> std::io::Result<std::sync::Arc<dyn IrqLine>> {
        if gsi >= IOAPIC_PINS {
            return Err(std::io::Error::other(format!("no GSI {gsi}")));
        }
        let fd = IrqFd::new(&self.vm, gsi).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(std::sync::Arc::new(fd))
    }

    fn pit_gsi(&self) -> u32 {
        // GSI 0 is the PIT's: 8259 line 0 and the IOAPIC pin it is routed to
        if self.pit { 0 } else { 2 }
    }
}

/// An IOAPIC at a `loc` other than KVM's fixed 0xfec00000: its register
/// window (IOREGSEL at 0x00, IOWIN at 0x10) is emulated in user space and
/// forwarded to KVM's IOAPIC state with `KVM_GET_IRQCHIP`/`KVM_SET_IRQCHIP`.
/// Guests program the IOAPIC rarely, so the cost of a full state copy per
/// access does not matter.
pub(crate) struct RelocatedIoapic {
    vm: Arc<VmFd>,
    select: u32,
}

impl RelocatedIoapic {
    /// Forward to `vm`'s IOAPIC.
    pub(crate) fn new(vm: Arc<VmFd>) -> RelocatedIoapic {
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
