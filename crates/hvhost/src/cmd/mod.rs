//! One module per subcommand; shell completions and the manual page, made
//! from the command line's own definition.

pub(crate) mod build;
pub(crate) mod check;
pub(crate) mod dump;
pub(crate) mod explain;
pub(crate) mod manifest;
pub(crate) mod qvm;
pub(crate) mod run;

use crate::codes::Exit;
use clap::{Args, CommandFactory};

/// Arguments of `hvhost completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script of `args.shell` on stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> Exit {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "hvhost", &mut std::io::stdout());
    Exit::Ok
}

/// Prints the manual page, hvhost(1), on stdout.
pub(crate) fn man() -> Exit {
    let page = clap_mangen::Man::new(crate::Cli::command());
    match page.render(&mut std::io::stdout()) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {}", diag::io::reason(&e));
            Exit::Failed
        }
    }
}
