//! `hvhost check`, run as a user runs it: the example hosts are clean, and
//! every broken host under `crates/hostcheck/tests/hosts/` gives exactly the
//! diagnostics in its `expected.txt` (byte for byte; `HVHOST_BLESS=1`
//! rewrites them).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

fn transcript(o: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn golden(path: &Path, got: &str) {
    testkit::golden::check(path, got.as_bytes());
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
    // Every code of the checker has a broken host, but H0105, which only an
    // image gives (cli_build's stand-in SDK test checks it on a built image).
    let missing: Vec<&str> = hostcheck::codes::ALL
        .iter()
        .map(|c| c.id)
        .filter(|id| !codes_seen.contains(*id) && *id != "H0105")
        .collect();
    assert!(missing.is_empty(), "no broken host for {missing:?}");
}

/// The example hosts check clean: exit 0, no error and no warning.
#[test]
fn example_hosts_are_clean() {
    for host in ["x86_64-host", "aarch64-host", "safety-host"] {
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

fn case_dir(name: &str) -> PathBuf {
    root().join("crates/hostcheck/tests/hosts").join(name)
}

#[test]
fn exit_codes() {
    // Warnings only: 0, or 1 under --deny warnings.
    let dir = case_dir("h0302-vdev-unused");
    let o = hvhost_in(&dir, &["check", "--no-host-files", "host.build"]);
    assert_eq!(o.status.code(), Some(0), "{}", transcript(&o));
    let o = hvhost_in(
        &dir,
        &[
            "check",
            "--no-host-files",
            "--deny",
            "warnings",
            "host.build",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", transcript(&o));
    // Infos never fail the check.
    let dir = case_dir("h0701-guest-image-outside-image");
    let o = hvhost_in(
        &dir,
        &[
            "check",
            "--no-host-files",
            "--deny",
            "warnings",
            "host.build",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", transcript(&o));
    // Errors: 1.
    let o = hvhost_in(
        &case_dir("h0301-vdev-missing"),
        &["check", "--no-host-files", "host.build"],
    );
    assert_eq!(o.status.code(), Some(1));
    // Unreadable: 2.
    let o = hvhost_in(&root(), &["check", "no/such/host.build"]);
    assert_eq!(o.status.code(), Some(2), "{}", transcript(&o));
    assert!(text(&o.stderr).contains("G0001"), "{}", transcript(&o));
    // A buildfile with errors is not checked: 1.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.build"), "[uid=0] [gid=0] /x = y\n").unwrap();
    let o = hvhost_in(dir.path(), &["check", "--no-host-files", "host.build"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("not checked"),
        "{}",
        transcript(&o)
    );
    // A bad --sdp is a usage error.
    let o = hvhost_in(&root(), &["check", "--sdp", "9", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("7.0, 7.1 or 8.0"),
        "{}",
        transcript(&o)
    );
}

#[test]
fn json_and_sarif() {
    let dir = case_dir("h0403-host-driver-claims-passed-device");
    let o = hvhost_in(
        &dir,
        &["check", "--no-host-files", "--format", "json", "host.build"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["checked"], true);
    assert_eq!(v["sdp"], "7.x");
    assert_eq!(v["arch"], "x86_64");
    assert_eq!(v["errors"], 1);
    assert_eq!(v["vms"][0]["name"], "a");
    assert_eq!(v["vms"][0]["pass"][0], "io:0x3e8,0x8");
    // Diagnostics: JSON lines on stderr, with both places.
    let err = text(&o.stderr);
    let d: serde_json::Value = serde_json::from_str(err.lines().next().unwrap()).unwrap();
    assert_eq!(d["code"], "H0403");
    assert_eq!(d["location"]["file"], "host.build");
    assert_eq!(d["location"]["line"], 7);
    assert_eq!(d["related"][0]["file"], "vm/a.qvmconf");
    assert_eq!(d["related"][0]["line"], 16);

    let o = hvhost_in(
        &dir,
        &[
            "check",
            "--no-host-files",
            "--format",
            "sarif",
            "host.build",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = &s["runs"][0]["results"];
    assert_eq!(results.as_array().map(Vec::len), Some(1));
    assert_eq!(results[0]["ruleId"], "H0403");
}

#[test]
fn explain_knows_every_hostcheck_code() {
    for c in hostcheck::codes::ALL {
        let o = hvhost_in(&root(), &["explain", c.id]);
        assert_eq!(o.status.code(), Some(0));
        assert!(
            text(&o.stdout).starts_with(&format!("# {}: {}", c.id, c.summary)),
            "{}",
            c.id
        );
    }
}

/// Real hypervisor hosts of the shared corpus: SDP 8.0 (startup -Q
/// enable,el1-host) with qvm and vdevs in the image, whose VMs are started
/// later from a script on a run-time filesystem: the only finding is H0202.
/// The Yocto template is refused as a template, not checked.
#[test]
fn corpus_hosts() {
    let corpus = root().join("../shared/corpus/buildfiles");
    for name in [
        "hvhost_qnx800_aarch64le_rbye_rpi4-hypervisor.build",
        "hvhost_qnx800_aarch64le_rbye_rpi5-hypervisor.build",
    ] {
        let o = hvhost_in(
            &corpus,
            &["check", "--no-host-files", "--format", "json", name],
        );
        let t = transcript(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["sdp"], "8.0", "{t}");
        assert_eq!(v["arch"], "aarch64", "{t}");
        assert_eq!(v["qvm_started"], 0, "{t}");
        let codes: Vec<String> = text(&o.stderr)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["code"].to_string())
            .filter(|c| c.starts_with("\"H"))
            .collect();
        assert_eq!(codes, ["\"H0202\""], "{t}");
    }
    let o = hvhost_in(
        &corpus,
        &[
            "check",
            "--no-host-files",
            "hvhost_qnx800_aarch64le_meta-qnx-hyp_qnx-host.build.in",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("not checked"),
        "{}",
        transcript(&o)
    );
}

/// The summary (text and JSON) says what was found: no "enabled" beside an H0101.
#[test]
fn summary_agrees_with_h0101() {
    let dir = case_dir("h0101-sdp8-without-q");
    let o = hvhost_in(
        &dir,
        &[
            "check",
            "--no-host-files",
            "--sdp",
            "8.0",
            "--format",
            "json",
            "host.build",
        ],
    );
    let t = transcript(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["virtualization_enabled"], false, "{t}");
    let g = v["generation"].as_str().unwrap();
    assert!(
        g.contains("not enabled") && !g.contains("enabled by"),
        "{g}"
    );
    let o = hvhost_in(
        &case_dir("ok-x86-one-vm"),
        &["check", "--no-host-files", "--format", "json", "host.build"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["virtualization_enabled"], true);
}

/// H0204 comes first, at the `qvm` line; the configuration's own errors follow it.
#[test]
fn h0204_before_the_configuration_errors() {
    let o = hvhost_in(
        &case_dir("h0204-qvmconf-invalid"),
        &["check", "--no-host-files", "--format", "json", "host.build"],
    );
    let codes: Vec<String> = text(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["code"].to_string())
        .collect();
    assert!(codes.len() >= 2, "{codes:?}");
    assert_eq!(codes[0], "\"H0204\"", "{codes:?}");
    assert!(codes[1..].iter().all(|c| c.starts_with("\"Q")), "{codes:?}");
}
