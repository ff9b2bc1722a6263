//! Golden tests: each buildfile in `tests/errors/` and the diagnostics
//! hvhost prints for it, compared byte for byte with `<name>.stderr`.
//! Regenerate with `HVHOST_BLESS=1 cargo test -p buildfile --test golden_errors`
//! and review the diff.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::{Options, load};
use diag::{SourceMap, render};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors")
}

fn options() -> Options {
    // Relative paths keep the messages the same on every machine.
    let mut env = HashMap::new();
    env.insert("QNX_TARGET".to_string(), "sdp".to_string());
    env.insert("PROCESSOR".to_string(), "x86_64".to_string());
    env.insert("LOOP".to_string(), "${LOOP}".to_string());
    Options {
        env,
        now: 1_000_000_000,
        cwd: PathBuf::from("tests/errors"),
        ..Options::default()
    }
}

fn render_case(path: &Path) -> (String, Vec<&'static str>) {
    let name = format!("errors/{}", path.file_name().unwrap().to_string_lossy());
    let bytes = std::fs::read(path).unwrap();
    let mut map = SourceMap::new();
    let (m, mut d) = load(&mut map, &[], &name, bytes, &options());
    render::sort(&mut d);
    let mut out = render::human_to_string(&map, &d);
    let (e, w) = render::count(&d);
    out.push_str(&format!(
        "-- {e} error(s), {w} warning(s); manifest {}\n",
        if m.is_some() { "built" } else { "not built" }
    ));
    (out, d.iter().map(|d| d.code.id).collect())
}

#[test]
fn every_error_case_matches_its_golden_output() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "build"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    let mut mismatches = Vec::new();
    for case in &cases {
        let (got, codes) = render_case(case);
        let stem = case.file_stem().unwrap().to_string_lossy().into_owned();
        // A case named after a code must produce that code.
        let expected_code = stem.split('-').next().unwrap();
        if expected_code.len() == 5
            && expected_code
                .chars()
                .nth(1)
                .is_some_and(|c| c.is_ascii_digit())
        {
            assert!(codes.contains(&expected_code), "{stem}: got {codes:?}");
        }
        seen.extend(codes);
        let golden = case.with_extension("stderr");
        if let Some(why) = testkit::golden::differs(&golden, got.as_bytes()) {
            mismatches.push(format!("=== {stem}: {why}\n--- got\n{got}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Every code of the buildfile front end has a golden case, except the two
    // that need a file the test user cannot read (tests run as root in CI).
    let untestable = ["B0210", "B0215"];
    let missing: Vec<&str> = buildfile::codes::ALL
        .iter()
        .map(|c| c.id)
        .filter(|id| !seen.contains(id) && !untestable.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a golden case: {missing:?}"
    );
}
