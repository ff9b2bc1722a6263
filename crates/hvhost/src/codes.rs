//! Diagnostic codes of the command-line tool's own commands (`R`: `hvhost run`).

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
