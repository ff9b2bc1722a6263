//! `hvhost qvm [@FILE...] [OPTION...] [dryrun]`: read a VM's configuration
//! as qvm does; with `dryrun` print the VM it would assemble, otherwise run it.

use crate::output::{Format, emit};
use clap::Args;
use diag::SourceMap;
use qvmconf::VmConfig;
use qvmconf::plan::Plan;

/// qvm's exit code for a fatal configuration error.
pub(crate) const EXIT_CONFIG: i32 = crate::codes::QvmExit::Config as i32;
/// qvm's exit code for a fatal error before the guest started.
pub(crate) const EXIT_BEFORE_START: i32 = crate::codes::QvmExit::BeforeStart as i32;

/// Arguments of `hvhost qvm`.
#[derive(Debug, Args)]
pub(crate) struct QvmArgs {
    /// Output format of the dry-run plan (`sarif` prints only the diagnostics).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Plan without the host's files: files named by `load` and `hostdev` need not exist (sizes and image types unknown).
    #[arg(long)]
    no_host_files: bool,
    /// Assemble the VM and print it without running it (the same as the word `dryrun`).
    #[arg(long)]
    dryrun: bool,
    /// Look the absolute paths of the files the VM loads (`load /vm/images/x`)
    /// up under DIR: a tree made by `hvhost dump -x`, or a target's file
    /// system copied here.
    #[arg(long, value_name = "DIR")]
    root: Option<std::path::PathBuf>,
    /// qvm's own words: `@FILE` (a configuration file), options, and `dryrun`.
    /// hvhost's flags may also appear among them.
    #[arg(
        value_name = "WORDS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    words: Vec<String>,
}

/// The words and flags after separating hvhost's flags from qvm's words.
struct Split {
    words: Vec<String>,
    format: Format,
    no_host_files: bool,
    dryrun: bool,
    root: Option<std::path::PathBuf>,
}

fn split(args: &QvmArgs) -> Result<Split, String> {
    let mut s = Split {
        words: Vec::new(),
        format: args.format,
        no_host_files: args.no_host_files,
        dryrun: args.dryrun,
        root: args.root.clone(),
    };
    let mut it = args.words.iter();
    while let Some(w) = it.next() {
        let fmt = match w.as_str() {
            "--no-host-files" => {
                s.no_host_files = true;
                continue;
            }
            "--dryrun" => {
                s.dryrun = true;
                continue;
            }
            "--root" => {
                let dir = it.next().ok_or("`--root` needs a directory")?;
                s.root = Some(dir.into());
                continue;
            }
            "--format" => Some(
                it.next()
                    .ok_or("`--format` needs a value: text, json or sarif")?
                    .as_str(),
            ),
            _ if w.starts_with("--root=") => {
                s.root = w.strip_prefix("--root=").map(Into::into);
                continue;
            }
            _ if is_flag(w) && !w.starts_with("--format=") => {
                return Err(format!(
                    "`{w}` is not a flag of `hvhost qvm` (its flags: --format, --no-host-files, \
                     --dryrun, --root, before or among the words; -q and --color before \
                     them); qvm's options are words \
                     without a dash, such as `ram 1m` or `dryrun` (see `hvhost qvm --help`)"
                ));
            }
            _ => w.strip_prefix("--format="),
        };
        match fmt {
            Some("text") => s.format = Format::Text,
            Some("json") => s.format = Format::Json,
            Some("sarif") => s.format = Format::Sarif,
            Some(other) => {
                return Err(format!(
                    "`--format {other}`: the formats are text, json and sarif"
                ));
            }
            None => s.words.push(w.clone()),
        }
    }
    Ok(s)
}

/// A word that reads as a command-line flag (`-v`, `--verbose`): never a
/// qvm option or value (a lone `-` is a value: `hostdev -`).
fn is_flag(w: &str) -> bool {
    let rest = w.strip_prefix('-').unwrap_or("");
    rest.starts_with(|c: char| c == '-' || c.is_ascii_alphabetic())
}

/// Runs the subcommand; returns qvm's exit code: 0 for a good dry run, 65
/// for configuration errors, 64 when the VM cannot be started.
pub(crate) fn run(args: &QvmArgs) -> i32 {
    let s = match split(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    // `dryrun` alone is no configuration either: a VM without RAM or anything to load.
    if s.words.iter().all(|w| w == "dryrun") {
        eprintln!(
            "error: no configuration: give `@FILE` (a *.qvmconf) and/or options, e.g. `hvhost qvm @vm.qvmconf dryrun`"
        );
        return EXIT_CONFIG;
    }
    let opts = qvmconf::Options {
        host_files: !s.no_host_files,
        cwd: ".".into(),
        root: s.root.clone(),
        partial: true,
        ..qvmconf::Options::default()
    };
    let mut map = SourceMap::new();
    let (vm, diags) = qvmconf::load(&mut map, &s.words, &opts);
    // A configuration without errors (its host files may be missing): the
    // plan a dry run prints.
    let assembled = !diags
        .iter()
        .any(|d| d.is_error() && !qvmconf::codes::is_host_file(d.code));
    // One verdict for a dry run and a run, every stage's findings at once.
    let mut verdict = vmm::Verdict::new(vm.as_ref(), diags);
    emit(s.format, &map, &mut verdict.diagnostics);
    let dryrun = s.dryrun || vm.as_ref().is_some_and(|v| v.dryrun);
    let stop = verdict.stop();
    let Some(mut vm) = vm.filter(|_| assembled) else {
        return stop.map_or(EXIT_CONFIG, |c| i32::from(c.code()));
    };
    if opts.root.is_some() {
        // The VMM loads what qvmconf checked: the files under `--root`.
        for l in &mut vm.loads {
            l.path.value = opts.host_path(&l.path.value).display().to_string();
        }
    }
    if dryrun {
        // The VM QNX qvm would assemble, with the same verdict as a run.
        print_plan(s.format, &Plan { vm: &vm, map: &map });
        return stop.map_or(0, |c| i32::from(c.code()));
    }
    match stop {
        Some(c) => i32::from(c.code()),
        None => run_vm(&map, &vm, &s.words),
    }
}

/// Prints a dry-run plan in `format` (nothing for `sarif`: only diagnostics).
pub(crate) fn print_plan(format: Format, plan: &Plan) {
    match format {
        Format::Text => print!("{plan}"),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan.json()).unwrap_or_default()
        ),
        Format::Sarif => {}
    }
}

/// Runs the VM on KVM: converts the configuration into the VMM's
/// [`vmm::VmSpec`] (host paths relative to the current directory, as qvm
/// resolves them) and returns qvm's exit code.
pub(crate) fn run_vm(_map: &SourceMap, vm: &VmConfig, _words: &[String]) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "error: hvhost qvm: cannot read the current directory: {}",
                diag::io::reason(&e)
            );
            return EXIT_BEFORE_START;
        }
    };
    let spec = match vmm::spec_from_config(vm, &cwd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: hvhost qvm: {e}");
            return i32::from(e.exit_code().code());
        }
    };
    i32::from(vmm::run(&spec, &vmm::RunOptions::default()).code.code())
}
