//! `pci-dummy`: an inactive PCI function, there to be found: its
//! configuration space holds the IDs it is given and nothing else (no BAR,
//! no interrupt pin, no capability). `clone pci:b:d.f` copies a host
//! device's vendor, device, class, revision and subsystem IDs from
//! `/sys/bus/pci/devices/0000:bb:dd.f`; each `reg name=value` or `reg
//! off/size=value` then presets one register, which the guest reads back
//! and cannot change. Without either the function is vendor 0x1234 (an ID
//! no vendor is assigned, used for test devices), device 0x0001, class
//! 0xff0000 (device does not fit a defined class).

use std::path::PathBuf;
use std::sync::Arc;

use crate::decl::{Arch, Attachment, DeviceDecl, OptDecl, Repeat, ValueType};
use crate::pci::{ConfigSpace, Ids, MsiSink, PciFunction};
use crate::{Applied, Context, Error, PciAddr, PciReg, Value, VdevSpec};

const REG: OptDecl = OptDecl::new("reg", ValueType::PciReg, "preset a config-space register")
    .key("regs")
    .repeat(Repeat::Many)
    .hvhost(Applied::Runs);
const CLONE: OptDecl = OptDecl::new(
    "clone",
    ValueType::PciAddr,
    "copy the IDs of a host PCI device",
)
.hvhost(Applied::Runs);

/// What `pci-dummy` declares.
pub const DECL: DeviceDecl = DeviceDecl::new(
    "pci-dummy",
    "a PCI device with preset config space and no function",
)
.arch(Arch::X86_64)
.attachment(Attachment::Pci)
.options(&[REG, CLONE]);

/// The IDs without `clone` or `reg`.
pub const DEFAULT_IDS: Ids = Ids {
    vendor: 0x1234,
    device: 0x0001,
    class: 0xff_0000,
    revision: 0,
    subsystem_vendor: 0,
    subsystem: 0,
    multifunction: false,
};

/// The registers `reg name=value` names (case is ignored): offset, size.
pub const NAMED: &[(&str, usize, usize)] = &[
    ("Vendor_ID", 0x00, 2),
    ("Device_ID", 0x02, 2),
    ("Command", 0x04, 2),
    ("Status", 0x06, 2),
    ("Revision_ID", 0x08, 1),
    ("Prog_IF", 0x09, 1),
    ("Class_Code", 0x09, 3),
    ("Subclass", 0x0a, 1),
    ("Base_Class", 0x0b, 1),
    ("Cache_Line_Size", 0x0c, 1),
    ("Latency_Timer", 0x0d, 1),
    ("Header_Type", 0x0e, 1),
    ("BIST", 0x0f, 1),
    ("BAR0", 0x10, 4),
    ("BAR1", 0x14, 4),
    ("BAR2", 0x18, 4),
    ("BAR3", 0x1c, 4),
    ("BAR4", 0x20, 4),
    ("BAR5", 0x24, 4),
    ("Cardbus_CIS", 0x28, 4),
    ("Subsystem_Vendor_ID", 0x2c, 2),
    ("Subsystem_ID", 0x2e, 2),
    ("Expansion_ROM", 0x30, 4),
    ("Interrupt_Line", 0x3c, 1),
    ("Interrupt_Pin", 0x3d, 1),
    ("Min_Gnt", 0x3e, 1),
    ("Max_Lat", 0x3f, 1),
];

/// Where the host's PCI devices are described.
const SYSFS: &str = "/sys/bus/pci/devices";

/// Offset, size and value of each `reg`, checked.
fn presets(spec: &VdevSpec) -> Result<Vec<(usize, usize, u64)>, Error> {
    let mut out = Vec::new();
    for v in spec.values(&REG) {
        let Value::PciReg(r) = v else { continue };
        let (off, size, value, what) = match r {
            PciReg::Named { name, value } => {
                let Some(&(_, off, size)) =
                    NAMED.iter().find(|(n, ..)| n.eq_ignore_ascii_case(name))
                else {
                    let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
                    return Err(spec.bad(format!(
                        "reg {name}: no such register (known: {})",
                        names.join(", ")
                    )));
                };
                (off, size, *value, name.clone())
            }
            PciReg::Offset {
                offset,
                size,
                value,
            } => (
                *offset as usize,
                *size as usize,
                *value,
                format!("{offset:#x}/{size}"),
            ),
        };
        if off + size > crate::pci::CONFIG_LEN {
            return Err(spec.bad(format!("reg {what}: beyond the 4 KiB configuration space")));
        }
        if size < 8 && value >> (8 * size) != 0 {
            return Err(spec.bad(format!("reg {what}={value:#x}: more than {size} byte(s)")));
        }
        out.push((off, size, value));
    }
    Ok(out)
}

fn sysfs_dir(a: PciAddr) -> PathBuf {
    PathBuf::from(format!(
        "{SYSFS}/0000:{:02x}:{:02x}.{}",
        a.bus, a.dev, a.func
    ))
}

/// The IDs of host device `a`, from sysfs.
fn host_ids(spec: &VdevSpec, a: PciAddr) -> Result<Ids, Error> {
    let dir = sysfs_dir(a);
    let read = |name: &str| -> Result<u32, Error> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            spec.bad(format!(
                "clone pci:{a}: host device {} cannot be read ({e}); is there a PCI device at {a} on this machine?",
                path.display()
            ))
        })?;
        let t = text.trim();
        u32::from_str_radix(t.trim_start_matches("0x"), 16)
            .map_err(|_| spec.bad(format!("clone pci:{a}: {} holds `{t}`", path.display())))
    };
    Ok(Ids {
        vendor: read("vendor")? as u16,
        device: read("device")? as u16,
        class: read("class")? & 0xff_ffff,
        revision: read("revision")? as u8,
        subsystem_vendor: read("subsystem_vendor")? as u16,
        subsystem: read("subsystem_device")? as u16,
        multifunction: false,
    })
}

fn ids(spec: &VdevSpec) -> Result<Ids, Error> {
    match spec.value(&CLONE) {
        Some(Value::PciAddr(a)) => host_ids(spec, *a),
        _ => Ok(DEFAULT_IDS),
    }
}

/// Check the presets and the cloned device (reading sysfs only).
pub(crate) fn check(spec: &VdevSpec) -> Result<(), Error> {
    presets(spec)?;
    ids(spec).map(|_| ())
}

/// The function.
pub(crate) fn function(
    spec: &VdevSpec,
    _ctx: &Context,
    _msi: Arc<dyn MsiSink>,
) -> Result<Box<dyn PciFunction>, Error> {
    Ok(Box::new(PciDummy::new(spec)?))
}

/// A `pci-dummy` function.
#[derive(Debug)]
pub struct PciDummy {
    config: ConfigSpace,
}

impl PciDummy {
    /// The function a `vdev pci-dummy` line describes.
    pub fn new(spec: &VdevSpec) -> Result<PciDummy, Error> {
        let mut config = ConfigSpace::new(&ids(spec)?);
        for (off, size, value) in presets(spec)? {
            config.set(off, &value.to_le_bytes()[..size]);
            config.lock(off, size);
        }
        Ok(PciDummy { config })
    }
}

impl PciFunction for PciDummy {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }
    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::{COMMAND, DEVICE_ID, REVISION_ID, VENDOR_ID};
    use crate::{OptionValue, VdevKind};

    fn spec(regs: &[PciReg]) -> VdevSpec {
        let mut s = VdevSpec::new(VdevKind::PciDummy);
        for r in regs {
            s.options
                .push(OptionValue::new("reg", Value::PciReg(r.clone())));
        }
        s
    }

    fn named(name: &str, value: u64) -> PciReg {
        PciReg::Named {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn presets_are_read_back_and_read_only() {
        let s = spec(&[
            named("vendor_id", 0x8086),
            named("Device_ID", 0x1234),
            named("Class_Code", 0x0c0330),
            PciReg::Offset {
                offset: 0x40,
                size: 4,
                value: 0xdead_beef,
            },
        ]);
        let mut d = PciDummy::new(&s).expect("built");
        let c = d.config_mut();
        assert_eq!(c.read_u16(VENDOR_ID), 0x8086);
        assert_eq!(c.read_u16(DEVICE_ID), 0x1234);
        assert_eq!(c.read_u32(REVISION_ID) >> 8, 0x0c0330);
        assert_eq!(c.read_u32(0x40), 0xdead_beef);
        c.write(VENDOR_ID, &[0, 0]);
        c.write(0x40, &[0; 4]);
        assert_eq!(c.read_u16(VENDOR_ID), 0x8086, "a preset is read-only");
        assert_eq!(c.read_u32(0x40), 0xdead_beef);
        // not preset: the command register stays writable
        c.write(COMMAND, &[2, 0]);
        assert_eq!(c.read_u16(COMMAND), 2);
        // no BAR: sizing reads zero
        c.write(0x10, &[0xff; 4]);
        assert_eq!(c.read_u32(0x10), 0);
    }

    #[test]
    fn bad_presets_and_missing_clones_are_configuration_errors() {
        for bad in [
            spec(&[named("Nonsense", 1)]),
            spec(&[named("Vendor_ID", 0x1_0000)]),
            spec(&[PciReg::Offset {
                offset: 0xffe,
                size: 4,
                value: 0,
            }]),
        ] {
            let e = check(&bad).expect_err("refused");
            assert!(e.is_config(), "{e}");
        }
        let mut s = spec(&[]);
        let gone = PciAddr {
            bus: 0xfe,
            dev: 31,
            func: 7,
        };
        s.options
            .push(OptionValue::new("clone", Value::PciAddr(gone)));
        if !sysfs_dir(gone).exists() {
            let e = check(&s).expect_err("no such host device");
            assert!(e.is_config() && e.to_string().contains("fe:1f.7"), "{e}");
        }
        assert_eq!(
            PciDummy::new(&spec(&[]))
                .map(|d| d.config.read_u16(VENDOR_ID))
                .ok(),
            Some(0x1234)
        );
    }

    #[test]
    fn clone_copies_a_host_device_when_there_is_one() {
        let Some(dir) = std::fs::read_dir(SYSFS)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
        else {
            eprintln!("skipped: no host PCI devices in {SYSFS}");
            return;
        };
        let name = dir.file_name().to_string_lossy().to_string();
        let parts: Vec<u8> = name[5..]
            .split([':', '.'])
            .filter_map(|p| u8::from_str_radix(p, 16).ok())
            .collect();
        let [bus, dev, func] = parts[..] else {
            panic!("{name}")
        };
        let vendor = std::fs::read_to_string(dir.path().join("vendor")).expect("vendor");
        let mut s = spec(&[]);
        s.options.push(OptionValue::new(
            "clone",
            Value::PciAddr(PciAddr { bus, dev, func }),
        ));
        let d = PciDummy::new(&s).expect("cloned");
        let want = u16::from_str_radix(vendor.trim().trim_start_matches("0x"), 16).expect("hex");
        assert_eq!(d.config.read_u16(VENDOR_ID), want);
    }
}
