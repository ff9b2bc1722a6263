//! `hvhost run HOST [--vm NAME]...`: runs the VMs of a host (a buildfile or
//! an image) on KVM, the way the host's boot script starts them: one VM in
//! this process, several (the whole host) each as its own `hvhost qvm`
//! process under [`vmm::host::run`].
//!
//! The plan (which VMs, the host's rules first, their configurations with
//! the image paths mapped to host files) is [`hostcheck::plan`]'s; this
//! command adds what the VMM refuses, prints or runs the plan. The VM then
//! runs as under `hvhost qvm`, with qvm's exit codes.

use crate::cmd::qvm::{EXIT_BEFORE_START, EXIT_CONFIG, print_plan, run_vm};
use crate::input::{BuildfileInput, Unreadable};
use crate::output::{Format, emit};
use buildfile::{Manifest, Times};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use hostcheck::plan::{BootStep, Plan, PlannedVm, Request, Stop, Stopped};
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
    let name = args.input.display_name();
    // The same preflight as `hvhost qvm`'s, for a dry run and a run: what
    // this VMM cannot run, and the `hostdev` files this machine lacks.
    let refusals = |c: &qvmconf::VmConfig, read: &[Diagnostic]| {
        let mut found = qvmconf::missing_hostdevs(c, std::path::Path::new("."));
        found.extend(vmm::refusals(c, read));
        found
    };
    let req = Request {
        name: &name,
        vms: &args.vm,
        target_root: args.target_root.as_deref(),
        no_check: args.no_check,
        refusals: &refusals,
    };
    let planned = hostcheck::plan::plan(&mut map, &m, &req, &mut diags);
    // Every diagnostic is printed once, before the plan or the VM's output.
    emit(args.format, &map, &mut diags);
    let plan = match planned {
        Ok(p) => p,
        Err(Stopped { stop, vms }) => {
            if args.dryrun {
                // The same verdict as a run, with the VMs that could be planned.
                print_plans(args.format, &map, &vms);
            }
            return exit_of(stop);
        }
    };
    if args.dryrun {
        print_plans(args.format, &map, &plan.vms);
        return 0;
    }
    let code = match plan.vms.as_slice() {
        [one] if !plan.whole => run_vm(&map, &one.config, &[]),
        _ => whole_host(&m, &plan, args.target_root.as_deref()),
    };
    drop(plan.staged);
    code
}

/// qvm's exit code for a stop.
fn exit_of(stop: Stop) -> i32 {
    match stop {
        Stop::BeforeStart => EXIT_BEFORE_START,
        Stop::Config => EXIT_CONFIG,
    }
}

/// Prints the dry-run plan of each VM (each headed by its name when there
/// are several).
fn print_plans(format: Format, map: &SourceMap, vms: &[PlannedVm<'_>]) {
    for vm in vms {
        if vms.len() > 1 && format == Format::Text {
            println!("# {}", vm.name);
        }
        let p = qvmconf::plan::Plan {
            vm: &vm.config,
            map,
        };
        print_plan(format, &p);
    }
}

/// Runs the VMs as the boot script does, each as its own `hvhost qvm`
/// process (see [`vmm::host`]); returns the first failed VM's code, or 0.
fn whole_host(m: &Manifest, plan: &Plan<'_>, root: Option<&std::path::Path>) -> i32 {
    let mut steps = Vec::new();
    for step in hostcheck::plan::boot_steps(m, plan, root) {
        match step {
            BootStep::Start(i) => steps.push(vmm::host::Step::Start(process(&plan.vms[i]))),
            BootStep::Wait { path, timeout } => steps.push(vmm::host::Step::Wait { path, timeout }),
            BootStep::NotWaited(path) => eprintln!(
                "note: `waitfor {path}` not waited for: a program of the host makes it, and `hvhost run` runs only the VMs"
            ),
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

/// The `hvhost qvm` process that runs a planned VM.
fn process(vm: &PlannedVm<'_>) -> vmm::host::VmProcess {
    let e = vm.external;
    vmm::host::VmProcess {
        name: vm.name.clone(),
        program: std::env::current_exe().unwrap_or_else(|_| "hvhost".into()),
        args: vm.args.clone(),
        cwd: vm.cwd.clone(),
        background: e.background,
        cpu: e.cpu,
        nice: e.priority.and_then(|(p, _)| vmm::host::nice_of(p)),
    }
}
