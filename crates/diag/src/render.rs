//! Diagnostics for people, for scripts (JSON lines) and for code-scanning
//! tools (SARIF 2.1.0).

mod human;
mod json;
mod sarif;

pub use codespan_reporting::term::termcolor;
pub use human::{human, human_to_string};
pub use json::{json_lines, json_value};
pub use sarif::sarif;

use crate::{Diagnostic, Severity};

/// Sorts diagnostics by file and position (diagnostics without a location
/// first), keeping the order of those at the same place.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span().map(|s| (s.file, s.start)));
}

/// Counts `(errors, warnings)`.
pub fn count(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    (errors, warnings)
}
