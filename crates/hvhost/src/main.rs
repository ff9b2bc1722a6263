//! `hvhost`: build, check and run QNX-style hypervisor hosts on Linux.
//!
//! The binary holds no image, configuration or host-file logic: each
//! command parses its arguments, calls the libraries and prints. Layers
//! (checked by `crates/testkit/tests/layers.rs`): `codes` (exit statuses,
//! the R codes) → `output` (diagnostics, formats, colour) → `input`
//! (loading a buildfile for a command) → `cmd` (one module per command).

#![allow(
    unsafe_code,
    reason = "SIGPIPE back to its default (libc::signal) before any output"
)]

mod cmd;
mod codes;
mod input;
mod output;
mod progress;

use clap::{Parser, Subcommand};

/// Build, check and run QNX-style hypervisor hosts on Linux.
#[derive(Debug, Parser)]
#[command(name = "hvhost", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// When to colour diagnostics: `auto` on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = output::ColorWhen::Auto, global = true)]
    color: output::ColorWhen,
    /// Quiet: print the verdict only (no diagnostics but the count of errors and warnings).
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
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
    /// Print a shell completion script: `hvhost completions bash > ~/.local/share/bash-completion/completions/hvhost`.
    Completions(cmd::CompletionsArgs),
    /// Print the manual page (roff): `hvhost man > ~/.local/share/man/man1/hvhost.1`.
    Man,
}

fn main() {
    restore_sigpipe();
    let cli = Cli::parse();
    output::set_style(cli.color, cli.quiet);
    let code = match &cli.command {
        Command::Manifest(a) => cmd::manifest::run(a) as i32,
        Command::Build(a) => cmd::build::run(a) as i32,
        Command::Dump(a) => cmd::dump::run(a) as i32,
        Command::Explain(a) => cmd::explain::run(a) as i32,
        Command::Check(a) => cmd::check::run(a) as i32,
        Command::Completions(a) => cmd::completions(a) as i32,
        Command::Man => cmd::man() as i32,
        Command::Qvm(a) => cmd::qvm::run(a),
        Command::Run(a) => cmd::run::run(a),
    };
    std::process::exit(code);
}

/// Writing to a closed pipe ends hvhost at once and quietly, as it ends
/// `ls` or `grep` (status 141 in a shell): Rust ignores SIGPIPE, which
/// turns every such write into an error, and `println!` into a panic.
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to the default before any
    // thread is started has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
