//! Diagnostic codes of the buildfile front end.

diag::declare_codes! {
    /// `[a] [b] file`.
    B0101 = "missing-filename", Error, "an attribute list is followed by another attribute list instead of a file name";
}
