//! Helpers shared by the image tests.

use std::path::Path;

/// Compares `got` with `tests/golden/<name>` byte for byte;
/// `HVHOST_BLESS=1` rewrites the file instead (review the diff).
pub(crate) fn golden(name: &str, got: &[u8]) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    testkit::golden::check(&p, got);
}
