//! `hvhost run BUILDFILE [--vm NAME]`: runs one VM of a host on KVM, the way
//! the host's boot script starts it.
//!
//! The boot script's `qvm @PATH ...` command gives the VM's words; `PATH` and
//! every file the configuration loads are paths inside the image, which the
//! Manifest maps to the host files (or inline contents) they are built from.
//! The VM then runs as under `hvhost qvm`, with qvm's exit codes.

use crate::cmd::qvm::{EXIT_BEFORE_START, EXIT_CONFIG, plan_json, plan_text, run_vm};
use crate::input::{BuildfileInput, Unreadable};
use crate::output::{Format, emit};
use buildfile::{DataSource, EntryKind, Manifest, Times};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use hostcheck::{HostView, QvmStart};
use std::path::PathBuf;

/// Arguments of `hvhost run`.
#[derive(Debug, Args)]
pub struct RunArgs {
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
    /// Output format of the dry-run plan and of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Files written for inline image entries; removed when the run ends.
#[derive(Default)]
struct Staged {
    dir: Option<tempfile::TempDir>,
}

impl Staged {
    /// A host path holding `bytes` (an inline entry's contents).
    fn write(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        if self.dir.is_none() {
            self.dir = Some(tempfile::tempdir()?);
        }
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let file = dir.join(name.trim_start_matches('/').replace('/', "_"));
        std::fs::write(&file, bytes)?;
        Ok(file)
    }
}

/// Where the bytes of the image entry at `target` are on this machine.
fn host_file(host: &HostView, target: &str, staged: &mut Staged) -> Result<PathBuf, String> {
    let Some(e) = host.find_followed(target) else {
        return Err(format!(
            "`{target}` is not in the image: qvm would read it from a filesystem mounted at run time, which `hvhost run` does not have (put it in the image, or run the configuration with `hvhost qvm`)"
        ));
    };
    let EntryKind::File(f) = &e.kind else {
        return Err(format!("`{target}` is not a regular file in the image"));
    };
    match &f.source {
        DataSource::Host { path } => Ok(path.clone()),
        DataSource::Inline { bytes } => staged
            .write(target, bytes)
            .map_err(|err| format!("`{target}`: cannot stage its inline contents: {err}")),
        DataSource::Assumed { name } => Err(format!(
            "`{target}` comes from the host file `{name}`, which is not on this machine"
        )),
        DataSource::Script => Err(format!("`{target}` is the boot script")),
    }
}

/// The names a VM answers to in `--vm`.
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
pub fn run(args: &RunArgs) -> i32 {
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
    emit(args.format, &map, &mut diags);
    match run_in(args, &mut map, &m) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: hvhost run: {msg}");
            EXIT_BEFORE_START
        }
    }
}

fn run_in(args: &RunArgs, map: &mut SourceMap, m: &Manifest) -> Result<i32, String> {
    let host = HostView::new(m, None);
    let name = args.input.display_name();
    let starts: Vec<&QvmStart> = host.qvm_starts.iter().collect();
    if starts.is_empty() {
        return Err(format!(
            "{name}: the boot script starts no `qvm`: there is no VM to run"
        ));
    }
    let list = || {
        starts
            .iter()
            .map(|s| s.configs.join(" "))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen: Vec<&QvmStart> = match &args.vm {
        None if starts.len() == 1 => starts.clone(),
        None => {
            return Err(format!(
                "{name} starts {} VMs ({}): choose one with `--vm NAME`",
                starts.len(),
                list()
            ));
        }
        Some(want) => starts
            .iter()
            .copied()
            .filter(|s| names(s).iter().any(|n| n == want))
            .collect(),
    };
    let start = match chosen.as_slice() {
        [one] => *one,
        [] => {
            // Perhaps a `system` name: read each configuration to find it.
            let want = args.vm.as_deref().unwrap_or_default();
            let mut found = None;
            for s in &starts {
                let mut scratch = SourceMap::new();
                if let Ok((Some(vm), _)) = load_vm(&host, s, &mut scratch, &mut Staged::default())
                    && vm.system.as_ref().is_some_and(|n| n.value == want)
                {
                    found = Some(*s);
                    break;
                }
            }
            found.ok_or_else(|| {
                format!("{name} starts no VM called `{want}` (its VMs: {})", list())
            })?
        }
        _ => {
            return Err(format!(
                "`{}` names more than one VM of {name}: give the configuration's path in the image",
                args.vm.as_deref().unwrap_or_default()
            ));
        }
    };
    let mut staged = Staged::default();
    let (vm, mut diags) = load_vm(&host, start, map, &mut staged)?;
    // what this VMM cannot run is a configuration error here
    if let Some(vm) = vm
        .as_ref()
        .filter(|_| !diags.iter().any(Diagnostic::is_error))
    {
        diags.extend(vmm::preflight(vm));
    }
    let (errors, _) = emit(args.format, map, &mut diags);
    let Some(mut vm) = vm.filter(|_| errors == 0) else {
        return Ok(EXIT_CONFIG);
    };
    // The files the VM loads are paths inside the image.
    for load in &mut vm.loads {
        let target = load.path.value.clone();
        let path = host_file(&host, &target, &mut staged)?;
        load.path.value = path.display().to_string();
    }
    if args.dryrun {
        match args.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&plan_json(&vm, map)).unwrap_or_default()
            ),
            _ => print!("{}", plan_text(&vm, map)),
        }
        return Ok(0);
    }
    Ok(run_vm(map, &vm, &[]))
}

/// Reads the configuration a `qvm` command starts, with its `@PATH`s
/// replaced by the host files they come from, and its diagnostics.
fn load_vm(
    host: &HostView,
    start: &QvmStart,
    map: &mut SourceMap,
    staged: &mut Staged,
) -> Result<(Option<qvmconf::VmConfig>, Vec<Diagnostic>), String> {
    let mut words = Vec::with_capacity(start.external.args.len());
    for a in &start.external.args {
        match a.strip_prefix('@') {
            Some(p) => {
                let target = hostcheck::host::absolute(p);
                words.push(format!("@{}", host_file(host, &target, staged)?.display()));
            }
            None => words.push(a.clone()),
        }
    }
    let opts = qvmconf::Options {
        // Paths in the configuration are paths inside the image: they are
        // mapped to host files afterwards, not looked up on this machine.
        host_files: false,
        cwd: ".".into(),
        ..qvmconf::Options::default()
    };
    Ok(qvmconf::load(map, &words, &opts))
}
