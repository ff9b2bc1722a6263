//! Diagnostics shared by every hvhost front end.
//!
//! A [`Diagnostic`] carries a stable [`Code`] (for example `B0102`), a
//! severity, a message, a primary labelled [`Span`], secondary labelled spans
//! (possibly in other files), notes and a help text. Spans point into files
//! registered in a [`SourceMap`]. Diagnostics are rendered for people with
//! source snippets ([`render::human`]), as JSON lines ([`render::json_lines`])
//! or as a SARIF 2.1.0 log ([`render::sarif`]).
//!
//! Every crate declares the codes it emits with [`declare_codes!`]; each code
//! has a long explanation in `explain/<CODE>.md` beside the crate, shown by
//! `hvhost explain CODE`.
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | `severity`, `source`, `bytes`, `io` | how serious; files, spans and line:col; byte strings as text; I/O error wording |
//! | 2 | `catalogue` | [`Code`]s and the [`Catalogue`] of every crate's codes |
//! | 3 | `diagnostic` | [`Diagnostic`]: a code, a message, labels, notes, a fix |
//! | 4 | [`render`] | text, JSON and SARIF output |

pub mod bytes;
mod catalogue;
mod diagnostic;
pub mod io;
pub mod render;
mod severity;
mod source;

pub use catalogue::{Catalogue, Code};
pub use diagnostic::{ByteLocation, Diagnostic, Label};
pub use severity::Severity;
pub use source::{FileId, LineCol, SourceFile, SourceMap, Span};

declare_codes! {
    /// A file named on the command line could not be read.
    G0001 = "input-unreadable", Error, "an input file could not be read";
    /// The input is not text the tool can read (for example a binary file given as a buildfile).
    G0002 = "input-not-text", Error, "the input is not a text file";
}

/// Declares `pub static` [`Code`]s and a `pub static ALL` slice holding them.
///
/// The long explanation of each code is read at compile time from
/// `explain/<ID>.md` in the declaring crate, so a code without an explanation
/// does not compile.
///
/// ```ignore
/// diag::declare_codes! {
///     /// Two names where one was expected.
///     B0102 = "missing-filename", Error, "an attribute list is not followed by a file name";
/// }
/// ```
#[macro_export]
macro_rules! declare_codes {
    ($( $(#[$meta:meta])* $id:ident = $name:literal, $severity:ident, $summary:literal; )*) => {
        $(
            $(#[$meta])*
            pub static $id: $crate::Code = $crate::Code {
                id: stringify!($id),
                name: $name,
                severity: $crate::Severity::$severity,
                summary: $summary,
                explanation: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/explain/", stringify!($id), ".md")),
            };
        )*
        /// Every code declared by this crate, in declaration order.
        pub static ALL: &[&$crate::Code] = &[$(&$id),*];
    };
}
