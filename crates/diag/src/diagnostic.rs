//! The diagnostic value itself.

use crate::{Code, Severity, Span};

/// A span with a short message saying what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What (may be empty).
    pub message: String,
}

/// A place in a binary file (an image): the file and a byte offset from
/// the file's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteLocation {
    /// The file, as the user named it.
    pub file: String,
    /// Bytes from the start of the file.
    pub file_offset: u64,
}

/// One finding: a code, a message, where it is, and how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The stable code.
    pub code: &'static Code,
    /// Error, warning or info (the code's default unless changed).
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The place the message is about.
    pub primary: Option<Label>,
    /// Other places involved (possibly in other files).
    pub secondary: Vec<Label>,
    /// Where it is in a binary file, for a finding without a text location.
    pub byte_at: Option<ByteLocation>,
    /// Extra facts.
    pub notes: Vec<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and no location yet.
    pub fn new(code: &'static Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            byte_at: None,
            notes: Vec::new(),
            help: None,
        }
    }

    /// Sets the primary location and its label.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Adds a secondary location.
    pub fn with(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Sets the place in a binary file (shown by the JSON and SARIF
    /// renderers; the message of such a finding names it for people).
    pub fn at_byte(mut self, file: impl Into<String>, file_offset: u64) -> Diagnostic {
        self.byte_at = Some(ByteLocation {
            file: file.into(),
            file_offset,
        });
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help text (how to fix it).
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Changes the severity.
    pub fn severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if any.
    pub fn span(&self) -> Option<Span> {
        self.primary.as_ref().map(|l| l.span)
    }
}
