//! The command-line tool's exit statuses (its diagnostic codes are the
//! libraries': `hvhost run`'s R codes are [`hostcheck::codes`]').

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
