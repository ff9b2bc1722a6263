//! A KVM virtual machine monitor for QNX-style VM descriptions.
//!
//! [`run`] assembles a VM from a [`VmSpec`] (guest memory, vCPUs, the
//! in-kernel interrupt controllers and PIT, user-space vdevs on port and MMIO
//! buses), loads its images (ELF with PVH note, multiboot v1, ELF64, Linux
//! bzImage, QNX IFS, raw, data, initrd), runs it and returns a qvm exit code.
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`spec`], [`codes`], `bus`, `signals` | the VM description; the V codes; port and MMIO dispatch; the power button |
//! | 2 | `memory`, `irq` | guest RAM and ROM; interrupt routing |
//! | 3 | `pci` | PCI bus 0: configuration access, BARs, INTx and MSI-X routes |
//! | 4 | `boot`, `cpu`, `firmware` | loaders and boot protocols; vCPU registers; the ACPI and MP tables |
//! | 5 | `validate` | what this VMM can run (preflight) |
//! | 6 | `from_qvmconf`, `platform` | a qvmconf VM → [`VmSpec`]; the PCI bus, ACPI hardware and firmware tables of an assembled VM |
//! | 7 | `vm` | assembly and the run loop |
//! | 8 | [`host`] | a whole host's VMs, each as its own process |

mod boot;
mod bus;
pub mod codes;
mod cpu;
mod firmware;
mod from_qvmconf;
pub mod host;
mod irq;
mod memory;
mod pci;
mod platform;
mod signals;
pub mod spec;
mod validate;
mod vm;

pub use from_qvmconf::spec_from_config;
pub use spec::{ImageFormat, Load, LoadKind, MemKind, MemRegion, Policy, ResetAction, VmSpec};
pub use validate::{Verdict, refusals, stop_of};

/// qvm's exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// 0: the guest shut down (power-off, reset, halt with `exit-on-halt`), or a dry run.
    Shutdown = 0,
    /// 3: power cut: SIGQUIT, or a guest that ignored the power button.
    PowerCut = 3,
    /// 4: the guest's watchdog (`wdt-ib700`) expired: it was not petted in time.
    Watchdog = 4,
    /// 5: the guest did something the VM cannot emulate (`unsupported ... abort`).
    Unsupported = 5,
    /// 6: a vdev failed.
    VdevError = 6,
    /// 7: unexpected error (KVM reported an internal error or entry failure).
    Unexpected = 7,
    /// 64: fatal error before the guest started (host resources, files).
    BeforeStart = 64,
    /// 65: fatal configuration error.
    Config = 65,
    /// 96: fatal error after the guest started.
    AfterStart = 96,
}

impl ExitCode {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How a run ended: the exit code and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub code: ExitCode,
    /// Why, for the log.
    pub reason: String,
}

/// Errors while assembling a VM; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// A guest image cannot be loaded.
    #[error("{path}: {msg}")]
    Image {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// A host file cannot be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A vdev could not be created.
    #[error(transparent)]
    Vdev(#[from] vdev::Error),
    /// KVM refused an operation.
    #[error("kvm: {what}: {source}")]
    Kvm {
        /// The operation.
        what: &'static str,
        /// The error.
        source: kvm_ioctls::Error,
    },
    /// Another host failure.
    #[error("{0}")]
    Host(String),
}

impl Error {
    /// The exit code for a failure before the guest ran.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) | Error::Image { .. } => ExitCode::Config,
            Error::Vdev(e) if e.is_config() => ExitCode::Config,
            _ => ExitCode::BeforeStart,
        }
    }
}

pub(crate) fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
    move |source| Error::Kvm { what, source }
}

/// Every reason this VMM would refuse to run `cfg`, found before anything is
/// assembled or opened, each located at the `vdev`, `loc`, `intr`, `cpu`,
/// `load` or `pass` of the configuration concerned, with a `V` code and a
/// help that says what to change. Empty when the VM can be assembled (host
/// resources, files and images are checked when it is). These are the checks
/// the VM's assembly itself runs ([`run`], [`check`] stop with exit 65 on the
/// first of them), so the two cannot disagree.
///
/// Meant for `qvm`-style front ends: QNX qvm has vdevs (virtio, hpet, ...)
/// this VMM does not, so a host checker for QNX must not call this.
pub fn preflight(cfg: &qvmconf::VmConfig) -> Vec<diag::Diagnostic> {
    if let Some(d) = validate::foreign_arch(cfg) {
        return vec![d]; // one error: nothing else of such a VM is judged here
    }
    let conv = from_qvmconf::convert(cfg, std::path::Path::new("."));
    let mut out: Vec<diag::Diagnostic> = conv
        .refused
        .into_iter()
        .map(|r| {
            let d = diag::Diagnostic::new(r.code, r.msg).help(r.help);
            match r.span {
                Some(span) => d.at(span, r.label),
                None => d,
            }
        })
        .collect();
    let Err(problems) = validate::plan(&conv.spec) else {
        return out;
    };
    let span = |subject: validate::Subject| -> Option<diag::Span> {
        use validate::Subject as S;
        let vdev = |i: usize| conv.vdev_src.get(i).and_then(|&j| cfg.vdevs.get(j));
        match subject {
            S::Vdev(i) => vdev(i).map(|v| v.span),
            S::Loc(i) => vdev(i).map(|v| v.loc.as_ref().map_or(v.span, |l| l.span)),
            S::Intr(i) => vdev(i).map(|v| {
                v.intr
                    .iter()
                    .find(|x| matches!(x.value, qvmconf::Intr::Line { .. }))
                    .map_or(v.span, |x| x.span)
            }),
            S::Cpus => cfg
                .cpus
                .get(validate::MAX_CPUS as usize)
                .or(cfg.cpus.last())
                .map(|c| c.span),
            S::Ram => cfg.memory.first().map(|m| m.span),
            S::Memory(Some(i)) => conv.mem_spans.get(i).copied(),
            S::Memory(None) => cfg.memory.first().map(|m| m.span),
            S::Cmdline => cfg.cmdline.as_ref().map(|c| c.span),
            S::Loads => cfg.loads.first().map(|l| l.span),
        }
    };
    for p in problems {
        let mut d = diag::Diagnostic::new(p.code, p.msg).help(p.help);
        if let Some(s) = span(p.subject) {
            d = d.at(s, p.label);
        }
        if let Some(related) = p.related
            && let (subject, label) = *related
            && let Some(s) = span(subject)
        {
            d = d.with(s, label);
        }
        out.push(d);
    }
    out
}

/// Options of a run that are not part of the VM's description.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Do not install handlers for SIGTERM, SIGINT and SIGQUIT (for
    /// embedding in a process that handles them itself).
    pub no_signal_handlers: bool,
}

/// Assemble and run the VM; returns when it has ended.
pub fn run(spec: &VmSpec, opts: &RunOptions) -> Outcome {
    vm::run(spec, opts)
}

/// Only assemble the VM (memory, loads, devices) and tear it down again: a
/// configuration check that needs `/dev/kvm`.
pub fn check(spec: &VmSpec) -> Result<(), Error> {
    vm::Vm::build(spec, &vm::Shared::new()).map(|_| ())
}

/// Where the probe guest built with this crate lives (for tests, benches
/// and demos; the paths point into the build directory).
pub mod probe {
    /// The probe as an ELF (PVH note, multiboot header, ELF64 entry).
    pub const ELF: &str = env!("VMM_PROBE_ELF");
    /// The probe as a flat binary for 0x100000 (raw: first byte is a 32-bit
    /// entry; at +0x200 the Linux 64-bit entry).
    pub const BIN: &str = env!("VMM_PROBE_BIN");
    /// Its load address.
    pub const BASE: u64 = 0x10_0000;
}
