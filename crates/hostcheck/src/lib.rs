//! The composition rules of a hypervisor host.
//!
//! A hypervisor host is an ordinary mkifs image whose content makes it one:
//! virtualization enabled in the kernel (or by startup on SDP 8.0), the `qvm`
//! program started by the boot script once per VM, the VMs' `*.qvmconf`
//! files, the `vdev-*.so` they load, the support modules their pass-through
//! needs, and nothing the VMs take away from the host. [`check`] applies
//! those rules to a resolved [`Manifest`] together with a thin view of every
//! VM ([`VmFacts`]) and returns located diagnostics: each one points at the
//! buildfile line and, where a VM is involved, at the qvmconf line.
//!
//! Modules are layered: each uses only those in the rows above it (and the
//! plain inputs this file declares, [`Options`] and the rules' context),
//! never one below, so there is no cycle:
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`paths`], [`codes`], [`facts`] | image paths as text; the H codes; [`VmFacts`], the thin view of a VM the rules use |
//! | 2 | [`shell`] | the programs a script command runs (wrappers, `sh -c`) |
//! | 3 | [`host`] | [`HostView`]: the image as the rules see it |
//! | 4 | [`load`], [`drivers`], [`stage`] | reading the VMs' qvmconf files into facts; the host's drivers and the devices they claim; where an entry's bytes are on this machine |
//! | 5 | the rule families (below) | the rules, each on a [`HostView`] and the facts; [`safety`] uses [`vdevs`]'s tables |
//! | 6 | this file | [`check`]: every rule family, in order |
//! | 7 | [`plan`] | a run of the host's VMs planned: which VMs, the host rules first, their configurations with host paths (R codes) |
//!
//! One module per rule family:
//!
//! | family | module | codes |
//! |---|---|---|
//! | virtualization present | [`virt`] | H01xx |
//! | host domain code (qvm, qvmconf files) | [`domain`] | H02xx |
//! | vdevs in the image, unused components | [`vdevs`] | H03xx |
//! | pass-through | [`pass`] | H04xx |
//! | safety variants | [`safety`] | H05xx |
//! | adaptive partitioning | [`aps`] | H06xx |
//! | guest images | [`images`] | H07xx |
//!
//! ```
//! use buildfile::{load, Options as BOptions};
//! let src = b"[virtual=x86_64,bios] boot = {\n startup-x86\n [module=qvm] procnto-smp-instr\n}\n\
//! [+script] .script = {\n qvm @/vm/a.qvmconf &\n}\n/proc/boot/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n";
//! let mut map = diag::SourceMap::new();
//! let opts = BOptions { no_host_files: true, host_access: false, ..BOptions::default() };
//! let (m, d) = load(&mut map, &[], "host.build", src.to_vec(), &opts);
//! assert!(d.is_empty());
//! let report = hostcheck::check(&m.unwrap(), &[], &hostcheck::Options::default());
//! assert!(report.diagnostics.is_empty());
//! assert_eq!(report.sdp, hostcheck::Sdp::V7);
//! ```

pub mod aps;
pub mod codes;
pub mod domain;
pub mod drivers;
pub mod facts;
pub mod host;
pub mod images;
pub mod load;
pub mod pass;
pub mod paths;
pub mod plan;
pub mod safety;
pub mod shell;
pub mod stage;
pub mod vdevs;
pub mod virt;

pub use facts::*;
pub use host::{Arch, HostView, QvmStart, Sdp, SdpSource};
pub use load::{Loaded, load_vms};

use buildfile::Manifest;
use diag::Diagnostic;

/// How to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The SDP generation, when the caller knows it (`--sdp`); otherwise detected.
    pub sdp: Option<Sdp>,
}

/// The result of a check.
#[derive(Debug)]
pub struct Report {
    /// The generation the host was checked as.
    pub sdp: Sdp,
    /// Why.
    pub sdp_source: SdpSource,
    /// The host's architecture (`None`: another one, or not known).
    pub arch: Option<Arch>,
    /// True for a host of the safety-certified hypervisor (`module=qvm-safety`).
    pub safety_host: bool,
    /// Number of `qvm` commands in the boot script.
    pub qvm_starts: usize,
    /// The kernel's `module=qvm` / `module=qvm-safety`, if any.
    pub qvm_module: Option<String>,
    /// The startup line's `-Q` value, if any.
    pub startup_q: Option<String>,
    /// Every finding, in rule order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// One sentence saying which generation rule applied and why.
    pub fn generation_text(&self) -> String {
        let why = match self.sdp_source {
            SdpSource::Given => "as given by --sdp",
            SdpSource::StartupQ(_) => "detected: the startup line has -Q",
            SdpSource::NoStartupQ => "detected: the startup line has no -Q",
            SdpSource::NotBootable => "assumed: the image has no boot block",
        };
        let rule = match (self.sdp, &self.qvm_module, &self.startup_q) {
            (_, _, _) if self.sdp_source == SdpSource::NotBootable => {
                "virtualization not enabled (no boot block)".to_string()
            }
            (Sdp::V7, Some(m), _) => format!("virtualization from module={m} on the kernel"),
            (Sdp::V7, None, _) => {
                "virtualization not enabled: the kernel has no module=qvm".to_string()
            }
            (Sdp::V8, _, Some(q)) if q.split(',').next() == Some("enable") => {
                format!("virtualization enabled by startup -Q {q}")
            }
            (Sdp::V8, _, Some(q)) => {
                format!("virtualization not enabled: the startup line has -Q {q}, not -Q enable")
            }
            (Sdp::V8, _, None) => {
                "virtualization not enabled: the startup line has no -Q enable".to_string()
            }
        };
        format!("SDP {} ({why}): {rule}", self.sdp.as_str())
    }

    /// True when the host enables virtualization the way of its generation
    /// (no H0101).
    pub fn virtualization_enabled(&self) -> bool {
        match self.sdp {
            _ if self.sdp_source == SdpSource::NotBootable => false,
            Sdp::V7 => self.qvm_module.is_some(),
            Sdp::V8 => self
                .startup_q
                .as_deref()
                .is_some_and(|q| q.split(',').next() == Some("enable")),
        }
    }
}

/// What every rule sees.
pub(crate) struct Ctx<'a> {
    pub host: HostView<'a>,
    pub vms: &'a [VmFacts],
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// True when every `qvm` of the script has its VM among `vms`: only then
    /// can a component be called unused.
    pub(crate) fn all_vms_known(&self) -> bool {
        !self.host.qvm_starts.is_empty()
            && self.host.qvm_starts.iter().all(|s| {
                self.vms.iter().any(|v| {
                    v.start == Some(s.index)
                        || (v.start.is_none()
                            && s.configs
                                .first()
                                .is_some_and(|c| v.configs.first() == Some(c)))
                })
            })
    }

    /// Adds "VM started here" to a diagnostic about a VM.
    pub(crate) fn started_here(&self, vm: &VmFacts, d: Diagnostic) -> Diagnostic {
        match self.start_of(vm) {
            Some(s) => d.with(s.span(), format!("VM `{}` is started here", vm.name)),
            None => d,
        }
    }

    /// The `qvm` command that starts a VM, found by its first configuration file.
    pub(crate) fn start_of(&self, vm: &VmFacts) -> Option<&QvmStart<'a>> {
        if let Some(i) = vm.start {
            return self.host.qvm_starts.iter().find(|s| s.index == i);
        }
        let first = vm.configs.first()?;
        self.host
            .qvm_starts
            .iter()
            .find(|s| s.configs.first() == Some(first))
    }
}

/// Checks a host: the Manifest and the VMs its boot script starts.
///
/// `vms` holds one [`VmFacts`] for each VM whose configuration could be read;
/// a `qvm` command without one is checked only for what the Manifest shows,
/// and rules that need every VM (unused components) stay silent.
pub fn check(manifest: &Manifest, vms: &[VmFacts], opts: &Options) -> Report {
    let host = HostView::new(manifest, opts.sdp);
    let mut cx = Ctx {
        host,
        vms,
        diags: Vec::new(),
    };
    virt::check(&mut cx);
    domain::check(&mut cx);
    vdevs::check(&mut cx);
    pass::check(&mut cx);
    safety::check(&mut cx);
    aps::check(&mut cx);
    images::check(&mut cx);
    Report {
        sdp: cx.host.sdp,
        sdp_source: cx.host.sdp_source,
        arch: cx.host.arch,
        safety_host: cx.host.is_safety_host(),
        qvm_starts: cx.host.qvm_starts.len(),
        qvm_module: cx.host.qvm_module.map(|m| m.name.clone()),
        startup_q: cx.host.startup_q().map(str::to_string),
        diagnostics: cx.diags,
    }
}
