//! `hvhost` as a Unix tool: a closed pipe, Ctrl-C, exit statuses that say
//! why, `--color`, `-q`, completions and the manual page.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn hvhost_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hvhost"));
    c.args(args).current_dir(dir).env_remove("QNX_TARGET");
    c.env_remove("MKIFS_PATH").env("NO_COLOR", "1");
    c
}

/// Runs `hvhost ARGS` with its stdout a pipe whose reading end is already
/// closed, so that its first write fails.
fn with_closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    hvhost_cmd(dir, args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap()
}

/// It stopped as `ls` stops on a closed pipe: killed by SIGPIPE, with
/// nothing on stderr (no panic, no message).
fn assert_quiet_stop(o: &Output, what: &str) {
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGPIPE),
        "{what}: {:?}, stderr {}",
        o.status,
        text(&o.stderr)
    );
    assert_eq!(text(&o.stderr), "", "{what}");
}

/// A small image built from inline files, in `dir`.
fn small_image(dir: &Path, compress: bool) -> std::path::PathBuf {
    let build = format!(
        "{}/etc/motd = {{\nhello\n}}\n/etc/other = {{\nother text\n}}\n[type=link] /bin/sh = /proc/boot/ksh\n",
        if compress { "[+compress]\n" } else { "" }
    );
    std::fs::write(dir.join("s.build"), build).unwrap();
    let o = hvhost_in(dir, &["build", "-nn", "s.build", "s.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    dir.join("s.ifs")
}

#[test]
fn a_closed_pipe_stops_text_output_quietly() {
    let o = with_closed_stdout(&root(), &["explain", "--list"]);
    assert_quiet_stop(&o, "explain --list");
}

#[test]
fn a_closed_pipe_stops_json_output_quietly() {
    let o = with_closed_stdout(&root(), &["explain", "--list", "--format", "json"]);
    assert_quiet_stop(&o, "explain --list --format json");
    let o = with_closed_stdout(
        &root(),
        &[
            "manifest",
            "--no-host-files",
            "--format",
            "json",
            "examples/x86_64-host/host.build",
        ],
    );
    assert_quiet_stop(&o, "manifest --format json");
}

#[test]
fn a_closed_pipe_stops_sarif_output_quietly() {
    let o = with_closed_stdout(
        &root(),
        &[
            "check",
            "--no-host-files",
            "--format",
            "sarif",
            "examples/x86_64-host/host.build",
        ],
    );
    assert_quiet_stop(&o, "check --format sarif");
}

#[test]
fn a_closed_pipe_stops_a_dump_quietly() {
    let d = tempfile::tempdir().unwrap();
    small_image(d.path(), false);
    let o = with_closed_stdout(d.path(), &["dump", "-v", "s.ifs"]);
    assert_quiet_stop(&o, "dump");
    let o = with_closed_stdout(d.path(), &["build", "s.build", "-"]);
    assert_quiet_stop(&o, "build to stdout");
}

/// `dump -m` shows the MD5 of the data, as md5sum
/// computes it from the extracted file; names choose entries; `-` reads
/// the image from stdin.
#[test]
fn dump_takes_dumpifs_options() {
    let d = tempfile::tempdir().unwrap();
    let img = small_image(d.path(), false);
    let o = hvhost_in(d.path(), &["dump", "-m", "-x", "-d", "x", "s.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let listing = text(&o.stdout);
    let sum = Command::new("md5sum")
        .arg(d.path().join("x/etc/motd"))
        .output()
        .unwrap();
    let sum = text(&sum.stdout);
    let want = format!("md5={}", sum.split_whitespace().next().unwrap());
    let after_motd = listing.split("etc/motd").nth(1).unwrap();
    assert!(
        after_motd.lines().nth(1).unwrap().trim() == want,
        "{listing}"
    );

    // Names: only those entries are listed, and extracted with -x.
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "y", "s.ifs", "motd"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let l = text(&o.stdout);
    assert!(l.contains("etc/motd") && !l.contains("etc/other"), "{l}");
    assert!(d.path().join("y/etc/motd").is_file());
    assert!(!d.path().join("y/etc/other").exists());
    let o = hvhost_in(d.path(), &["dump", "s.ifs", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("`nope` is not in the image"));

    // `-`: the image on stdin lists as the file does.
    let from_file = hvhost_in(d.path(), &["dump", "-v", "s.ifs"]);
    let from_stdin = hvhost_cmd(d.path(), &["dump", "-v", "-"])
        .stdin(std::fs::File::open(&img).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        from_stdin.status.code(),
        Some(0),
        "{}",
        text(&from_stdin.stderr)
    );
    assert_eq!(text(&from_stdin.stdout), text(&from_file.stdout));
}

#[test]
fn dump_u_writes_the_image_and_z_keeps_it_compressed() {
    let d = tempfile::tempdir().unwrap();
    let img = std::fs::read(small_image(d.path(), true)).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-u", "plain.fs", "s.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let plain = std::fs::read(d.path().join("plain.fs")).unwrap();
    assert!(plain.starts_with(b"imagefs"));
    // The written image filesystem lists the same entries.
    let o = hvhost_in(d.path(), &["dump", "--format", "json", "plain.fs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"etc/motd") && paths.contains(&"bin/sh"),
        "{paths:?}"
    );

    let o = hvhost_in(d.path(), &["dump", "-z", "-u", "stored.fs", "s.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stored = std::fs::read(d.path().join("stored.fs")).unwrap();
    assert_ne!(stored, plain);
    assert!(
        img.windows(stored.len()).any(|w| w == stored.as_slice()),
        "-z writes the region as it is stored in the image"
    );
    let o = hvhost_in(d.path(), &["dump", "-z", "s.ifs"]);
    assert_eq!(o.status.code(), Some(2), "-z needs -u");
}

/// A build whose host files are all missing succeeds (mkifs's `optional`
/// default) but says the image is incomplete; `--format json` prints the
/// result.
#[test]
fn a_build_without_its_host_files_says_the_image_is_incomplete() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.build"), "/bin/qvm = qvm\n/bin/ls = ls\n").unwrap();
    let o = hvhost_in(d.path(), &["build", "m.build", "m.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert_eq!(
        err.lines().last().unwrap(),
        "m.ifs: 2 host files were left out (B0202): the image is incomplete",
        "{err}"
    );
    let o = hvhost_in(d.path(), &["build", "--format", "json", "m.build", "j.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let size = std::fs::metadata(d.path().join("j.ifs")).unwrap().len();
    assert_eq!(v["written"], size);
    assert_eq!(v["image"], "j.ifs");
    assert_eq!(v["host_files_left_out"], 2);
    assert_eq!(v["complete"], false);
}

/// `hvhost run` never exits non-zero with only a warning on screen: a
/// configuration that cannot be read is an error when the VM should start.
#[test]
fn run_says_why_it_exits_64() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("r.build"),
        "/bin/qvm = qvm\n/etc/vm.qvmconf = vm.qvmconf\n[+script] .script = {\nqvm @/etc/vm.qvmconf\n}\n",
    )
    .unwrap();
    let o = hvhost_in(
        d.path(),
        &["run", "--no-check", "--no-host-files", "r.build"],
    );
    assert_eq!(o.status.code(), Some(64));
    let err = text(&o.stderr);
    assert!(err.contains("warning[H0206]"), "{err}");
    assert!(
        err.contains("error[R0103]: the configuration `/etc/vm.qvmconf` cannot be read"),
        "{err}"
    );
    // H0206 says how a bare name is found.
    assert!(err.contains("never in the current directory"), "{err}");
}

#[test]
fn color_follows_the_option_and_no_color() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.build"), "/bin/ls = ls\n").unwrap();
    let esc = |o: &Output| text(&o.stderr).contains('\x1b');
    // NO_COLOR is set by hvhost_cmd; `always` wins over it, into a pipe.
    let always = hvhost_cmd(d.path(), &["--color", "always", "manifest", "m.build"])
        .output()
        .unwrap();
    assert!(esc(&always), "{}", text(&always.stderr));
    let never = hvhost_cmd(d.path(), &["manifest", "--color=never", "m.build"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!esc(&never));
    // `auto` into a pipe: no colour.
    let auto = hvhost_cmd(d.path(), &["manifest", "m.build"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!esc(&auto));
    assert!(text(&auto.stderr).contains("warning[B0202]"));
}

#[test]
fn quiet_prints_the_verdict_only() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.build"), "/bin/ls = ls\n").unwrap();
    let loud = hvhost_in(d.path(), &["check", "m.build"]);
    let quiet = hvhost_in(d.path(), &["check", "-q", "m.build"]);
    assert_eq!(quiet.status.code(), loud.status.code());
    assert_eq!(text(&quiet.stdout), text(&loud.stdout));
    assert!(text(&loud.stderr).contains("error[H0103]"));
    let q = text(&quiet.stderr);
    assert!(!q.contains("H0103") && !q.contains("B0202"), "{q}");
    assert!(q.starts_with("1 error, 1 warning;"), "{q}");
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line() {
    for (shell, mark) in [
        ("bash", "complete -F _hvhost"),
        ("zsh", "#compdef hvhost"),
        ("fish", "complete -c hvhost"),
    ] {
        let o = hvhost(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        let s = text(&o.stdout);
        assert!(s.contains(mark), "{shell}");
        for sub in ["manifest", "check", "build", "dump", "explain", "run"] {
            assert!(s.contains(sub), "{shell} lacks {sub}");
        }
    }
    let o = hvhost(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = text(&o.stdout);
    assert!(page.contains(".TH hvhost 1"), "{page}");
    assert!(page.contains("\\-\\-color"), "{page}");
    let o = hvhost(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}
