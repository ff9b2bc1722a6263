//! Planning a run of a host's VMs (`hvhost run`): which VMs the boot script
//! starts and which of them to run, the host's rules applied first, each
//! VM's configuration read with the image paths it loads mapped to files on
//! this machine, and the boot script's order of starts and waits.
//!
//! The plan is the host's side only. This crate does not depend on the VMM,
//! so what the VMM itself refuses to run comes from the caller
//! ([`Request::refusals`]), and a [`PlannedVm`] holds what a VMM process
//! needs (its name, `hvhost qvm` words, working directory, the script's
//! placement) rather than the VMM's process type: the caller makes the VMM
//! calls. Codes: `R01xx` (in [`crate::codes`]).

use crate::codes;
use crate::host::{HostView, QvmStart};
use crate::load;
use crate::paths::basename;
use crate::stage::{Staged, Unavailable};
use buildfile::{External, Manifest, ScriptKind};
use diag::{Diagnostic, SourceMap, Span};
use qvmconf::VmConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to plan.
pub struct Request<'r> {
    /// The host's name in messages (its buildfile or image).
    pub name: &'r str,
    /// The VMs asked for (`--vm`): a configuration's path in the image, its
    /// file name with or without `.qvmconf`, or its `system` name. Empty:
    /// every VM the boot script starts.
    pub vms: &'r [String],
    /// Where image paths that are not in the image are looked up.
    pub target_root: Option<&'r Path>,
    /// Plan even when the host breaks hypervisor-host rules.
    pub no_check: bool,
    /// What the VMM refuses to run in a configuration (called on the
    /// configuration as far as it could be read, with what its reading
    /// found: errors and all); an error
    /// stops the VM, the same for a dry run and a run. A [`qvmconf::codes::is_host_file`]
    /// error (a `hostdev` not on this machine) stops it as a missing file.
    pub refusals: &'r dyn Fn(&VmConfig, &[Diagnostic]) -> Vec<Diagnostic>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("name", &self.name)
            .field("vms", &self.vms)
            .field("target_root", &self.target_root)
            .field("no_check", &self.no_check)
            .finish_non_exhaustive()
    }
}

/// Why the VMs cannot run (the diagnostics say what).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Before any VM starts: no VM, an unclear choice, a file not on this machine.
    BeforeStart,
    /// The host or a configuration has errors.
    Config,
}

/// Why the VMs do not run, and the VMs that could be planned all the same
/// (each one whose configuration reads without a configuration error, even
/// when the VMM refuses it or a file it needs is missing): what a dry run
/// prints beside the diagnostics.
#[derive(Debug)]
pub struct Stopped<'a> {
    /// Why.
    pub stop: Stop,
    /// The VMs planned, in boot-script order.
    pub vms: Vec<PlannedVm<'a>>,
}

impl From<Stop> for Stopped<'_> {
    fn from(stop: Stop) -> Self {
        Stopped {
            stop,
            vms: Vec::new(),
        }
    }
}

/// The VMs to run and the files staged for them.
#[derive(Debug)]
pub struct Plan<'a> {
    /// In boot-script order.
    pub vms: Vec<PlannedVm<'a>>,
    /// Several VMs (or several asked for): each runs as its own process.
    pub whole: bool,
    /// The files written for inline entries; removed when dropped.
    pub staged: Staged,
}

/// One VM ready to run.
#[derive(Debug)]
pub struct PlannedVm<'a> {
    /// Its configuration, the files it loads as host paths (in-process run).
    pub config: VmConfig,
    /// Its command's index in the boot script.
    pub index: usize,
    /// Its `system` name, else its configuration's file name without `.qvmconf`.
    pub name: String,
    /// The `hvhost` words that run it from the staging tree (`qvm --root
    /// TREE ...`, its `@PATH`s staged there); empty unless [`Plan::whole`].
    pub args: Vec<String>,
    /// The staging tree, the process's working directory (whole host).
    pub cwd: Option<PathBuf>,
    /// The script command as written (placement, priority, `&`).
    pub external: &'a External,
}

/// A step of the boot script that a whole-host run performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootStep {
    /// Start the VM at this index of [`Plan::vms`].
    Start(usize),
    /// `waitfor`: wait for this file (under the target root) for so long.
    Wait {
        /// The file.
        path: PathBuf,
        /// How long at most.
        timeout: Duration,
    },
    /// `waitfor PATH` for a file a program of the host makes, which does
    /// not run here, and no target root to find it under.
    NotWaited(String),
}

/// Chooses the VMs, applies the host rules, reads their configurations and
/// maps their image paths to host files. Diagnostics go to `diags`.
pub fn plan<'a>(
    map: &mut SourceMap,
    m: &'a Manifest,
    req: &Request<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Result<Plan<'a>, Stopped<'a>> {
    let host = HostView::new(m, None);
    let starts: Vec<&QvmStart> = host.qvm_starts.iter().collect();
    if starts.is_empty() {
        let mut d = Diagnostic::new(
            &codes::run::R0101,
            format!("{}: the boot script starts no `qvm`: there is no VM to run", req.name),
        )
        .help("`hvhost run` runs the VMs a host's boot script starts; run a configuration on its own with `hvhost qvm @FILE`");
        if let Some(s) = m.script.first() {
            d = d.at(s.span, "the boot script");
        }
        diags.push(d);
        return Err(Stop::BeforeStart.into());
    }
    let mut chosen: Vec<&QvmStart> = Vec::new();
    if req.vms.is_empty() {
        chosen.extend(starts.iter().copied());
    }
    for want in req.vms {
        let s = choose(want, &host, &starts, req.name, diags)?;
        if !chosen.iter().any(|c| c.index == s.index) {
            chosen.push(s);
        }
    }
    chosen.sort_by_key(|s| s.index);
    // Every stage of every chosen VM is reported in one pass: the host's
    // rules, each configuration, what the VMM refuses, the files it needs.
    let from = diags.len();
    let mut stop = host_rules(req, map, m, chosen[0], diags).err();
    let whole = chosen.len() > 1 || req.vms.len() > 1;
    let mut staged = Staged::default();
    let mut vms = Vec::new();
    for start in chosen {
        let (vm, s) = plan_vm(req, map, &host, start, diags, &mut staged, whole);
        vms.extend(vm);
        if let Some(s) = s {
            stop = Some(worse(stop, s));
        }
    }
    dedup(map, diags, from);
    match stop {
        Some(stop) => Err(Stopped { stop, vms }),
        None => Ok(Plan { vms, whole, staged }),
    }
}

/// The stop that wins: a configuration error over a missing file.
fn worse(a: Option<Stop>, b: Stop) -> Stop {
    match a {
        Some(Stop::Config) => Stop::Config,
        _ => b,
    }
}

/// Removes the diagnostics from index `from` on that repeat an earlier one
/// (the host rules and the VM's own reading find the same configuration
/// errors, in files registered twice).
fn dedup(map: &SourceMap, diags: &mut Vec<Diagnostic>, from: usize) {
    let key = |d: &Diagnostic| {
        (
            d.code.id,
            d.message.clone(),
            d.span().map(|s| map.location(s)),
        )
    };
    let mut seen = std::collections::HashSet::new();
    let mut i = from;
    while i < diags.len() {
        if seen.insert(key(&diags[i])) {
            i += 1;
        } else {
            diags.remove(i);
        }
    }
}

/// The boot script's starts of the planned VMs and its `waitfor`s, in
/// order. A path of the image exists at boot (not waited for); others are
/// made by the host's programs, which do not run here, unless under `root`.
pub fn boot_steps(m: &Manifest, plan: &Plan<'_>, root: Option<&Path>) -> Vec<BootStep> {
    let host = HostView::new(m, None);
    let mut steps = Vec::new();
    for (i, c) in m.script.iter().enumerate() {
        if let Some(at) = plan.vms.iter().position(|v| v.index == i) {
            steps.push(BootStep::Start(at));
        } else if let ScriptKind::Waitfor { path, checks } = &c.kind {
            if host.find_followed(path).is_some() {
                continue;
            }
            steps.push(match root {
                Some(r) => BootStep::Wait {
                    path: r.join(path.trim_start_matches('/')),
                    timeout: Duration::from_millis(u64::from(*checks) * 100),
                },
                None => BootStep::NotWaited(path.clone()),
            });
        }
    }
    steps
}

/// The host's own rules: a host that would not start the VMs does not
/// start them here either (unless [`Request::no_check`]).
fn host_rules(
    req: &Request<'_>,
    map: &mut SourceMap,
    m: &Manifest,
    start: &QvmStart,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), Stop> {
    let opts = crate::Options { sdp: None };
    let loaded = crate::load_vms(map, m, &opts);
    let report = crate::check(m, &loaded.vms, &opts);
    let host_errors: Vec<Diagnostic> = loaded
        .diagnostics
        .into_iter()
        .chain(report.diagnostics)
        .filter(Diagnostic::is_error)
        .collect();
    if !host_errors.is_empty() && !req.no_check {
        let n = host_errors.len();
        diags.extend(host_errors);
        diags.push(
            Diagnostic::new(
                &codes::run::R0104,
                format!(
                    "{} breaks {n} hypervisor-host rule{}: its VMs are not run",
                    req.name,
                    if n == 1 { "" } else { "s" }
                ),
            )
            .at(start.span(), "this VM")
            .help("fix the errors above (`hvhost check` shows them with warnings too), or give --no-check to run anyway"),
        );
        return Err(Stop::Config);
    }
    Ok(())
}

/// An R0103 error about the configuration of `start`.
fn config_unavailable(start: &QvmStart, msg: String) -> Diagnostic {
    Diagnostic::new(&codes::run::R0103, msg).at(start.span(), "started here")
}

/// Reads one VM's configuration, checks what the VMM runs, and maps the
/// files it loads to host files; returns the VM when its configuration has
/// no error (even when it does not run: what a dry run prints) and what
/// stops it (`tree`: at their image paths under the
/// staging directory, for a `hvhost qvm --root` process).
fn plan_vm<'a>(
    req: &Request<'_>,
    map: &mut SourceMap,
    host: &HostView<'a>,
    start: &QvmStart<'a>,
    diags: &mut Vec<Diagnostic>,
    staged: &mut Staged,
    tree: bool,
) -> (Option<PlannedVm<'a>>, Option<Stop>) {
    // The VM as far as it can be read, so that the later stages run on a
    // configuration with errors too.
    let qopts = qvmconf::Options {
        partial: true,
        ..load::config_options(host)
    };
    let read = match load::read_config(map, host, start, &qopts) {
        Ok(Some(r)) => r,
        Ok(None) => {
            // Its configuration is not in the image (reported by the host rules).
            let c = start.configs.join(" ");
            let msg = format!("the configuration of `{c}` is not in the image");
            diags.push(config_unavailable(start, msg));
            return (None, Some(Stop::BeforeStart));
        }
        Err(d) => {
            // The reason is a warning for `check`; here it stops the VM.
            diags.push(*d);
            let c = start.configs.join(" ");
            let msg = format!("the configuration `{c}` cannot be read: the VM is not started");
            diags.push(config_unavailable(start, msg));
            return (None, Some(Stop::BeforeStart));
        }
    };
    let (mut config_error, mut missing) = classify(&read.diagnostics);
    let readable = !config_error;
    diags.extend(read.diagnostics.iter().cloned());
    let Some(mut config) = read.config.clone() else {
        return (None, Some(Stop::Config));
    };
    // Located where the configuration's text is (the buildfile for inline text).
    let refused = read.locate((req.refusals)(&config, &read.diagnostics));
    let (refuse, files) = classify(&refused);
    (config_error, missing) = (config_error || refuse, missing || files);
    diags.extend(refused);
    // The files the VM loads are paths inside the image.
    for l in &mut config.loads {
        let at = Need {
            target: &l.path.value,
            at: l.path.span,
            root: req.target_root,
            tree,
        };
        match host_file(host, &at, staged) {
            Ok(path) => l.path.value = path.display().to_string(),
            Err(d) => {
                diags.push(*d);
                missing = true;
            }
        }
    }
    let mut stop = match (config_error, missing) {
        (true, _) => Some(Stop::Config),
        (false, true) => Some(Stop::BeforeStart),
        (false, false) => None,
    };
    let vm = match process(host, start, &config, staged, tree) {
        Ok((name, args, cwd)) => Some(PlannedVm {
            config,
            index: start.index,
            name,
            args,
            cwd,
            external: start.external,
        }),
        Err(d) => {
            diags.push(*d);
            stop = stop.or(Some(Stop::BeforeStart));
            None
        }
    };
    // A configuration with errors is not planned (only reported).
    (vm.filter(|_| readable), stop)
}

/// Whether `diags` hold errors about the configuration, and errors about
/// host files that are not on this machine ([`qvmconf::codes::is_host_file`]).
fn classify(diags: &[Diagnostic]) -> (bool, bool) {
    let errors = || diags.iter().filter(|d| d.is_error());
    (
        errors().any(|d| !qvmconf::codes::is_host_file(d.code)),
        errors().any(|d| qvmconf::codes::is_host_file(d.code)),
    )
}

/// A file the VM needs: its image path, where it is named, where image
/// paths not in the image are looked up, and whether it goes in the
/// staging tree.
struct Need<'n> {
    target: &'n str,
    at: Span,
    root: Option<&'n Path>,
    tree: bool,
}

/// Where the bytes of the image entry `n.target` are on this machine, as
/// an R0103 error when they are not.
fn host_file(
    host: &HostView,
    n: &Need<'_>,
    staged: &mut Staged,
) -> Result<PathBuf, Box<Diagnostic>> {
    let (target, at) = (n.target, n.at);
    if host.find_followed(target).is_none()
        && let Some(r) = n.root
    {
        let p = r.join(target.trim_start_matches('/'));
        if p.exists() {
            return Ok(p);
        }
        return Err(Box::new(
            Diagnostic::new(
                &codes::run::R0103,
                format!(
                    "`{target}` is neither in the image nor at `{}`",
                    p.display()
                ),
            )
            .at(at, "needed by the VM"),
        ));
    }
    let unavailable =
        |msg: String| Diagnostic::new(&codes::run::R0103, msg).at(at, "needed by the VM");
    let in_image = |d: Diagnostic, entry: Span| Box::new(d.with(entry, "its entry in the image"));
    let placed = if n.tree {
        staged.in_tree(host, target)
    } else {
        staged.host_path(host, target)
    };
    placed.map_err(|why| match why {
        Unavailable::NotInImage => Box::new(
            unavailable(format!("`{target}` is not in the image"))
                .note("on the target it might come from a filesystem mounted at run time, which `hvhost run` does not have")
                .help("put the file in the image, give `--target-root DIR` (a tree holding it), or run the configuration with `hvhost qvm @FILE`"),
        ),
        Unavailable::NotRegular { entry } => in_image(
            unavailable(format!("`{target}` is not a regular file in the image")),
            entry,
        ),
        Unavailable::Assumed { name, entry } => in_image(
            unavailable(format!(
                "`{target}` comes from the host file `{name}`, which is not on this machine"
            ))
            .help(load::where_host_files_are(&name)),
            entry,
        ),
        Unavailable::Script { entry } => {
            in_image(unavailable(format!("`{target}` is the boot script")), entry)
        }
        Unavailable::Staging { entry, error } => in_image(
            unavailable(format!(
                "`{target}`: its inline contents cannot be staged: {}",
                diag::io::reason(&error)
            )),
            entry,
        ),
    })
}

/// The VM's name, and (`tree`) the `hvhost qvm --root TREE` words and
/// working directory that run it from the staging tree, its `@PATH`s
/// staged there too.
fn process(
    host: &HostView,
    start: &QvmStart,
    config: &VmConfig,
    staged: &mut Staged,
    tree: bool,
) -> Result<(String, Vec<String>, Option<PathBuf>), Box<Diagnostic>> {
    let name = config.system.as_ref().map_or_else(
        || {
            let base = basename(&start.configs.join(" ")).to_string();
            base.strip_suffix(".qvmconf").unwrap_or(&base).to_string()
        },
        |s| s.value.clone(),
    );
    if !tree {
        return Ok((name, Vec::new(), None));
    }
    let root = staged.tree().map_err(|e| {
        Box::new(
            Diagnostic::new(
                &codes::run::R0103,
                format!(
                    "the staging directory cannot be made: {}",
                    diag::io::reason(&e)
                ),
            )
            .at(start.span(), "this VM"),
        )
    })?;
    let mut args = vec![
        "qvm".to_string(),
        "--root".into(),
        root.display().to_string(),
    ];
    for w in start.args {
        match w.strip_prefix('@') {
            Some(p) => {
                let need = Need {
                    target: p,
                    at: start.span(),
                    root: None,
                    tree: true,
                };
                let at = host_file(host, &need, staged)?;
                args.push(format!("@{}", at.display()));
            }
            None => args.push(w.clone()),
        }
    }
    Ok((name, args, Some(root)))
}

/// The names a VM answers to in [`Request::vms`], besides its `system` name.
fn names(s: &QvmStart) -> Vec<String> {
    let mut v = Vec::new();
    for c in &s.configs {
        let base = basename(c).to_string();
        v.push(c.clone());
        if let Some(stem) = base.strip_suffix(".qvmconf") {
            v.push(stem.to_string());
        }
        v.push(base);
    }
    v
}

/// The `qvm` command of the VM `want` names.
fn choose<'s, 'a>(
    want: &str,
    host: &HostView,
    starts: &[&'s QvmStart<'a>],
    name: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<&'s QvmStart<'a>, Stop> {
    let listed = || {
        starts
            .iter()
            .map(|s| s.configs.join(" "))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refuse = |msg: String, help: &str, with: &[&QvmStart]| {
        let mut d = Diagnostic::new(&codes::run::R0102, msg).help(help.to_string());
        for s in with {
            d = d.with(s.span(), "a VM of this host");
        }
        d
    };
    // By path or file name, else by `system` name.
    let mut hits: Vec<&QvmStart> = starts
        .iter()
        .copied()
        .filter(|s| names(s).iter().any(|n| n == want))
        .collect();
    if hits.is_empty() {
        for s in starts {
            let mut scratch = SourceMap::new();
            let qopts = load::config_options(host);
            if let Ok(Some(read)) = load::read_config(&mut scratch, host, s, &qopts)
                && read
                    .config
                    .as_ref()
                    .and_then(|c| c.system.as_ref())
                    .is_some_and(|n| n.value == want)
            {
                hits.push(*s);
            }
        }
    }
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => {
            diags.push(refuse(
                format!("{name} starts no VM called `{want}` (its VMs: {})", listed()),
                "NAME is the configuration's path in the image, its file name (with or without `.qvmconf`) or its `system` name",
                starts,
            ));
            Err(Stop::BeforeStart)
        }
        several => {
            diags.push(refuse(
                format!("`{want}` names {} VMs of {name}", several.len()),
                "give the configuration's path in the image instead",
                several,
            ));
            Err(Stop::BeforeStart)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(map: &mut SourceMap, src: &str) -> Manifest {
        let opts = buildfile::Options {
            no_host_files: true,
            host_access: false,
            ..buildfile::Options::default()
        };
        let (m, d) = buildfile::load(map, &[], "host.build", src.as_bytes().to_vec(), &opts);
        assert!(d.is_empty(), "{d:?}");
        m.expect("a manifest")
    }

    fn run(src: &str, vms: &[String]) -> (Result<Vec<String>, Stop>, Vec<&'static str>) {
        let mut map = SourceMap::new();
        let m = manifest(&mut map, src);
        let none = |_: &VmConfig, _: &[Diagnostic]| Vec::new();
        let req = Request {
            name: "host.build",
            vms,
            target_root: None,
            no_check: false,
            refusals: &none,
        };
        let mut diags = Vec::new();
        let planned = plan(&mut map, &m, &req, &mut diags);
        let names = planned
            .map(|p| p.vms.into_iter().map(|v| v.name).collect())
            .map_err(|s| s.stop);
        (names, diags.iter().map(|d| d.code.id).collect())
    }

    const HOST: &str = "[virtual=x86_64,bios] boot = {\n startup-x86\n [module=qvm] procnto-smp-instr\n}\n\
        [+script] .script = {\n qvm @/vm/a.qvmconf &\n qvm @/vm/b.qvmconf &\n}\n/proc/boot/qvm = qvm\n\
        /vm/a.qvmconf = {\nsystem alpha\n}\n/vm/b.qvmconf = {\nsystem beta\n}\n";

    #[test]
    fn vms_are_chosen_by_file_stem_or_system_name_in_script_order() {
        let (names, codes) = run(HOST, &["beta".into(), "a".into()]);
        assert_eq!(
            names,
            Ok(vec!["alpha".to_string(), "beta".to_string()]),
            "{codes:?}"
        );
        let (names, codes) = run(HOST, &["gamma".into()]);
        assert_eq!((names, codes), (Err(Stop::BeforeStart), vec!["R0102"]));
    }

    #[test]
    fn a_host_that_starts_no_qvm_has_nothing_to_run() {
        let src = "[virtual=x86_64,bios] boot = {\n startup-x86\n [module=qvm] procnto-smp-instr\n}\n\
            [+script] .script = {\n echo hi\n}\n";
        let (names, codes) = run(src, &[]);
        assert_eq!((names, codes), (Err(Stop::BeforeStart), vec!["R0101"]));
    }
}
