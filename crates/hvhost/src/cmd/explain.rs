//! `hvhost explain CODE`: the long explanation of a diagnostic code.

use crate::codes::Exit;
use crate::output::catalogue;
use clap::{Args, ValueEnum};
use serde_json::json;

/// How `hvhost explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum ExplainFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON value on stdout: the list of codes, or the code asked for.
    Json,
}

/// Arguments of `hvhost explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A code such as `B0101` (any case) or its name; `--list` shows them all.
    pub code: Option<String>,
    /// List every code with its one-line summary.
    #[arg(long)]
    pub list: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

fn code_json(c: &diag::Code, with_text: bool) -> serde_json::Value {
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "severity": c.severity.as_str(),
        "summary": c.summary,
    });
    if with_text {
        v["explanation"] = json!(c.explanation);
    }
    v
}

/// Runs the subcommand; returns the process exit code.
pub(crate) fn run(args: &ExplainArgs) -> Exit {
    let cat = catalogue();
    let json = args.format == ExplainFormat::Json;
    if args.list || args.code.is_none() {
        if json {
            let all: Vec<_> = cat.codes().iter().map(|c| code_json(c, false)).collect();
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            return Exit::Ok;
        }
        for c in cat.codes() {
            println!(
                "{}  {:<8} {:<32} {}",
                c.id,
                c.severity.as_str(),
                c.name,
                c.summary
            );
        }
        return Exit::Ok;
    }
    let key = args.code.as_deref().unwrap_or_default();
    match cat.find(key) {
        Some(c) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&code_json(c, true)).unwrap_or_default()
            );
            Exit::Ok
        }
        Some(c) => {
            print!("{}", c.explanation);
            if !c.explanation.ends_with('\n') {
                println!();
            }
            Exit::Ok
        }
        None => {
            eprintln!("error: no diagnostic code `{key}`; `hvhost explain --list` shows them all");
            Exit::Unreadable
        }
    }
}
