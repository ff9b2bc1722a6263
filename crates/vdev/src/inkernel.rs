//! `8259`, `ioapic` and `timer8254`: devices KVM emulates, which this crate
//! only declares and places; the VMM binds them ([`InKernel`]).

use crate::decl::{Arch, DeviceDecl};
use crate::{Error, InKernel, Loc, Space, VdevSpec, io_base};

/// `8259`.
pub const PIC8259: DeviceDecl = DeviceDecl::new(
    "8259",
    "the legacy PIC pair (KVM's): the first `vdev 8259` at io:0x20, the second at io:0xa0",
)
.tag("pic8259")
.arch(Arch::X86_64)
.ports(2, None)
.pic();

/// `ioapic`.
pub const IOAPIC: DeviceDecl = DeviceDecl::new("ioapic", "the I/O APIC (KVM's)")
    .arch(Arch::X86_64)
    .memory(0x1000, Some(0xfec0_0000))
    .pic();

/// `timer8254`.
pub const TIMER8254: DeviceDecl = DeviceDecl::new("timer8254", "the 8254 PIT (KVM's)")
    .arch(Arch::X86_64)
    .ports(4, Some(0x40));

/// The 8259 pair lives at io:0x20 and io:0xa0.
pub(crate) fn pic(spec: &VdevSpec) -> Result<InKernel, Error> {
    let base = io_base(spec, None)?;
    if base != 0x20 && base != 0xa0 {
        return Err(spec.misplaced(format!(
            "the in-kernel 8259 pair lives at io:0x20 and io:0xa0, not {base:#x}"
        )));
    }
    Ok(InKernel::Pic { base })
}

/// The ioapic, in memory space (0xfec00000 by default).
pub(crate) fn ioapic(spec: &VdevSpec) -> Result<InKernel, Error> {
    let base = match spec.loc {
        Some(Loc {
            space: Space::Mem,
            base,
            ..
        }) => base,
        Some(_) => return Err(spec.misplaced("the ioapic lives in memory space")),
        None => IOAPIC.default_loc.unwrap_or_default(),
    };
    let name = spec.name.clone().unwrap_or_else(|| "ioapic".to_string());
    Ok(InKernel::Ioapic { base, name })
}

/// The PIT; where KVM's is (0x40) is the VMM's to check, with the rule that
/// a VM has one.
pub(crate) fn pit(spec: &VdevSpec) -> Result<InKernel, Error> {
    Ok(InKernel::Pit {
        base: io_base(spec, TIMER8254.default_loc)?,
        intr: spec.intr.clone(),
    })
}
