//! The DSDT, its AML made with the rust-vmm `acpi_tables` crate: the PCI
//! root bridge `\_SB.PCI0` (`PNP0A08`, compatible `PNP0A03`) with its
//! resources (`_CRS`: bus 0, the configuration ports, the I/O and memory
//! windows BARs are placed in) and its interrupt routing (`_PRT`: INTA#–
//! INTD# of every device to IOAPIC pins, as `crate::pci` wires them), and
//! `\_S5` (soft off: SLP_TYP 5, which the PM1a control block's device
//! turns into a power-off).

use acpi_tables::Aml;
use acpi_tables::aml::{
    AddressSpace, AddressSpaceCacheable, Device, EISAName, IO, Name, Package, Path,
    ResourceTemplate, Scope,
};

use super::Machine;
use super::acpi::table;
use crate::pci;

/// The DSDT (revision 2: 64-bit integers).
pub(super) fn dsdt(m: &Machine) -> Vec<u8> {
    let mut aml = Vec::new();
    let pci0 = pci_device(m);
    Scope::new(Path::new("\\_SB_"), vec![&pci0]).to_aml_bytes(&mut aml);
    let s5 = Package::new(vec![&5u8, &5u8, &0u8, &0u8]);
    Name::new(Path::new("_S5_"), &s5).to_aml_bytes(&mut aml);
    table(b"DSDT", 2, &aml)
}

/// `_PRT` entries: (device, pin 0–3, GSI).
fn routes(m: &Machine) -> Vec<(u8, u8, u32)> {
    let mut out = Vec::new();
    for dev in 1..32u8 {
        for pin in 0..4u8 {
            let wired = m
                .pci
                .iter()
                .find(|f| f.dev == dev && f.pin == pin + 1)
                .map(|f| f.gsi);
            out.push((
                dev,
                pin,
                wired.unwrap_or_else(|| pci::intx_gsi(dev, pin + 1)),
            ));
        }
    }
    out
}

/// AML already encoded.
struct Raw(Vec<u8>);

impl Aml for Raw {
    fn to_aml_bytes(&self, sink: &mut dyn acpi_tables::AmlSink) {
        sink.vec(&self.0);
    }
}

fn pci_device(m: &Machine) -> Raw {
    let hid = EISAName::new("PNP0A08");
    let cid = EISAName::new("PNP0A03");
    let bus = AddressSpace::<u16>::new_bus_number(0, 0);
    let cfg = IO::new(pci::CONFIG_PORTS as u16, pci::CONFIG_PORTS as u16, 1, 8);
    let io_low = AddressSpace::<u16>::new_io(0, 0x0cf7, None);
    let io_high = AddressSpace::<u16>::new_io(0x0d00, 0xffff, None);
    let vga = AddressSpace::<u32>::new_memory(
        AddressSpaceCacheable::NotCacheable,
        true,
        0xa_0000,
        0xb_ffff,
        None,
    );
    let windows: Vec<AddressSpace<u32>> = m
        .mmio_windows
        .iter()
        .map(|&(lo, hi)| {
            AddressSpace::<u32>::new_memory(
                AddressSpaceCacheable::NotCacheable,
                true,
                lo as u32,
                hi as u32,
                None,
            )
        })
        .collect();
    let mut res: Vec<&dyn Aml> = vec![&bus, &cfg, &io_low, &io_high, &vga];
    res.extend(windows.iter().map(|w| w as &dyn Aml));
    let crs = ResourceTemplate::new(res);
    let entries: Vec<(u32, u8, u32)> = routes(m)
        .into_iter()
        .map(|(dev, pin, gsi)| ((u32::from(dev) << 16) | 0xffff, pin, gsi))
        .collect();
    let zero = 0u8;
    let packages: Vec<Package> = entries
        .iter()
        .map(|(addr, pin, gsi)| Package::new(vec![addr, pin, &zero, gsi]))
        .collect();
    let prt = Package::new(packages.iter().map(|p| p as &dyn Aml).collect());
    let (n_hid, n_cid) = (
        Name::new(Path::new("_HID"), &hid),
        Name::new(Path::new("_CID"), &cid),
    );
    let (adr, seg, uid, bbn) = (
        Name::new(Path::new("_ADR"), &zero),
        Name::new(Path::new("_SEG"), &zero),
        Name::new(Path::new("_UID"), &zero),
        Name::new(Path::new("_BBN"), &zero),
    );
    let n_crs = Name::new(Path::new("_CRS"), &crs);
    let n_prt = Name::new(Path::new("_PRT"), &prt);
    let dev = Device::new(
        Path::new("PCI0"),
        vec![&n_hid, &n_cid, &adr, &seg, &uid, &bbn, &n_crs, &n_prt],
    );
    let mut v = Vec::new();
    dev.to_aml_bytes(&mut v);
    Raw(v)
}
