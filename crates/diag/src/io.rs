//! One wording for I/O errors, in every crate: what was being done, the
//! path, and the operating system's reason without Rust's `(os error N)`.

use std::path::Path;

/// The operating system's reason for `e`, without Rust's ` (os error N)`
/// suffix: `No such file or directory`.
pub fn reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `cannot ACTION `PATH`: REASON`, the wording of every I/O error about a
/// file: `cannot read `a.build`: No such file or directory`.
pub fn cannot(action: &str, path: &Path, e: &std::io::Error) -> String {
    format!("cannot {action} `{}`: {}", path.display(), reason(e))
}

/// `e` with its message replaced by [`cannot`]'s wording (its kind kept),
/// for errors passed on as [`std::io::Error`].
pub fn with_path(action: &str, path: &Path, e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), cannot(action, path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_os_error_number_is_dropped_and_the_path_named() {
        let e = std::fs::read("/nonexistent-hvhost-path/x").unwrap_err();
        assert_eq!(reason(&e), "No such file or directory");
        assert_eq!(
            cannot("read", Path::new("/nonexistent-hvhost-path/x"), &e),
            "cannot read `/nonexistent-hvhost-path/x`: No such file or directory"
        );
        let w = with_path("open", Path::new("a b"), &e);
        assert_eq!(w.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            w.to_string(),
            "cannot open `a b`: No such file or directory"
        );
        // A message without an OS error is kept whole.
        let other = std::io::Error::other("short read");
        assert_eq!(reason(&other), "short read");
    }
}
