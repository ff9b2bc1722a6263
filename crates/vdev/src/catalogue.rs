//! Declarations of the vendor vdevs hvhost reads and checks but whose
//! devices its VMM does not provide yet: their options are validated like
//! those of the devices it runs, and a VM that has one does not run here
//! (V0101). Giving one a module with a device moves its declaration there.

use crate::decl::{Arch, Attachment, DeviceDecl, OptDecl, Repeat, ValueType};

/// `hostdev`, as the console and block devices take it.
pub const HOSTDEV: OptDecl = OptDecl::new(
    "hostdev",
    ValueType::HostDev,
    "the host side: a file or device, `<` input only, `>` output only, `-` qvm's stdin/stdout",
)
.repeat(Repeat::Once);

/// `batch`, of the UARTs.
pub const BATCH: OptDecl = OptDecl::new(
    "batch",
    ValueType::Number,
    "microseconds to collect output before it is written to the host",
)
.key("batch_us");

/// `legacy`, of the virtio devices.
pub const LEGACY: OptDecl = OptDecl::new(
    "legacy",
    ValueType::Flag,
    "offer the legacy (pre-1.0) virtio interface too",
);

/// `pl011`.
pub const PL011: DeviceDecl = DeviceDecl::new("pl011", "ARM PL011 UART")
    .arch(Arch::Aarch64)
    .needs_loc()
    .options(&[HOSTDEV, BATCH]);

/// `vgpu-gvtg`.
pub const VGPU_GVTG: DeviceDecl = DeviceDecl::new("vgpu-gvtg", "Intel GVT-g virtual GPU")
    .arch(Arch::X86_64)
    .attachment(Attachment::Pci);

/// `gic`.
pub const GIC: DeviceDecl = DeviceDecl::new("gic", "ARM generic interrupt controller")
    .arch(Arch::Aarch64)
    .pic()
    .options(&[
        OptDecl::new(
            "version",
            ValueType::Choice(&[2, 3]),
            "the GIC architecture version",
        ),
        OptDecl::new(
            "gicc",
            ValueType::OptionalNumber,
            "the CPU interface (at an address)",
        ),
        OptDecl::new("gicr", ValueType::OptionalNumber, "the redistributors (v3)"),
        OptDecl::new(
            "its",
            ValueType::OptionalNumber,
            "the interrupt translation service (v3)",
        ),
        OptDecl::new("msi", ValueType::Numbers, "MSI frame: base,count,first"),
    ]);

/// `wdt-sp805`.
pub const WDT_SP805: DeviceDecl = DeviceDecl::new("wdt-sp805", "ARM SP805 watchdog timer")
    .arch(Arch::Aarch64)
    .needs_loc();

/// `smmu`: the guest's view of the host's SMMU manager (`smmuman`), a vdev
/// shipped with the hypervisor (`vdev-smmu.so`). It has only the common
/// options: `loc`, the base address of its request page (placed by qvm when
/// left out), and `intr`, the interrupt that tells the guest a request is
/// done (allocated when left out).
pub const SMMU: DeviceDecl = DeviceDecl::new(
    "smmu",
    "the guest's view of the host's SMMU manager (smmuman): DMA mappings for pass-through devices",
)
.memory(0x1000, None);
