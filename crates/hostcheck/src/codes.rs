//! Diagnostic codes of the host checker.
//!
//! `H01xx`: virtualization present. `H02xx`: host domain code (qvm and the
//! VM configuration files). `H03xx`: vdevs. `H04xx`: pass-through. `H05xx`:
//! safety variants. `H06xx`: adaptive partitioning. `H07xx`: guest images.
//! `R01xx` ([`run`]): planning a run of the host's VMs ([`crate::plan`],
//! `hvhost run`), in their own list so that [`ALL`] is the checker's codes.

diag::declare_codes! {
    /// Neither `module=qvm` (SDP 7.x) nor `-Q enable` (SDP 8.0).
    H0101 = "virtualization-missing", Error, "the host does not enable virtualization";
    /// `module=qvm` on SDP 8.0, `-Q` on SDP 7.x.
    H0102 = "virtualization-wrong-generation", Error, "virtualization is enabled the way of the other SDP generation";
    /// No boot block.
    H0103 = "host-not-bootable", Error, "the image has no boot block, so it cannot be a hypervisor host";
    /// An ELF boot program or script-started executable for another machine than the host's.
    H0104 = "elf-wrong-machine", Error, "a boot program or an executable the boot script runs is built for another machine than the host";
    /// An image (no `module=` recorded) of an SDP 7.x host: virtualization cannot be seen.
    H0105 = "virtualization-not-recorded", Info, "an image does not record whether its SDP 7.x kernel links the qvm module";

    /// `qvm` not in the image, or not along the script's PATH.
    H0201 = "qvm-missing", Error, "the qvm program is not in the image";
    /// A host whose boot script starts no VM.
    H0202 = "qvm-not-started", Warning, "the boot script starts no qvm";
    /// `qvm @PATH` with no such file in the image.
    H0203 = "qvmconf-not-in-image", Error, "a qvm command names a configuration file the image does not hold";
    /// A configuration with errors.
    H0204 = "qvmconf-invalid", Error, "a VM configuration has errors, so its qvm would not start";
    /// A configuration whose bytes are not available.
    H0206 = "qvmconf-unchecked", Warning, "a VM configuration cannot be read here, so its VM is not checked";
    /// `qvm ...` without `&` followed by more commands.
    H0205 = "qvm-blocks-script", Warning, "a qvm started in the foreground blocks the rest of the boot script";
    /// `qvm` with no `@file`.
    H0207 = "qvm-without-config", Warning, "a qvm command names no configuration file";
    /// A VM of another architecture than the host.
    H0208 = "vm-arch-mismatch", Error, "a VM's configuration is for another architecture than the host";

    /// `vdev foo` with no `vdev-foo.so` in the image.
    H0301 = "vdev-missing", Error, "a vdev a VM uses is not in the image";
    /// A `vdev-*.so` no VM uses.
    H0302 = "vdev-unused", Warning, "a vdev in the image is used by no VM";
    /// `pci_server-qvm_support.so` with no PCI pass-through.
    H0303 = "pci-support-unused", Warning, "the PCI server's qvm support module is in the image but no VM is given a PCI device";
    /// `vdev-foo.so` in the image but in no directory of qvm's `LD_LIBRARY_PATH`.
    H0304 = "vdev-off-library-path", Error, "a vdev a VM uses is in the image but not along the library path qvm runs with";

    /// `pass loc pci:` without `pci_server-qvm_support.so`.
    H0401 = "pci-pass-without-support", Error, "a PCI device is passed through but the PCI server's qvm support module is not in the image";
    /// One device in two VMs' `pass`.
    H0402 = "device-passed-twice", Error, "a device or interrupt is passed through to two VMs";
    /// A host driver naming a passed device.
    H0403 = "host-driver-claims-passed-device", Error, "a host driver still claims a device that is passed through";
    /// A host driver of the kind of a passed device.
    H0404 = "host-driver-of-passed-kind", Warning, "a host driver of the same kind as a passed-through device starts without naming its device";

    /// `vdev-foo.so` on a `module=qvm-safety` host.
    H0501 = "safety-host-vdev", Error, "a vdev on a safety host is not a safety variant";
    /// A kernel without `-safety` on a safety host.
    H0502 = "safety-host-kernel", Error, "the kernel of a safety host is not a safety kernel";
    /// `smmuman` without `-safety` on a safety host.
    H0503 = "safety-host-smmuman", Error, "the SMMU manager of a safety host is not a safety variant";
    /// `module=aps` on a safety host.
    H0504 = "safety-host-aps", Error, "a safety host uses module=aps instead of module=aps-safety";
    /// `safety required` with no safety variant.
    H0505 = "safety-variant-required", Error, "a VM requires a safety variant that the image does not hold";
    /// `safety warn` with no safety variant.
    H0506 = "safety-variant-warn", Warning, "a VM warns about a missing safety variant";
    /// Safety variants where there is no safety host.
    H0507 = "safety-variant-on-non-safety-host", Warning, "a safety variant on a host that is not a safety host";

    /// `cpu partition` without `module=aps`.
    H0601 = "aps-module-missing", Error, "a VM uses an APS partition but the kernel has no adaptive-partitioning scheduler";
    /// `cpu partition NAME` without `sched_aps NAME` before the VM's qvm.
    H0602 = "aps-partition-not-created", Error, "a VM uses an APS partition the boot script does not create before the VM starts";

    /// `load PATH` not in the image.
    H0701 = "guest-image-outside-image", Info, "a guest image is expected on a filesystem mounted at run time";
    /// `load PATH` that cannot be satisfied.
    H0702 = "guest-image-unavailable", Error, "a guest image path names a directory, or a file the image's /proc/boot lacks";
}

/// The codes of a planned run of the host's VMs (`R01xx`, [`crate::plan`]).
pub mod run {
    diag::declare_codes! {
        /// `hvhost run` on a host whose boot script starts no `qvm`.
        R0101 = "no-vm-to-run", Error, "the host's boot script starts no VM";
        /// Several VMs and no `--vm`, an unknown name, or a name that fits several.
        R0102 = "vm-choice", Error, "which VM to run is not clear";
        /// A file the VM needs (its configuration or a guest image) cannot be had on this machine.
        R0103 = "vm-file-unavailable", Error, "a file the VM needs is not in the image or not on this machine";
        /// The host breaks a hypervisor-host rule with an error: its qvm would not start the VM.
        R0104 = "host-has-errors", Error, "the host has errors: `hvhost check` must pass before its VMs run";
    }
}
