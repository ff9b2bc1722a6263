//! Output shared by every subcommand: the `--format` choice, diagnostics on
//! stderr (or stdout for json/sarif), and the catalogue of all codes.

use clap::ValueEnum;
use diag::render::{self, termcolor};
use diag::{Catalogue, Diagnostic, SourceMap};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// When diagnostics are coloured (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum ColorWhen {
    /// On a terminal, unless the `NO_COLOR` environment variable is set.
    #[default]
    Auto,
    /// Always, also into a pipe or a file (and despite `NO_COLOR`).
    Always,
    /// Never.
    Never,
}

static COLOR: AtomicU8 = AtomicU8::new(ColorWhen::Auto as u8);
static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `--color` and `-q` for this process.
pub(crate) fn set_style(color: ColorWhen, quiet: bool) {
    COLOR.store(color as u8, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `-q` was given: only verdicts are printed.
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether text on stderr is coloured, from `--color`, `NO_COLOR` and
/// whether stderr is a terminal.
pub(crate) fn stderr_color() -> termcolor::ColorChoice {
    let auto = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match COLOR.load(Ordering::Relaxed) {
        c if c == ColorWhen::Always as u8 => termcolor::ColorChoice::Always,
        c if c == ColorWhen::Auto as u8 && auto => termcolor::ColorChoice::Auto,
        _ => termcolor::ColorChoice::Never,
    }
}

/// How results and diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Format {
    /// For people: text, diagnostics with source snippets on stderr.
    #[default]
    Text,
    /// For scripts: JSON on stdout (diagnostics as JSON lines on stderr).
    Json,
    /// A SARIF 2.1.0 log of the diagnostics on stdout.
    Sarif,
}

/// Every code hvhost can emit.
pub(crate) fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    c.extend(diag::ALL);
    c.extend(buildfile::codes::ALL);
    c.extend(hostcheck::codes::ALL);
    c.extend(hostcheck::codes::run::ALL);
    c.extend(ifs::codes::ALL);
    c.extend(qvmconf::codes::ALL);
    c.extend(vmm::codes::ALL);
    c
}

/// Prints diagnostics for `format` and returns `(errors, warnings)`.
///
/// Text: rendered with snippets on stderr (coloured as [`stderr_color`]
/// says; under `-q` only the count). JSON: one object per line on stderr. SARIF: the whole
/// log on stdout.
pub(crate) fn emit(
    format: Format,
    map: &SourceMap,
    diagnostics: &mut [Diagnostic],
) -> (usize, usize) {
    render::sort(diagnostics);
    let counts = render::count(diagnostics);
    match format {
        Format::Text => {
            let mut err = termcolor::StandardStream::stderr(stderr_color());
            if !quiet() {
                let _ = render::human(&mut err, map, diagnostics);
            }
            let (e, w) = counts;
            if e + w > 0 {
                let _ = writeln!(err, "{}", summary(e, w));
            }
        }
        Format::Json => {
            let _ = render::json_lines(&mut std::io::stderr().lock(), map, diagnostics);
        }
        Format::Sarif => {
            let log = render::sarif(&catalogue(), map, diagnostics, env!("CARGO_PKG_VERSION"));
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut out, &log);
            let _ = writeln!(out);
        }
    }
    counts
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `2 errors, 1 warning` and the hint to use `hvhost explain`.
pub(crate) fn summary(errors: usize, warnings: usize) -> String {
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(plural(errors, "error"));
    }
    if warnings > 0 {
        parts.push(plural(warnings, "warning"));
    }
    format!(
        "{}; run `hvhost explain CODE` for the long explanation of a code",
        parts.join(", ")
    )
}
