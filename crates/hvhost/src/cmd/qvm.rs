//! `hvhost qvm @guest.qvmconf [option ...]`: run one VM on KVM, as qvm does.
//!
//! The words form qvm's option stream (`@FILE` reads a file); the VM is read
//! by the qvmconf crate, converted to a `vmm::VmSpec` and run. Exit codes
//! are qvm's: 0 shut down, 3 power cut (SIGQUIT), 5 unsupported operation,
//! 6 vdev error, 7 unexpected error, 64 failure before the guest ran, 65
//! configuration error, 96 failure after the guest started.

use clap::Args;

use crate::output::{self, Format};

/// Arguments of `hvhost qvm`.
#[derive(Debug, Args)]
pub struct QvmArgs {
    /// Only read and check the configuration: the files named by `load` and
    /// `hostdev` are not read and the VM is neither assembled nor run.
    #[arg(long)]
    pub no_host_files: bool,
    /// `@FILE` arguments and option words, in order (`@guest.qvmconf cmdline "-v"`).
    #[arg(required = true, trailing_var_arg = true)]
    pub words: Vec<String>,
}

/// Run the VM; returns the exit code.
pub fn run(args: &QvmArgs) -> i32 {
    let mut map = diag::SourceMap::new();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("hvhost qvm: current directory: {e}");
            return i32::from(vmm::ExitCode::BeforeStart.code());
        }
    };
    let opts = qvmconf::Options {
        cwd: cwd.clone(),
        host_files: !args.no_host_files,
        ..Default::default()
    };
    let (vm, mut diags) = qvmconf::load(&mut map, &args.words, &opts);
    let (errors, _) = output::emit(Format::Text, &map, &mut diags);
    let vm = match vm {
        Some(vm) if errors == 0 => vm,
        _ => return i32::from(vmm::ExitCode::Config.code()),
    };
    if args.no_host_files {
        return 0;
    }
    let spec = match vmm::spec_from_config(&vm, &cwd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hvhost qvm: {e}");
            return i32::from(e.exit_code().code());
        }
    };
    i32::from(vmm::run(&spec, &vmm::RunOptions::default()).code.code())
}
