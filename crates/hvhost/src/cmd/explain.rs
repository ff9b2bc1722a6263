//! `hvhost explain CODE`: the long explanation of a diagnostic code.

use crate::output::catalogue;
use clap::Args;

/// Arguments of `hvhost explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as `B0101` (any case) or its name; `--list` shows them all.
    pub code: Option<String>,
    /// List every code with its one-line summary.
    #[arg(long)]
    pub list: bool,
}

/// Runs the subcommand; returns the process exit code.
pub fn run(args: &ExplainArgs) -> i32 {
    let cat = catalogue();
    if args.list || args.code.is_none() {
        for c in cat.codes() {
            println!(
                "{}  {:<8} {:<32} {}",
                c.id,
                c.severity.as_str(),
                c.name,
                c.summary
            );
        }
        return 0;
    }
    let key = args.code.as_deref().unwrap_or_default();
    match cat.find(key) {
        Some(c) => {
            print!("{}", c.explanation);
            if !c.explanation.ends_with('\n') {
                println!();
            }
            0
        }
        None => {
            eprintln!("error: no diagnostic code `{key}`; `hvhost explain --list` shows them all");
            2
        }
    }
}
