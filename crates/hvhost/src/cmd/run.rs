//! `hvhost run HOST [--vm NAME]...`: runs the VMs of a host (a buildfile or
//! an image) on KVM, the way the host's boot script starts them: one VM in
//! this process, several (the whole host) each as its own `hvhost qvm`
//! process under [`vmm::host::run`].
//!
//! The boot script's `qvm @PATH ...` command gives the VM's words; `PATH` and
//! every file the configuration loads are paths inside the image, which the
//! Manifest maps to the host files (or inline contents) they are built from.
//! The host's rules (`hvhost check`) are applied first: a host that would not
//! start the VM does not start it here either. The VM then runs as under
//! `hvhost qvm`, with qvm's exit codes.

use crate::cmd::qvm::{EXIT_BEFORE_START, EXIT_CONFIG, dry_run_findings, print_plan, run_vm};
use crate::codes;
use crate::input::{BuildfileInput, Unreadable};
use crate::output::{Format, emit};
use buildfile::{Manifest, Times};
use clap::Args;
use diag::{Diagnostic, SourceMap, Span};
use hostcheck::stage::{Staged, Unavailable};
use hostcheck::{HostView, QvmStart};
use std::path::PathBuf;

/// Arguments of `hvhost run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    input: BuildfileInput,
    /// A VM to run (repeatable): its configuration's path in the image, that
    /// file's name with or without `.qvmconf`, or its `system` name. Without
    /// it, every VM the boot script starts runs, in script order, each as its
    /// own process with its output prefixed by `[SYSTEM] `.
    #[arg(long, value_name = "NAME")]
    vm: Vec<String>,
    /// Print the VM that would be assembled (as `qvm ... dryrun`) and stop.
    #[arg(long)]
    dryrun: bool,
    /// Where image paths that are not in the image are looked up (as `qvm
    /// --root`): a tree made by `dump -x`, or a target's file system copied
    /// here. (`-r/--root` is mkifs's search root for the buildfile's host files.)
    #[arg(long, value_name = "DIR")]
    target_root: Option<PathBuf>,
    /// Run even when the host breaks hypervisor-host rules (`hvhost check` errors).
    #[arg(long)]
    no_check: bool,
    /// Output format of the dry-run plan and of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Where the bytes of the image entry at `target`, named at `at`, are on
/// this machine, as an R0103 error when they are not.
fn host_file(
    host: &HostView,
    target: &str,
    at: Span,
    staged: &mut Staged,
    root: Option<&std::path::Path>,
    tree: bool,
) -> Result<PathBuf, Box<Diagnostic>> {
    if host.find_followed(target).is_none()
        && let Some(r) = root
    {
        let p = r.join(target.trim_start_matches('/'));
        if p.exists() {
            return Ok(p);
        }
        return Err(Box::new(
            Diagnostic::new(
                &codes::R0103,
                format!(
                    "`{target}` is neither in the image nor at `{}`",
                    p.display()
                ),
            )
            .at(at, "needed by the VM"),
        ));
    }
    let unavailable = |msg: String| Diagnostic::new(&codes::R0103, msg).at(at, "needed by the VM");
    let in_image = |d: Diagnostic, entry: Span| Box::new(d.with(entry, "its entry in the image"));
    let placed = if tree {
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
            .help(hostcheck::load::where_host_files_are(&name)),
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

/// The names a VM answers to in `--vm`, besides its `system` name.
fn names(s: &QvmStart) -> Vec<String> {
    let mut v = Vec::new();
    for c in &s.configs {
        let base = hostcheck::host::basename(c).to_string();
        v.push(c.clone());
        if let Some(stem) = base.strip_suffix(".qvmconf") {
            v.push(stem.to_string());
        }
        v.push(base);
    }
    v
}

/// Runs the subcommand; returns qvm's exit code (for several VMs: the
/// first failed VM's, or 0).
pub(crate) fn run(args: &RunArgs) -> i32 {
    let mut map = SourceMap::new();
    let (manifest, mut diags) = match args.input.load_host(&mut map, Times::ZeroAll) {
        Ok(r) => r,
        Err(Unreadable(d)) => {
            emit(args.format, &map, &mut [*d]);
            return EXIT_BEFORE_START;
        }
    };
    let Some(m) = manifest.filter(|_| !diags.iter().any(Diagnostic::is_error)) else {
        emit(args.format, &map, &mut diags);
        return EXIT_CONFIG;
    };
    let planned = plan(args, &mut map, &m, &mut diags);
    // Every diagnostic is printed once, before the plan or the VM's output.
    emit(args.format, &map, &mut diags);
    let plan = match planned {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.dryrun {
        for vm in &plan.vms {
            if plan.vms.len() > 1 && args.format == Format::Text {
                println!("# {}", vm.process.name);
            }
            let p = qvmconf::plan::Plan {
                vm: &vm.config,
                map: &map,
            };
            print_plan(args.format, &p);
        }
        return 0;
    }
    let code = match plan.vms.as_slice() {
        [one] if !plan.whole => run_vm(&map, &one.config, &[]),
        vms => whole_host(&m, vms, args.target_root.as_deref()),
    };
    drop(plan.staged);
    code
}

/// Runs the VMs as the boot script does, each as its own `hvhost qvm`
/// process (see [`vmm::host`]); returns the first failed VM's code, or 0.
fn whole_host(m: &Manifest, vms: &[PlannedVm], root: Option<&std::path::Path>) -> i32 {
    let host = HostView::new(m, None);
    let mut steps = Vec::new();
    for (i, c) in m.script.iter().enumerate() {
        if let Some(vm) = vms.iter().find(|v| v.index == i) {
            steps.push(vmm::host::Step::Start(vm.process.clone()));
        } else if let buildfile::ScriptKind::Waitfor { path, checks } = &c.kind {
            // A path of the image exists at boot; others are made by the
            // host's programs, which do not run here, unless under DIR.
            if host.find_followed(path).is_some() {
                continue;
            }
            match root {
                Some(r) => steps.push(vmm::host::Step::Wait {
                    path: r.join(path.trim_start_matches('/')),
                    timeout: std::time::Duration::from_millis(u64::from(*checks) * 100),
                }),
                None => eprintln!(
                    "note: `waitfor {path}` not waited for: a program of the host makes it, and `hvhost run` runs only the VMs"
                ),
            }
        }
    }
    let ended = match vmm::host::run(&steps) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: hvhost run: {e}");
            return EXIT_BEFORE_START;
        }
    };
    let mut code = 0;
    for e in &ended {
        let c = e.status.code();
        if c != 0 {
            eprintln!(
                "hvhost run: VM `{}` failed: {}",
                e.name,
                e.status.describe()
            );
            if code == 0 {
                code = c;
            }
        }
    }
    if code == 0 {
        eprintln!("hvhost run: all {} VMs ended normally", ended.len());
    }
    code
}

/// The VMs to run and the files staged for them.
struct Planned {
    vms: Vec<PlannedVm>,
    /// Several VMs (or `--vm` given more than once): each runs as its own process.
    whole: bool,
    staged: Staged,
}

/// One VM ready to run: its configuration with host paths (in-process), and
/// the process that runs it (whole host).
struct PlannedVm {
    config: qvmconf::VmConfig,
    /// Its command's index in the boot script.
    index: usize,
    process: vmm::host::VmProcess,
}

/// Chooses the VMs, applies the host rules, reads their configurations and
/// maps their image paths to host files. Diagnostics go to `diags`; `Err`
/// is the exit code when the VMs cannot run.
fn plan(
    args: &RunArgs,
    map: &mut SourceMap,
    m: &Manifest,
    diags: &mut Vec<Diagnostic>,
) -> Result<Planned, i32> {
    let host = HostView::new(m, None);
    let name = args.input.display_name();
    let starts: Vec<&QvmStart> = host.qvm_starts.iter().collect();
    if starts.is_empty() {
        let mut d = Diagnostic::new(
            &codes::R0101,
            format!("{name}: the boot script starts no `qvm`: there is no VM to run"),
        )
        .help("`hvhost run` runs the VMs a host's boot script starts; run a configuration on its own with `hvhost qvm @FILE`");
        if let Some(s) = m.script.first() {
            d = d.at(s.span, "the boot script");
        }
        diags.push(d);
        return Err(EXIT_BEFORE_START);
    }
    let mut chosen: Vec<&QvmStart> = Vec::new();
    if args.vm.is_empty() {
        chosen.extend(starts.iter().copied());
    }
    for want in &args.vm {
        let s = choose(want, &host, &starts, &name, diags)?;
        if !chosen.iter().any(|c| c.index == s.index) {
            chosen.push(s);
        }
    }
    chosen.sort_by_key(|s| s.index);
    host_rules(args, map, m, chosen[0], &name, diags)?;
    let whole = chosen.len() > 1 || args.vm.len() > 1;
    let mut staged = Staged::default();
    let mut vms = Vec::new();
    for start in chosen {
        vms.push(plan_vm(args, map, &host, start, diags, &mut staged, whole)?);
    }
    Ok(Planned { vms, whole, staged })
}

/// The host's own rules: a host that would not start the VMs does not
/// start them here either (unless `--no-check`).
fn host_rules(
    args: &RunArgs,
    map: &mut SourceMap,
    m: &Manifest,
    start: &QvmStart,
    name: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), i32> {
    let opts = hostcheck::Options { sdp: None };
    let loaded = hostcheck::load_vms(map, m, &opts);
    let report = hostcheck::check(m, &loaded.vms, &opts);
    let host_errors: Vec<Diagnostic> = loaded
        .diagnostics
        .into_iter()
        .chain(report.diagnostics)
        .filter(Diagnostic::is_error)
        .collect();
    if !host_errors.is_empty() && !args.no_check {
        let n = host_errors.len();
        diags.extend(host_errors);
        diags.push(
            Diagnostic::new(
                &codes::R0104,
                format!(
                    "{name} breaks {n} hypervisor-host rule{}: its VMs are not run",
                    if n == 1 { "" } else { "s" }
                ),
            )
            .at(start.span(), "this VM")
            .help("fix the errors above (`hvhost check` shows them with warnings too), or give --no-check to run anyway"),
        );
        return Err(EXIT_CONFIG);
    }

    Ok(())
}

/// Reads one VM's configuration, checks what this VMM runs, and maps the
/// files it loads to host files (`tree`: at their image paths under the
/// staging directory, for a `hvhost qvm --root` process).
fn plan_vm(
    args: &RunArgs,
    map: &mut SourceMap,
    host: &HostView,
    start: &QvmStart,
    diags: &mut Vec<Diagnostic>,
    staged: &mut Staged,
    tree: bool,
) -> Result<PlannedVm, i32> {
    let read = match hostcheck::load::read_config(
        map,
        host,
        start,
        &hostcheck::load::config_options(host),
    ) {
        Ok(Some(r)) => r,
        Ok(None) => {
            // Its configuration is not in the image (reported by the host rules).
            diags.push(
                Diagnostic::new(
                    &codes::R0103,
                    format!(
                        "the configuration of `{}` is not in the image",
                        start.configs.join(" ")
                    ),
                )
                .at(start.span(), "started here"),
            );
            return Err(EXIT_BEFORE_START);
        }
        Err(d) => {
            // The reason is a warning for `check`; here it stops the VM.
            diags.push(*d);
            diags.push(
                Diagnostic::new(
                    &codes::R0103,
                    format!(
                        "the configuration `{}` cannot be read: the VM is not started",
                        start.configs.join(" ")
                    ),
                )
                .at(start.span(), "started here"),
            );
            return Err(EXIT_BEFORE_START);
        }
    };
    let has_errors = read.diagnostics.iter().any(Diagnostic::is_error);
    diags.extend(read.diagnostics.iter().cloned());
    let Some(mut config) = read.config.clone().filter(|_| !has_errors) else {
        return Err(EXIT_CONFIG);
    };
    // What this VMM cannot run: an error for a run, a warning in a dry run.
    // Located where the configuration's text is (the buildfile for inline text).
    let refused = read.locate(vmm::preflight(&config));
    if args.dryrun {
        diags.extend(dry_run_findings(refused));
    } else {
        let refuse = refused.iter().any(Diagnostic::is_error);
        diags.extend(refused);
        if refuse {
            return Err(EXIT_CONFIG);
        }
    }
    // The files the VM loads are paths inside the image.
    let mut missing = false;
    for load in &mut config.loads {
        match host_file(
            host,
            &load.path.value,
            load.path.span,
            staged,
            args.target_root.as_deref(),
            tree,
        ) {
            Ok(path) => load.path.value = path.display().to_string(),
            Err(d) => {
                diags.push(*d);
                missing = true;
            }
        }
    }
    let process = process(host, start, &config, staged, tree).map_err(|d| {
        diags.push(*d);
        EXIT_BEFORE_START
    });
    if missing {
        return Err(EXIT_BEFORE_START);
    }
    Ok(PlannedVm {
        config,
        index: start.index,
        process: process?,
    })
}

/// The `hvhost qvm --root TREE` process that runs the VM of `start` from the
/// staging tree (its `@PATH`s staged there too), named by its `system`.
fn process(
    host: &HostView,
    start: &QvmStart,
    config: &qvmconf::VmConfig,
    staged: &mut Staged,
    tree: bool,
) -> Result<vmm::host::VmProcess, Box<Diagnostic>> {
    let name = config.system.as_ref().map_or_else(
        || {
            let base = hostcheck::host::basename(&start.configs.join(" ")).to_string();
            base.strip_suffix(".qvmconf").unwrap_or(&base).to_string()
        },
        |s| s.value.clone(),
    );
    let mut args = Vec::new();
    let mut cwd = None;
    if tree {
        let root = staged.tree().map_err(|e| {
            Box::new(
                Diagnostic::new(
                    &codes::R0103,
                    format!(
                        "the staging directory cannot be made: {}",
                        diag::io::reason(&e)
                    ),
                )
                .at(start.span(), "this VM"),
            )
        })?;
        args.extend([
            "qvm".to_string(),
            "--root".into(),
            root.display().to_string(),
        ]);
        for w in start.args {
            match w.strip_prefix('@') {
                Some(p) => {
                    let at = host_file(host, p, start.span(), staged, None, true)?;
                    args.push(format!("@{}", at.display()));
                }
                None => args.push(w.clone()),
            }
        }
        cwd = Some(root);
    }
    let e = start.external;
    Ok(vmm::host::VmProcess {
        name,
        program: std::env::current_exe().unwrap_or_else(|_| "hvhost".into()),
        args,
        cwd,
        background: e.background,
        cpu: e.cpu,
        nice: e.priority.and_then(|(p, _)| vmm::host::nice_of(p)),
    })
}

/// The `qvm` command of the VM `--vm` names.
fn choose<'s, 'a>(
    want: &str,
    host: &HostView,
    starts: &[&'s QvmStart<'a>],
    name: &str,
    diags: &mut Vec<Diagnostic>,
) -> Result<&'s QvmStart<'a>, i32> {
    let listed = || {
        starts
            .iter()
            .map(|s| s.configs.join(" "))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refuse = |msg: String, help: &str, with: &[&QvmStart]| {
        let mut d = Diagnostic::new(&codes::R0102, msg).help(help.to_string());
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
            let qopts = hostcheck::load::config_options(host);
            if let Ok(Some(read)) = hostcheck::load::read_config(&mut scratch, host, s, &qopts)
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
            Err(EXIT_BEFORE_START)
        }
        several => {
            diags.push(refuse(
                format!("`{want}` names {} VMs of {name}", several.len()),
                "give the configuration's path in the image instead",
                several,
            ));
            Err(EXIT_BEFORE_START)
        }
    }
}
