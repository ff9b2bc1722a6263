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

/// The exit status of `manifest`, `check`, `build`, `dump`, `explain`,
/// `completions` and `man`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Done, and nothing failed.
    Ok = 0,
    /// The input has errors (or warnings under `--deny warnings`), or the
    /// image is bad, or writing failed.
    Failed = 1,
    /// The input could not be read, or the command line is wrong (clap's
    /// usage errors are 2 too).
    Unreadable = 2,
}

impl Exit {
    /// `Failed` when `failed`, `Ok` otherwise.
    pub(crate) fn failed_if(failed: bool) -> Exit {
        if failed { Exit::Failed } else { Exit::Ok }
    }
}

/// The failing exit statuses of `qvm` and `run`: qvm's own codes (0 when
/// a dry run printed its plan or the guest ended normally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QvmExit {
    /// A fatal error before the guest started (a file the VM needs, KVM).
    BeforeStart = 64,
    /// A fatal error in the configuration.
    Config = 65,
}
