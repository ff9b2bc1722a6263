//! The build's progress bar: on a terminal it moves from the start and
//! ends at 100% (sized from the real work, also for a compressed image);
//! into a pipe, or under `-q`, there is none.

#![allow(unsafe_code, reason = "a pseudo-terminal for the build's stderr")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

/// A buildfile whose image takes a while to write: 8 MiB compressed.
fn slow_build(dir: &Path) {
    std::fs::write(dir.join("big.txt"), testkit::data::text(8 << 20, 3)).unwrap();
    std::fs::write(
        dir.join("big.build"),
        "[compress=2]\n[+compress]\n/data/big = ./big.txt\n/etc/motd = {\nhi\n}\n",
    )
    .unwrap();
}

/// A pseudo-terminal: (controller, terminal end).
fn pty() -> (File, OwnedFd) {
    let (mut controller, mut terminal) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the locals; the name,
    // termios and window size arguments may be null.
    let r = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    unsafe {
        (
            File::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Runs `hvhost ARGS` in `dir` with stderr on a terminal; returns the
/// exit status and what the terminal showed.
fn on_terminal(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (mut controller, terminal) = pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hvhost"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(terminal)
        .spawn()
        .unwrap();
    let mut shown = Vec::new();
    // Reading ends with EIO once the child has closed the terminal.
    let _ = controller.read_to_end(&mut shown);
    let status = child.wait().unwrap();
    (status.code(), String::from_utf8_lossy(&shown).into_owned())
}

/// The percentages drawn, in order.
fn percentages(shown: &str) -> Vec<u32> {
    shown
        .split('\r')
        .filter_map(|frame| {
            let end = frame.find('%')?;
            frame[..end].rsplit(' ').next()?.trim().parse().ok()
        })
        .collect()
}

#[test]
fn on_a_terminal_the_bar_moves_and_ends_at_100() {
    let d = tempfile::tempdir().unwrap();
    slow_build(d.path());
    let (code, shown) = on_terminal(d.path(), &["build", "-nn", "big.build", "big.ifs"]);
    assert_eq!(code, Some(0), "{shown}");
    let p = percentages(&shown);
    assert!(p.len() >= 2, "at least one frame and the last: {shown:?}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "never goes back: {p:?}");
    assert!(p.iter().all(|&x| x <= 100), "never past 100: {p:?}");
    assert_eq!(p.last(), Some(&100), "{shown:?}");
    assert!(p[0] < 100, "the first frame is drawn while it works: {p:?}");
    // The image is complete and reads back.
    let o = hvhost_in(d.path(), &["dump", "big.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("data/big"));
}

#[test]
fn into_a_pipe_or_under_q_there_is_no_bar() {
    let d = tempfile::tempdir().unwrap();
    slow_build(d.path());
    let o = hvhost_in(d.path(), &["build", "-nn", "big.build", "big.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains('%'), "{}", text(&o.stderr));
    let (code, shown) = on_terminal(d.path(), &["-q", "build", "-nn", "big.build", "big.ifs"]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(percentages(&shown).is_empty(), "{shown:?}");
}
