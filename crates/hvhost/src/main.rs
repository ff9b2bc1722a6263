//! `hvhost`: build, check and run QNX-style hypervisor hosts on Linux.

mod cmd;
mod codes;
mod input;
mod output;

use clap::{Parser, Subcommand};

/// Build, check and run QNX-style hypervisor hosts on Linux.
#[derive(Debug, Parser)]
#[command(name = "hvhost", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Resolve a buildfile and print what the image will hold.
    Manifest(cmd::manifest::ManifestArgs),
    /// Check a hypervisor host: the buildfile and every VM its boot script starts.
    Check(cmd::check::CheckArgs),
    /// Build an IFS image from a buildfile (as mkifs).
    Build(cmd::build::BuildArgs),
    /// List, verify and extract an IFS image (as dumpifs).
    Dump(cmd::dump::DumpArgs),
    /// Show the long explanation of a diagnostic code.
    Explain(cmd::explain::ExplainArgs),
    /// Run a VM on KVM from its qvmconf, as qvm does (`@FILE`, options); with `dryrun`, print the VM it would assemble.
    Qvm(cmd::qvm::QvmArgs),
    /// Run a VM of a host on KVM as the host's boot script starts it (`qvm @PATH`), with the image's files.
    Run(cmd::run::RunArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Manifest(a) => cmd::manifest::run(a),
        Command::Build(a) => cmd::build::run(a),
        Command::Dump(a) => cmd::dump::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Qvm(a) => cmd::qvm::run(a),
        Command::Run(a) => cmd::run::run(a),
    };
    std::process::exit(code);
}
