//! What every `hvhost` CLI test needs: running the binary in a clean
//! environment, golden files, and whether KVM is here (the last two from
//! `testkit`).

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (the example hosts' host paths are relative to it).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// Runs `hvhost ARGS` in `dir` with `env` added to an environment without
/// the SDK's variables (`QNX_TARGET`, `MKIFS_PATH`, `PROCESSOR`) or
/// `SOURCE_DATE_EPOCH`, without colours, with `stdin` as its input.
pub(crate) fn hvhost_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hvhost"));
    c.args(args)
        .current_dir(dir)
        .env_remove("QNX_TARGET")
        .env_remove("MKIFS_PATH")
        .env_remove("PROCESSOR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run hvhost");
    if let Some(s) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(s.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait for hvhost")
}

/// `hvhost ARGS` in `dir`.
pub(crate) fn hvhost_in(dir: &Path, args: &[&str]) -> Output {
    hvhost_with(dir, args, &[], None)
}

/// `hvhost ARGS` in `dir` with `env` added.
pub(crate) fn hvhost_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    hvhost_with(dir, args, env, None)
}

/// `hvhost ARGS` at the repository root.
pub(crate) fn hvhost(args: &[&str]) -> Output {
    hvhost_in(&root(), args)
}

/// `hvhost ARGS` at the repository root, reading `stdin`.
pub(crate) fn hvhost_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    hvhost_with(&root(), args, &[], stdin)
}

/// Output bytes as text.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Compares `got` with `tests/golden/<name>` byte for byte;
/// `HVHOST_BLESS=1` (or `UPDATE_GOLDEN=1`) rewrites the file instead
/// (review the diff).
pub(crate) fn golden(name: &str, got: &str) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    testkit::golden::check(&p, got.as_bytes());
}

/// Whether `/dev/kvm` is here; says why a KVM test is skipped when not.
#[allow(unused_imports)] // only the KVM tests use it
pub(crate) use testkit::kvm;
