//! `hvhost run BUILDFILE [--vm NAME]`: runs one VM of a host on KVM, the way
//! the host's boot script starts it.
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
    /// The VM to run: its configuration's path in the image, that file's name
    /// with or without `.qvmconf`, or its `system` name. Needed when the boot
    /// script starts more than one VM.
    #[arg(long, value_name = "NAME")]
    vm: Option<String>,
    /// Print the VM that would be assembled (as `qvm ... dryrun`) and stop.
    #[arg(long)]
    dryrun: bool,
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
) -> Result<PathBuf, Box<Diagnostic>> {
    let unavailable = |msg: String| Diagnostic::new(&codes::R0103, msg).at(at, "needed by the VM");
    let in_image = |d: Diagnostic, entry: Span| Box::new(d.with(entry, "its entry in the image"));
    staged.host_path(host, target).map_err(|why| match why {
        Unavailable::NotInImage => Box::new(
            unavailable(format!("`{target}` is not in the image"))
                .note("on the target it might come from a filesystem mounted at run time, which `hvhost run` does not have")
                .help("put the file in the image, or run the configuration with `hvhost qvm @FILE`"),
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

/// Runs the subcommand; returns qvm's exit code.
pub(crate) fn run(args: &RunArgs) -> i32 {
    let mut map = SourceMap::new();
    let (manifest, mut diags) = match args.input.load(&mut map, Times::ZeroAll) {
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
    let vm = match planned {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    if args.dryrun {
        print_plan(
            args.format,
            &qvmconf::plan::Plan {
                vm: &vm.config,
                map: &map,
            },
        );
        return 0;
    }
    let code = run_vm(&map, &vm.config, &[]);
    drop(vm.staged);
    code
}

/// A VM ready to run: its configuration with host paths, and the files
/// staged for it.
struct Planned {
    config: qvmconf::VmConfig,
    staged: Staged,
}

/// The host's own rules: a host that would not start the VM does not start
/// it here either (unless `--no-check`).
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

/// Chooses the VM, applies the host rules, reads its configuration and maps
/// its image paths to host files. Diagnostics go to `diags`; `Err` is the
/// exit code when the VM cannot run.
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
    let start = choose(args, &host, &starts, &name, diags)?;

    host_rules(args, map, m, start, &name, diags)?;

    let mut staged = Staged::default();
    let read = match hostcheck::load::read_config(
        map,
        &host,
        start,
        &hostcheck::load::config_options(&host),
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
        match host_file(&host, &load.path.value, load.path.span, &mut staged) {
            Ok(path) => load.path.value = path.display().to_string(),
            Err(d) => {
                diags.push(*d);
                missing = true;
            }
        }
    }
    if missing {
        return Err(EXIT_BEFORE_START);
    }
    Ok(Planned { config, staged })
}

/// The `qvm` command of the VM `--vm` names (or the only one).
fn choose<'s, 'a>(
    args: &RunArgs,
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
    let Some(want) = &args.vm else {
        if let [one] = starts {
            return Ok(*one);
        }
        diags.push(refuse(
            format!(
                "{name} starts {} VMs ({}): choose one with `--vm NAME`",
                starts.len(),
                listed()
            ),
            "NAME is the configuration's path in the image, its file name (with or without `.qvmconf`) or its `system` name",
            starts,
        ));
        return Err(EXIT_BEFORE_START);
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
                    .is_some_and(|n| &n.value == want)
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
