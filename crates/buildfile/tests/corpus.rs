//! Every buildfile of the shared corpus, resolved without the SDK's files.
//!
//! The corpus holds real buildfiles written by others. All resolve with no
//! error under `--no-host-files`, except the ones that are not mkifs
//! buildfiles (templates for other tools, mkqnx6fsimg buildfiles): for each
//! of those, exactly one diagnostic says what the file is, at the right line.

use buildfile::{Options, load};
use diag::{Diagnostic, Severity, SourceMap};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/buildfiles")
}

fn opts() -> Options {
    Options {
        no_host_files: true,
        env: Default::default(),
        cwd: std::env::temp_dir().join("hvhost-no-such-dir"),
        ..Options::default()
    }
}

fn resolve_file(name: &str) -> (SourceMap, Option<buildfile::Manifest>, Vec<Diagnostic>) {
    let path = corpus_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut map = SourceMap::new();
    let (m, d) = load(&mut map, &[], name, bytes, &opts());
    (map, m, d)
}

/// The files that are not mkifs buildfiles, with the code and line of the
/// one diagnostic each must produce (see the corpus's PROVENANCE.md).
const FOREIGN: &[(&str, &str, &str)] = &[
    ("hvguest_qnx800_rbye_guest-1_rootfs.build", "B0112", ":27:2"),
    ("qnx800_deniz-eren_system.build", "B0112", ":22:2"),
    (
        "hvhost_qnx800_aarch64le_meta-qnx-hyp_qnx-host.build.in",
        "B0113",
        "",
    ),
    ("qnx800_meta-qnx_qnx-hello.build.in", "B0113", ""),
    (
        "qnx800_mkqnximage-template_gaurav_ifs.build",
        "B0113",
        ":9:",
    ),
];

#[test]
fn every_mkifs_buildfile_resolves_without_errors() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if FOREIGN.iter().any(|(f, _, _)| *f == name) {
            continue;
        }
        let (map, m, diags) = resolve_file(&name);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.code.id,
                    d.span().map(|s| map.location(s)).unwrap_or_default(),
                    d.message
                )
            })
            .collect();
        if !errors.is_empty() || m.is_none() {
            failures.push(format!("{name}:\n  {}", errors.join("\n  ")));
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn foreign_files_get_one_located_diagnostic_saying_what_they_are() {
    for (name, code, loc) in FOREIGN {
        let (map, m, diags) = resolve_file(name);
        assert!(m.is_none(), "{name}");
        let firsts: Vec<_> = diags.iter().filter(|d| d.code.id == *code).collect();
        assert_eq!(firsts.len(), 1, "{name}: {diags:#?}");
        let at = map.location(firsts[0].span().unwrap());
        assert!(at.contains(loc), "{name}: {at}");
        // Nothing but what the file is: no cascade of follow-on errors.
        assert!(
            diags
                .iter()
                .all(|d| ["B0112", "B0113", "B0114"].contains(&d.code.id)),
            "{name}: {diags:#?}"
        );
    }
}
