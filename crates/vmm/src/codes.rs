//! Diagnostic codes of the VMM: configurations that QNX qvm may accept but
//! this KVM VMM cannot run. `hvhost qvm` and `hvhost run` report them before
//! the VM is assembled ([`crate::preflight`]).
//!
//! `V01xx`: what the configuration asks of this VMM. A [`Problem`] is one
//! finding with its code and the part of the configuration it is about.

diag::declare_codes! {
    /// `vdev virtio-blk`, `vdev hpet`, `vdev pl011`, ...
    V0101 = "unsupported-vdev", Error, "a vdev this VMM does not provide";
    /// `pass`, a PCI `loc`, `acpi load`, `fdt load`, an arm64 image.
    V0102 = "unsupported-feature", Error, "a configuration feature this VMM does not provide";
    /// Two `vdev ioapic` lines.
    V0103 = "second-ioapic", Error, "more than one ioapic";
    /// Two `vdev timer8254` lines.
    V0104 = "second-timer8254", Error, "more than one timer8254";
    /// `vdev 8259 loc 0x4d0`, `vdev timer8254 loc 0x48`, a port beyond 0xffff.
    V0105 = "vdev-location", Error, "a vdev at a location this VMM cannot give it";
    /// `intr myioapic:40`, `intr 8259:2`.
    V0106 = "intr-line", Error, "an interrupt line the controller does not have";
    /// `intr apic:4`, `intr nosuchpic:4`.
    V0107 = "intr-controller", Error, "an `intr` that names no interrupt controller of this VMM";
    /// More than 254 `cpu` lines.
    V0108 = "too-many-cpus", Error, "more vCPUs than this VMM can run";
    /// A `reg` preset out of range, a bad `loc` length, `hostdev >` alone.
    V0109 = "vdev-option", Error, "a vdev option this VMM cannot honour";
    /// Two vdevs on the same ports or addresses.
    V0110 = "device-overlap", Error, "two vdevs claim the same ports or addresses";
    /// No `ram` at 0-0x30000.
    V0111 = "boot-ram", Error, "no RAM where this VMM puts the boot structures";
    /// No `load` of an image.
    V0112 = "no-image", Error, "no image to boot";
    /// `ram 0,0xa0800`: not whole pages; overlapping regions; no `ram`.
    V0113 = "memory-layout", Error, "guest memory this VMM cannot map";
    /// A command line of 64 KiB or more.
    V0114 = "cmdline-too-long", Error, "a command line that does not fit the boot page";
    /// An aarch64 configuration (`vdev pl011`, `vdev gic`, an aarch64 image).
    V0115 = "guest-architecture", Error, "a guest of an architecture this machine does not run";
}

/// What part of the configuration a [`Problem`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The vdev with this index in [`crate::VmSpec::vdevs`].
    Vdev(usize),
    /// That vdev's `loc`.
    Loc(usize),
    /// That vdev's `intr`.
    Intr(usize),
    /// The `cpu` lines.
    Cpus,
    /// The `ram` lines.
    Ram,
    /// The memory region with this index in [`crate::VmSpec::memory`] (`ram`,
    /// `rom`, `reserve`); none: the memory lines as a whole.
    Memory(Option<usize>),
    /// The `cmdline`.
    Cmdline,
    /// The `load` lines (there may be none).
    Loads,
}

/// One reason the VMM cannot run a configuration.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Its stable code.
    pub code: &'static diag::Code,
    /// Where it is.
    pub subject: Subject,
    /// The message (as `Error::Config` carries it).
    pub msg: String,
    /// A short label for the location.
    pub label: String,
    /// What to change.
    pub help: String,
    /// Another place involved, with its label (the first ioapic, ...).
    pub related: Option<Box<(Subject, String)>>,
}

impl Problem {
    pub(crate) fn new(
        code: &'static diag::Code,
        subject: Subject,
        msg: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Problem {
        Problem {
            code,
            subject,
            msg: msg.into(),
            label: label.into(),
            help: help.into(),
            related: None,
        }
    }

    pub(crate) fn related(mut self, subject: Subject, label: impl Into<String>) -> Problem {
        self.related = Some(Box::new((subject, label.into())));
        self
    }
}
