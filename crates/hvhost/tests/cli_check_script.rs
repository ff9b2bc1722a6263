//! `hvhost check` on the x86_64 example host with one mistake a new user
//! makes in its buildfile: the check must not say "clean". Each case edits
//! the example (which checks clean) in one place and names the diagnostic
//! and the line it must be located at.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::PathBuf;
use std::process::Output;

/// The example host with `from` replaced by `to` (which must be there),
/// written to a temporary directory; the VM files and host paths are found
/// from the repository root, where the check runs.
fn edited_host(from: &str, to: &str) -> (tempfile::TempDir, PathBuf) {
    let src = std::fs::read_to_string(root().join("examples/x86_64-host/host.build"))
        .expect("the example host");
    assert!(src.contains(from), "the example no longer holds {from:?}");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("host.build");
    std::fs::write(&path, src.replacen(from, to, 1)).expect("write the edited host");
    (dir, path)
}

/// The 1-based line of the example (after the edit) that holds `text`.
fn line_of(path: &std::path::Path, text: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(text))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{text:?} is not in the edited host"))
}

fn check(path: &std::path::Path) -> (Output, String, String) {
    let o = hvhost(&["check", "--no-host-files", path.to_str().unwrap()]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    (o, out, err)
}

/// `hvhost check --deny warnings PATH`.
fn check_denying_warnings(path: &str) -> Output {
    hvhost(&["check", "--no-host-files", "--deny", "warnings", path])
}

/// A check that passes with warnings (`summary`), not clean, and fails
/// under `--deny warnings`; its stderr.
fn warned(path: &std::path::Path, summary: &str) -> String {
    let (o, out, err) = check(path);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(!out.contains(": clean"), "{out}");
    assert!(out.contains(summary), "{out}");
    let denied = check_denying_warnings(path.to_str().unwrap());
    assert_eq!(denied.status.code(), Some(1), "{err}");
    err
}

/// The `CODE` diagnostics of `stderr`, each as `CODE line:col`.
fn located(stderr: &str, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = stderr.lines();
    while let Some(l) = lines.next() {
        if l.contains(&format!("[{code}]"))
            && let Some(at) = lines
                .next()
                .and_then(|n| n.rsplit(':').nth(1).zip(n.rsplit(':').next()))
        {
            out.push(format!("{code} {}:{}", at.0, at.1));
        }
    }
    out
}

/// The codes of every diagnostic in `stderr`.
fn codes(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.split_once('[').and_then(|(_, r)| r.split_once(']')))
        .map(|(c, _)| c)
        .filter(|c| c.len() == 5 && c.starts_with(['B', 'H', 'Q', 'G']))
        .collect()
}

#[test]
fn the_unedited_example_is_clean() {
    let (_d, path) = edited_host("[+session] ksh &", "[+session] ksh &");
    let (o, out, err) = check(&path);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(": clean"), "{out}{err}");
}

#[test]
fn an_unclosed_quote_that_swallows_the_ampersand_is_an_error_at_the_quote() {
    let line = "[sched_aps=guests] qvm @/vm/config/probe.qvmconf &";
    let (_d, path) = edited_host(line, "[sched_aps=guests] qvm \"@/vm/config/probe.qvmconf &");
    let (o, out, err) = check(&path);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("not checked"), "{out}");
    let n = line_of(&path, "qvm \"@");
    assert_eq!(located(&err, "B0108"), [format!("B0108 {n}:28")], "{err}");
    assert!(err.contains("would not run in the background"), "{err}");
    assert_eq!(codes(&err), ["B0108"], "{err}");
}

/// A warning expected: its code, the text of its line and its column.
type Warning = (&'static str, &'static str, usize);

/// Mistakes that leave a working image but not the host its author meant:
/// located warnings, so the check is not clean. Each case: the edit, the
/// summary, and each warning as its code, the text of its line and its column.
#[test]
fn shell_syntax_and_attributes_not_applied_are_located_warnings() {
    let cases: [(&str, &str, &str, &[Warning]); 2] = [
        (
            "    [+session] ksh &",
            "    pidin info | tcu-cat\n    slogger2 > /dev/null &\n    [+session] ksh &",
            "0 errors, 2 warnings",
            &[("B0311", "pidin info |", 16), ("B0311", "slogger2 >", 14)],
        ),
        (
            // Said once, at the first use.
            "/proc/boot/pipe = pipe\n/proc/boot/random = random",
            "[keepsection=.note] /proc/boot/pipe = pipe\n[keepsection=.comment] /proc/boot/random = random",
            "0 errors, 1 warning",
            &[("B0221", "[keepsection=.note]", 2)],
        ),
    ];
    for (from, to, summary, want) in cases {
        let (_d, path) = edited_host(from, to);
        let err = warned(&path, summary);
        let code = want[0].0;
        let want: Vec<String> = want
            .iter()
            .map(|(c, line, col)| format!("{c} {}:{col}", line_of(&path, line)))
            .collect();
        assert_eq!(located(&err, code), want, "{err}");
    }
}

/// A check that stops at one buildfile error, `code` at `line:col`.
fn one_error(path: &std::path::Path, code: &str, at: String) -> String {
    let (o, out, err) = check(path);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("not checked"), "{out}");
    assert_eq!(codes(&err), [code], "{err}");
    assert_eq!(located(&err, code), [format!("{code} {at}")], "{err}");
    err
}

/// An inline file whose `}` is missing: one error at its `{`, beside the
/// next entry, where reading goes on.
#[test]
fn an_inline_file_left_open_is_one_error_at_its_brace() {
    for (from, to, opened, col, next) in [
        (
            "procnto-smp-instr -v\n}",
            "procnto-smp-instr -v\n",
            "boot = {",
            45,
            "[+script] .script = {",
        ),
        (
            "[+session] ksh &\n}",
            "[+session] ksh &\n",
            ".script = {",
            21,
            "[perms=0644] /etc/motd = {",
        ),
    ] {
        let (_d, path) = edited_host(from, to);
        let n = line_of(&path, opened);
        let err = one_error(&path, "B0103", format!("{n}:{col}"));
        let next_line = line_of(&path, next);
        assert!(err.contains(&format!("{next_line} │ {next}")), "{err}");
        assert!(err.contains("another entry starts here"), "{err}");
    }
}

#[test]
fn an_attribute_list_left_open_is_one_error_at_its_bracket() {
    let (_d, path) = edited_host("[uid=0 gid=0]", "[uid=0 gid=0");
    let n = line_of(&path, "[uid=0 gid=0");
    one_error(&path, "B0102", format!("{n}:1"));
}

/// `+keeplinked` changes nothing in the image: a note, once, and the
/// example that uses it stays clean.
#[test]
fn keeplinked_is_a_note_and_the_host_stays_clean() {
    let o = check_denying_warnings("examples/aarch64-host/host.build");
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(": clean"), "{out}");
    let first = line_of(
        &root().join("examples/aarch64-host/host.build"),
        "[+keeplinked]",
    );
    assert_eq!(
        located(&err, "B0222"),
        [format!("B0222 {first}:6")],
        "{err}"
    );
}

#[test]
fn a_misspelled_attribute_gets_a_guess() {
    let (_d, path) = edited_host(
        "[perms=0644] /vm/config/probe.qvmconf",
        "[prem=0644] /vm/config/probe.qvmconf",
    );
    let n = line_of(&path, "[prem=0644]");
    let err = one_error(&path, "B0104", format!("{n}:2"));
    assert!(err.contains("help: did you mean `perms`?"), "{err}");
}
