//! Golden files: what a test produced, compared byte for byte with a file
//! kept in the repository. `HVHOST_BLESS=1` (or the older `UPDATE_GOLDEN=1`)
//! writes the file instead; review the diff before committing it.

use std::path::Path;

/// True when golden files are to be rewritten rather than compared.
pub fn blessing() -> bool {
    ["HVHOST_BLESS", "UPDATE_GOLDEN"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0"))
}

/// Compare `got` with the file at `path` byte for byte (panicking with the
/// first differing line when they differ), or write it when blessing.
pub fn check(path: &Path, got: &[u8]) {
    if let Some(why) = differs(path, got) {
        panic!("{why}");
    }
}

/// What [`check`] would panic with, for a test that reports every golden
/// file that differs at once: `None` when `got` matches (or was written).
pub fn differs(path: &Path, got: &[u8]) -> Option<String> {
    if blessing() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the golden file's directory");
        }
        std::fs::write(path, got).expect("write the golden file");
        return None;
    }
    let want = match std::fs::read(path) {
        Ok(w) => w,
        Err(e) => {
            return Some(format!(
                "{}: {e}: run with HVHOST_BLESS=1 to write it",
                path.display()
            ));
        }
    };
    (want != got).then(|| {
        format!(
            "{} differs (rerun with HVHOST_BLESS=1 to accept): {}",
            path.display(),
            first_difference(&want, got)
        )
    })
}

/// Where two byte strings first differ, as a person reads it.
pub fn first_difference(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let line = want[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let show = |b: &[u8]| {
        let start = b[..at.min(b.len())]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let end = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| start + i);
        String::from_utf8_lossy(&b[start..end]).into_owned()
    };
    format!(
        "byte {at} (line {line}; {} bytes expected, {} produced)\n  expected: {:?}\n  produced: {:?}",
        want.len(),
        got.len(),
        show(want),
        show(got)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_names_its_line() {
        let d = first_difference(b"a\nbc\nd\n", b"a\nbx\nd\n");
        assert!(d.starts_with("byte 3 (line 2;"), "{d}");
        assert!(
            d.contains("expected: \"bc\"") && d.contains("produced: \"bx\""),
            "{d}"
        );
        let d = first_difference(b"abc", b"ab");
        assert!(
            d.starts_with("byte 2 (line 1; 3 bytes expected, 2 produced)"),
            "{d}"
        );
    }

    #[test]
    fn a_golden_file_is_compared_byte_for_byte() {
        if blessing() {
            return; // the comparison is what this test is about
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("g.txt");
        std::fs::write(&p, b"same\n").expect("write");
        check(&p, b"same\n");
        let r = std::panic::catch_unwind(|| check(&p, b"same\r\n"));
        assert!(r.is_err(), "a CR is a difference");
        let r = std::panic::catch_unwind(|| check(&dir.path().join("missing"), b""));
        assert!(r.is_err(), "a missing golden file is a failure");
    }
}
