//! The rules a [`VmSpec`] must follow before a VM is assembled from it, in
//! one place: [`plan`] is what [`crate::vm::Vm::build`] runs first (and uses
//! the results of), and what [`crate::preflight`] runs to report every
//! problem of a configuration, located, before anything is started.

use std::sync::{Arc, Mutex};

use vdev::{Device, Effect, InKernel, Layout, PciAddr, Space};

use crate::bus::{Bus, SharedDevice};
use crate::codes;
pub(crate) use crate::codes::{Problem, Subject};
use crate::irq::{Controllers, IOAPIC_BASE};
use crate::spec::VmSpec;

/// The most vCPUs a VM may have (xAPIC IDs 0–253; 255 is the broadcast ID).
pub(crate) const MAX_CPUS: u32 = 254;

/// What the checks found out, for the VM's assembly.
pub(crate) struct Plan {
    /// The in-kernel interrupt controllers and the PIT.
    pub controllers: Controllers,
    /// Per vdev: the GSI of each line of its `intr` (user-space devices only).
    pub gsis: Vec<Vec<u32>>,
    /// Per vdev: true for the in-kernel ones (8259, ioapic, timer8254).
    pub in_kernel: Vec<bool>,
    /// Per vdev: its PCI address, for PCI functions (as written or
    /// allocated by the qvmconf validator; else allocated here the same way).
    pub pci: Vec<Option<PciAddr>>,
}

/// The vdevs this VMM provides, for messages (from their registrations).
pub(crate) fn provided() -> String {
    vdev::VdevKind::provided()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn from_vdev(i: usize, kind: &str, e: vdev::Error) -> Problem {
    match e {
        vdev::Error::NotProvided(_) => Problem::new(
            &codes::V0101,
            Subject::Vdev(i),
            e.to_string(),
            "not provided by this VMM",
            format!(
                "this VMM provides {}: remove the line to run the VM here (QNX qvm has the others)",
                provided()
            ),
        ),
        vdev::Error::Placement { .. } => {
            let help = match kind {
                "8259" => "use `loc 0x20` (master) and `loc 0xa0` (slave), where KVM's PIC pair is",
                "ioapic" => "give a memory location, e.g. `loc mem:0xfec00000`",
                k if k.starts_with("virtio-") => {
                    "give `loc mem:ADDR` (its 0x200-byte virtio-mmio window) and `intr PIC:LINE`"
                }
                "hpet" => "give a 1 KiB aligned memory location, e.g. `loc mem:0xfed00000`",
                "shmem" => {
                    "give the factory page a 4 KiB aligned memory location, e.g. `loc mem:0xfe000000`"
                }
                _ => "give a port location `loc io:PORT` with the device's ports within 0-0xffff",
            };
            Problem::new(
                &codes::V0105,
                Subject::Loc(i),
                e.to_string(),
                "not where this VMM can put it",
                help,
            )
        }
        _ => Problem::new(
            &codes::V0109,
            Subject::Vdev(i),
            e.to_string(),
            "this option cannot be honoured",
            "change the option as the message says (`hvhost explain V0109`)",
        ),
    }
}

/// Stands in for a device on the scratch buses of the overlap check.
struct Nothing;

impl Device for Nothing {
    fn read(&mut self, _: usize, _: u64, _: &mut [u8]) -> Result<(), vdev::Error> {
        Ok(())
    }
    fn write(&mut self, _: usize, _: u64, _: &[u8]) -> Result<Effect, vdev::Error> {
        Ok(Effect::None)
    }
}

/// Check `spec` against every rule of the VM's assembly that needs no host
/// resources: vdev kinds, locations and options ([`vdev::layout`]), the
/// interrupt controllers and every `intr` ([`Controllers`]), the vCPU
/// count, overlapping device ranges ([`Bus::insert`]), RAM for the boot
/// structures, an image to boot and the command line (`boot`'s own checks),
/// the memory layout ([`crate::memory::check_layout`]). All problems are
/// returned, in configuration order.
pub(crate) fn plan(spec: &VmSpec) -> Result<Plan, Vec<Problem>> {
    let mut problems = Vec::new();
    let (layouts, controllers, gsis) = devices(spec, &mut problems);
    let pci = pci_addresses(spec, &layouts, &mut problems);

    let cpus = spec.cpus.max(1);
    if cpus > MAX_CPUS {
        problems.push(Problem::new(
            &codes::V0108,
            Subject::Cpus,
            format!("{cpus} vCPUs (at most {MAX_CPUS})"),
            format!("vCPU {MAX_CPUS} and beyond"),
            format!("give the VM at most {MAX_CPUS} `cpu` lines"),
        ));
    }

    let layout = crate::memory::check_layout(&spec.memory);
    if let Err((i, msg)) = &layout {
        problems.push(Problem::new(
            &codes::V0113,
            Subject::Memory(*i),
            msg.clone(),
            "this memory region",
            "give RAM and ROM regions whole 4 KiB pages that do not overlap, and at least one `ram`",
        ));
    }
    if let Some(msg) = crate::boot::cmdline_problem(spec) {
        problems.push(Problem::new(
            &codes::V0114,
            Subject::Cmdline,
            msg,
            "too long, or a NUL",
            "shorten the command line below 64 KiB",
        ));
    }
    if layout.is_ok()
        && let Some(msg) = crate::boot::low_ram_missing(&spec.memory)
    {
        problems.push(Problem::new(
            &codes::V0111,
            Subject::Ram,
            msg,
            "no RAM at 0x0-0x30000",
            "add `ram 0,0xa0000` (the PC's low 640 KiB): this VMM puts the guest's boot structures there",
        ));
    }
    if !crate::boot::has_image(spec) {
        problems.push(Problem::new(
            &codes::V0112,
            Subject::Loads,
            crate::boot::NO_IMAGE,
            "no image to boot",
            "add `load FILE` with the guest's kernel or IFS image",
        ));
    }

    if problems.is_empty() {
        Ok(Plan {
            controllers,
            gsis,
            in_kernel: layouts
                .iter()
                .map(|l| matches!(l, Some(Layout::InKernel(_))))
                .collect(),
            pci,
        })
    } else {
        Err(problems)
    }
}

/// The vdevs' layouts, the interrupt controllers and each user-space
/// device's GSI; every problem found goes to `problems`.
fn devices(
    spec: &VmSpec,
    problems: &mut Vec<Problem>,
) -> (Vec<Option<Layout>>, Controllers, Vec<Vec<u32>>) {
    let mut layouts = Vec::with_capacity(spec.vdevs.len());
    for (i, v) in spec.vdevs.iter().enumerate() {
        match vdev::layout(v) {
            Ok(l) => layouts.push(Some(l)),
            Err(e) => {
                problems.push(from_vdev(i, v.base_kind(), e));
                layouts.push(None);
            }
        }
    }
    let bindings: Vec<(usize, &InKernel)> = layouts
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Some(Layout::InKernel(b)) => Some((i, b)),
            _ => None,
        })
        .collect();
    let (controllers, found) = Controllers::new(&bindings);
    problems.extend(found);

    let mut gsis = vec![Vec::new(); spec.vdevs.len()];
    let mut io = Bus::default();
    let mut mmio = Bus::default();
    let nothing: SharedDevice = Arc::new(Mutex::new(Box::new(Nothing)));
    if let Some(base) = controllers.ioapic_base().filter(|&b| b != IOAPIC_BASE) {
        // the relocated ioapic's register window (vm.rs adds the same)
        let _ = mmio.insert(base, 0x100, 0, nothing.clone(), "ioapic");
    }
    // the PCI configuration ports (vm.rs adds the same)
    let _ = io.insert(crate::pci::CONFIG_PORTS, 8, 0, nothing.clone(), "pci");
    let pm = crate::firmware::pm::Pm::LEN;
    let _ = io.insert(crate::firmware::PM_BASE, pm, 0, nothing.clone(), "acpi pm");
    for (i, v) in spec.vdevs.iter().enumerate() {
        let ranges = match &layouts[i] {
            Some(Layout::Bus(ranges)) => ranges,
            Some(Layout::Pci) => &Vec::new(),
            _ => continue,
        };
        for intr in v.intrs() {
            match controllers.gsi(intr, v.base_kind(), Subject::Intr(i)) {
                Ok(g) => gsis[i].push(g),
                Err(p) => problems.push(p),
            }
        }
        for (n, r) in ranges.iter().enumerate() {
            let bus = if r.space == Space::Io {
                &mut io
            } else {
                &mut mmio
            };
            if let Err(e) = bus.insert(r.base, r.len, n, nothing.clone(), v.base_kind()) {
                problems.push(Problem::new(
                    &codes::V0110,
                    Subject::Loc(i),
                    format!("vdev {}: {e}", v.base_kind()),
                    "overlaps another device",
                    "move one of the two devices (`loc`) so that their ranges do not meet",
                ));
                break;
            }
        }
    }
    (layouts, controllers, gsis)
}

/// The PCI address of each PCI function: the one its spec gives (checked:
/// bus 0, not the host bridge's, not taken), else the first free device
/// number from [`qvmconf::FIRST_AUTO_PCI_DEV`], as the qvmconf validator
/// allocates them.
fn pci_addresses(
    spec: &VmSpec,
    layouts: &[Option<Layout>],
    problems: &mut Vec<Problem>,
) -> Vec<Option<PciAddr>> {
    let mut out = vec![None; spec.vdevs.len()];
    let mut taken = [false; 32];
    taken[0] = true;
    let mut owner: Vec<(PciAddr, usize)> = Vec::new();
    for (i, v) in spec.vdevs.iter().enumerate() {
        let (Some(Layout::Pci), Some(a)) = (&layouts[i], v.pci) else {
            continue;
        };
        let problem = if a.bus != 0 || a.dev > 31 || a.func > 7 {
            Some(format!(
                "vdev {}: PCI address {a} is not on bus 0",
                v.base_kind()
            ))
        } else if a.dev == 0 {
            Some(format!(
                "vdev {}: PCI address {a} is the host bridge's",
                v.base_kind()
            ))
        } else if let Some((_, j)) = owner.iter().find(|(b, _)| *b == a) {
            Some(format!(
                "vdev {}: PCI address {a} is taken by vdev {}",
                v.base_kind(),
                spec.vdevs[*j].base_kind()
            ))
        } else {
            None
        };
        match problem {
            Some(msg) => problems.push(Problem::new(
                &codes::V0110,
                Subject::Loc(i),
                msg,
                "this PCI address",
                "give the device a free device number on bus 0 (1-31), or no `loc` to have one allocated",
            )),
            None => {
                taken[usize::from(a.dev)] = true;
                owner.push((a, i));
                out[i] = Some(a);
            }
        }
    }
    for (i, v) in spec.vdevs.iter().enumerate() {
        if !matches!(layouts[i], Some(Layout::Pci)) || v.pci.is_some() {
            continue;
        }
        match (usize::from(qvmconf::FIRST_AUTO_PCI_DEV)..32).find(|&d| !taken[d]) {
            Some(d) => {
                taken[d] = true;
                out[i] = Some(PciAddr {
                    bus: 0,
                    dev: d as u8,
                    func: 0,
                });
            }
            None => problems.push(Problem::new(
                &codes::V0110,
                Subject::Vdev(i),
                format!(
                    "vdev {}: no PCI device number is left on bus 0",
                    v.base_kind()
                ),
                "needs a PCI slot",
                "drop some PCI devices: bus 0 has device numbers 1 to 31",
            )),
        }
    }
    out
}

/// The error a VM's assembly stops with: the first problem.
pub(crate) fn first_error(problems: Vec<Problem>) -> crate::Error {
    crate::Error::Config(
        problems
            .into_iter()
            .next()
            .map(|p| p.msg)
            .unwrap_or_else(|| "invalid configuration".into()),
    )
}

/// The one verdict on a VM before it runs, the same for a dry run (`qvm
/// ... dryrun`, `run --dryrun`) and a run: every stage's findings in one
/// pass — reading and validating the configuration with its host files
/// (given), then what this VMM cannot run ([`crate::preflight`], also on a
/// configuration that has errors, read with [`qvmconf::Options::partial`])
/// — and qvm's exit code when they stop the VM. A dry run prints the plan
/// and a run starts the VM only when [`Verdict::stop`] is `None`.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Every finding, in stage order.
    pub diagnostics: Vec<diag::Diagnostic>,
}

impl Verdict {
    /// The verdict on `config` (the VM as far as it could be read; `None`:
    /// it could not be read) whose reading found `read`.
    pub fn new(config: Option<&qvmconf::VmConfig>, read: Vec<diag::Diagnostic>) -> Verdict {
        let refused = config.map(|c| refusals(c, &read)).unwrap_or_default();
        let mut diagnostics = read;
        diagnostics.extend(refused);
        Verdict { diagnostics }
    }

    /// `None` when the VM may run; otherwise the exit code that stops it
    /// (see [`stop_of`]).
    pub fn stop(&self) -> Option<crate::ExitCode> {
        stop_of(&self.diagnostics)
    }
}

/// The VMM's stage of a [`Verdict`]: what [`crate::preflight`] refuses in
/// `config`, whose reading found `read`. When reading found configuration
/// errors, the VM lacks the lines in error, so the rules about what a whole
/// VM is missing (boot RAM at 0, V0111; an image, V0112) are left for after
/// they are fixed: they would only repeat that a refused `ram` or `load` is
/// missing.
pub fn refusals(config: &qvmconf::VmConfig, read: &[diag::Diagnostic]) -> Vec<diag::Diagnostic> {
    let incomplete = read
        .iter()
        .any(|d| d.is_error() && !qvmconf::codes::is_host_file(d.code));
    let missing = [&codes::V0111, &codes::V0112];
    crate::preflight(config)
        .into_iter()
        .filter(|d| !(incomplete && missing.contains(&d.code)))
        .collect()
}

/// The exit code errors among `diagnostics` stop a VM with: 65 (a
/// configuration error) when any error is about the configuration or what
/// this VMM cannot run, else 64 (before the guest started) when the only
/// errors are host files that are not on this machine
/// ([`qvmconf::codes::is_host_file`]); `None` without errors.
pub fn stop_of(diagnostics: &[diag::Diagnostic]) -> Option<crate::ExitCode> {
    let mut errors = diagnostics.iter().filter(|d| d.is_error()).peekable();
    errors.peek()?;
    if errors.any(|d| !qvmconf::codes::is_host_file(d.code)) {
        Some(crate::ExitCode::Config)
    } else {
        Some(crate::ExitCode::BeforeStart)
    }
}

/// The one finding for a configuration of another architecture than this
/// machine's guests (x86_64): a [`codes::V0115`] error at what made it
/// one, instead of every device and memory rule of an x86 VM it breaks.
pub(crate) fn foreign_arch(cfg: &qvmconf::VmConfig) -> Option<diag::Diagnostic> {
    let a = cfg.arch.as_ref().filter(|a| a.arch != vdev::Arch::X86_64)?;
    Some(
        diag::Diagnostic::new(
            &codes::V0115,
            format!(
                "this machine runs x86_64 guests only: this is an {} configuration ({})",
                a.arch.as_str(),
                a.reason
            ),
        )
        .at(a.span, format!("makes it an {} guest", a.arch.as_str()))
        .help(
            "run it with QNX qvm on an aarch64 hypervisor host; `hvhost check` still checks it for one",
        ),
    )
}
