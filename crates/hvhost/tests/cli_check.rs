//! `hvhost check`, run as a user runs it: the example hosts are clean, and
//! every broken host under `crates/hostcheck/tests/hosts/` gives exactly the
//! diagnostics in its `expected.txt` (byte for byte; `UPDATE_GOLDEN=1`
//! rewrites them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn hvhost_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hvhost"))
        .args(args)
        .current_dir(dir)
        .env_remove("QNX_TARGET")
        .env_remove("MKIFS_PATH")
        .env_remove("PROCESSOR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn transcript(o: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn golden(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(want, got, "golden {} differs", path.display());
}

/// The extra arguments of a case: the first line of `args` in its directory, if any.
fn case_args(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args"))
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

#[test]
fn every_broken_host_is_caught() {
    let hosts = root().join("crates/hostcheck/tests/hosts");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&hosts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("host.build").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    let mut codes_seen = std::collections::BTreeSet::new();
    for dir in &cases {
        let extra = case_args(dir);
        let mut args = vec!["check", "--no-host-files"];
        args.extend(extra.iter().map(String::as_str));
        args.push("host.build");
        let o = hvhost_in(dir, &args);
        let t = transcript(&o);
        golden(&dir.join("expected.txt"), &t);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        // A case named after a code must report that code; `ok-*` cases are clean.
        if let Some(code) = name.split('-').next().filter(|c| c.starts_with('h')) {
            let code = code.to_uppercase();
            assert!(
                t.contains(&format!("[{code}]")),
                "{name} does not report {code}:\n{t}"
            );
            codes_seen.insert(code);
        } else {
            assert_eq!(o.status.code(), Some(0), "{name}:\n{t}");
        }
    }
    // Every code of the checker has a broken host.
    let missing: Vec<&str> = hostcheck::codes::ALL
        .iter()
        .map(|c| c.id)
        .filter(|id| !codes_seen.contains(*id))
        .collect();
    assert!(missing.is_empty(), "no broken host for {missing:?}");
}

/// The example hosts check clean: exit 0, no error and no warning.
#[test]
fn example_hosts_are_clean() {
    for host in ["aarch64-host", "safety-host"] {
        let path = format!("examples/{host}/host.build");
        let o = hvhost_in(
            &root(),
            &["check", "--no-host-files", "--deny", "warnings", &path],
        );
        let t = transcript(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        assert!(!t.contains("warning["), "{t}");
        assert!(t.contains(": clean"), "{t}");
    }
}
