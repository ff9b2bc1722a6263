//! Helpers shared by the image tests.

use std::path::Path;

/// Compares `got` with `tests/golden/<name>` byte for byte;
/// `UPDATE_GOLDEN=1` rewrites the file instead (review the diff).
pub(crate) fn golden(name: &str, got: &[u8]) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&p, got).unwrap();
        return;
    }
    let want = std::fs::read(&p)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", p.display()));
    if want != got {
        let at = want.iter().zip(got).position(|(a, b)| a != b);
        panic!(
            "golden {name} differs: {} bytes expected, {} written, first difference at {at:?}",
            want.len(),
            got.len()
        );
    }
}
