//! The PC platform around the vdevs, as the VM's assembly sets it up:
//! the PCI bus with its functions (their INTx lines and MSI-X sinks), the
//! configuration ports, ECAM and the ACPI PM registers on the buses, BAR
//! placement, and the ACPI and MP tables written into guest memory.

use std::sync::{Arc, Mutex};

use kvm_ioctls::VmFd;
use vdev::{Context, Logger, Space};

use crate::bus::{Bus, SharedDevice};
use crate::irq::{IOAPIC_BASE, IrqFd};
use crate::memory::Memory;
use crate::spec::VmSpec;
use crate::{Error, boot, firmware, irq, pci, validate};

/// What the firmware tables say about the VM's devices (the PCI parts are
/// added once the bus is built).
pub(crate) fn machine(spec: &VmSpec, plan: &validate::Plan) -> firmware::Machine {
    use vdev::VdevKind as K;
    let has = |k: K| spec.vdevs.iter().any(|v| v.kind == k);
    let hpet = spec
        .vdevs
        .iter()
        .find(|v| v.kind == K::Hpet)
        .and_then(|v| v.loc.map(|l| l.base).or(v.kind.decl().default_loc));
    firmware::Machine {
        cpus: spec.cpus.max(1),
        ioapic: plan.controllers.ioapic_base(),
        pit_pin: plan.controllers.pit_pin,
        pic: has(K::Pic8259),
        i8042: has(K::Pckeyboard),
        rtc: has(K::Mc146818),
        legacy_devices: has(K::Ser8250) || has(K::Mc146818),
        hpet,
        ..Default::default()
    }
}

/// `m` with what the PCI bus adds: the ECAM window, the BAR windows, the
/// functions' interrupt pins.
pub(crate) fn with_pci(m: firmware::Machine, pci: &Mutex<pci::PciBus>) -> firmware::Machine {
    match pci.lock() {
        Ok(b) => firmware::Machine {
            ecam: b.ecam(),
            mmio_windows: b.mmio_windows(),
            pci: firmware::pci_functions(&b),
            ..m
        },
        Err(_) => m,
    }
}

/// Write the ACPI and MP tables; what the boot information adds for them
/// (the ECAM window reserved, the RSDP).
pub(crate) fn firmware_tables(
    spec: &VmSpec,
    machine: &firmware::Machine,
    memory: &Memory,
    logger: &Logger,
) -> Result<boot::Platform, Error> {
    let mut platform = boot::Platform::default();
    if let Some(e) = machine.ecam {
        platform.reserved.push((e, pci::ECAM_LEN));
    }
    match firmware::write(machine, memory)? {
        Some(w) => {
            platform.rsdp = Some(w.rsdp);
            if spec.memory.iter().any(|m| {
                m.kind == crate::spec::MemKind::Ram
                    && m.start < firmware::TABLES + firmware::TABLES_LEN
                    && firmware::TABLES < m.start + m.size
            }) {
                platform
                    .reserved
                    .push((firmware::TABLES, firmware::TABLES_LEN));
            }
            logger.debug(format_args!("ACPI RSDP at {:#x}", w.rsdp));
        }
        None => logger.debug("no memory at 0xe0000: no ACPI or MP tables"),
    }
    Ok(platform)
}

/// Put the PCI bus on the buses (configuration ports, ECAM when its window
/// is free) and place its BARs clear of RAM, ROM and every other device.
pub(crate) fn attach_pci(
    spec: &VmSpec,
    pci: &Arc<Mutex<pci::PciBus>>,
    io: &mut Bus,
    mmio: &mut Bus,
    logger: &Logger,
) -> Result<(), Error> {
    let mut busy: Vec<(Space, u64, u64)> = mmio
        .ranges_in(Space::Mem)
        .chain(io.ranges_in(Space::Io))
        .collect();
    busy.extend(spec.memory.iter().map(|m| (Space::Mem, m.start, m.size)));
    busy.push((Space::Mem, IOAPIC_BASE, 0x1000));
    let ecam_free = !busy.iter().any(|&(s, b, l)| {
        s == Space::Mem && b < pci::ECAM_BASE + pci::ECAM_LEN && pci::ECAM_BASE < b + l
    });
    let pm: SharedDevice = Arc::new(Mutex::new(Box::new(firmware::pm::Pm::new())));
    io.insert(firmware::PM_BASE, firmware::pm::Pm::LEN, 0, pm, "acpi pm")
        .map_err(|e| Error::Config(format!("ACPI PM registers: {e}")))?;
    let ports: SharedDevice = Arc::new(Mutex::new(Box::new(pci::ConfigPorts(pci.clone()))));
    io.insert(pci::CONFIG_PORTS, 8, 0, ports, "pci")
        .map_err(|e| Error::Config(format!("PCI configuration ports: {e}")))?;
    {
        let mut bus = pci
            .lock()
            .map_err(|_| Error::Host("PCI bus poisoned".into()))?;
        if ecam_free {
            bus.set_ecam(pci::ECAM_BASE);
            busy.push((Space::Mem, pci::ECAM_BASE, pci::ECAM_LEN));
        } else {
            logger.debug("no ECAM: memory or a vdev is at its window");
        }
        bus.assign(&busy).map_err(Error::Config)?;
    }
    if ecam_free {
        let ecam: SharedDevice = Arc::new(Mutex::new(Box::new(pci::Ecam(pci.clone()))));
        mmio.insert(pci::ECAM_BASE, pci::ECAM_LEN, 0, ecam, "pci ecam")
            .map_err(Error::Config)?;
    }
    Ok(())
}

/// The PCI bus with the host bridge and each PCI vdev `(index, address,
/// the GSI of its `intr`)`, its MSI-X on `vm`'s routing table. A function
/// with an interrupt pin gets an irqfd on its `intr`'s GSI, else on the
/// pin's IOAPIC pin ([`pci::intx_gsi`]).
pub(crate) fn create_pci(
    spec: &VmSpec,
    functions: &[(usize, vdev::PciAddr, Option<u32>)],
    (vm, controllers): (&Arc<VmFd>, &irq::Controllers),
    base: &Context,
    irqfds: &mut Vec<Arc<IrqFd>>,
) -> Result<Arc<Mutex<pci::PciBus>>, Error> {
    let logger = &base.logger;
    let mut bus = pci::PciBus::new();
    let routes = Arc::new(irq::Routes::new(vm.clone(), controllers));
    for &(i, addr, intr) in functions {
        let v = &spec.vdevs[i];
        let line = Arc::new(pci::IntxLine::default());
        let ctx = Context {
            irqs: vec![line.clone()],
            ..base.clone()
        };
        let msi = Arc::new(pci::msi::KvmMsi::new(routes.clone()));
        let func = vdev::create_pci(v, &ctx, msi)?;
        let pin = func.config().read_u8(vdev::pci::INTERRUPT_PIN);
        bus.add(addr, v.base_kind(), func).map_err(Error::Config)?;
        if (1..=4).contains(&pin) {
            let gsi = intr.unwrap_or_else(|| pci::intx_gsi(addr.dev, pin));
            let fd = Arc::new(IrqFd::new(vm, gsi)?);
            irqfds.push(fd.clone());
            line.connect(fd);
            bus.set_interrupt_line(addr, gsi);
            logger.debug(format_args!(
                "pci {addr}: {} (INTx GSI {gsi})",
                v.base_kind()
            ));
        } else {
            logger.debug(format_args!("pci {addr}: {}", v.base_kind()));
        }
    }
    Ok(Arc::new(Mutex::new(bus)))
}
