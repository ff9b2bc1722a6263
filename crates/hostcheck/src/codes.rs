//! Diagnostic codes of the host checker.
//!
//! `H01xx`: virtualization present. `H02xx`: host domain code (qvm and the
//! VM configuration files).

diag::declare_codes! {
    /// Neither `module=qvm` (SDP 7.x) nor `-Q enable` (SDP 8.0).
    H0101 = "virtualization-missing", Error, "the host does not enable virtualization";
    /// `module=qvm` on SDP 8.0, `-Q` on SDP 7.x.
    H0102 = "virtualization-wrong-generation", Error, "virtualization is enabled the way of the other SDP generation";
    /// No boot block.
    H0103 = "host-not-bootable", Error, "the image has no boot block, so it cannot be a hypervisor host";

    /// `qvm` not in the image, or not along the script's PATH.
    H0201 = "qvm-missing", Error, "the qvm program is not in the image";
    /// A host whose boot script starts no VM.
    H0202 = "qvm-not-started", Warning, "the boot script starts no qvm";
    /// `qvm @PATH` with no such file in the image.
    H0203 = "qvmconf-not-in-image", Error, "a qvm command names a configuration file the image does not hold";
    /// `qvm ...` without `&` followed by more commands.
    H0205 = "qvm-blocks-script", Warning, "a qvm started in the foreground blocks the rest of the boot script";
    /// `qvm` with no `@file`.
    H0207 = "qvm-without-config", Warning, "a qvm command names no configuration file";
}
