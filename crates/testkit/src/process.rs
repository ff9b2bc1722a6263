//! A program run by a test with its output piped: standard output is read
//! line by line as it comes (a guest's UART: wait for a line, then act),
//! standard error is collected (the VMM's log; reading it keeps a full pipe
//! from blocking the program), and the run ends within a time limit.

#![allow(
    unsafe_code,
    reason = "signals to a child's process group (libc::kill)"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a finished program ended and what it wrote.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status (-1 when a signal ended it).
    pub code: i32,
    /// Its standard output.
    pub out: String,
    /// Its standard error.
    pub err: String,
}

/// A running program.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    out: JoinHandle<String>,
    err: JoinHandle<String>,
}

fn collect(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

impl Running {
    /// Start `cmd` with standard output and error piped; standard input is
    /// a pipe ([`Running::write`]) when `stdin` is true, else `/dev/null`.
    pub fn start(cmd: &mut Command, stdin: bool) -> Running {
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Running::follow(child)
    }

    /// Follow a program already started with its standard output and
    /// error piped.
    pub fn follow(mut child: Child) -> Running {
        let stdout = child.stdout.take().expect("piped stdout");
        let err = collect(child.stderr.take().expect("piped stderr"));
        let (tx, lines) = channel();
        let out = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Running {
            stdin: child.stdin.take(),
            child,
            lines,
            out,
            err,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait (at most `limit`) for a line of standard output containing
    /// `what` and return it; earlier lines are passed over (they stay in
    /// [`Finished::out`]). Panics, with what the program wrote, on time-out.
    pub fn wait_for(&mut self, what: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    let f = self.end();
                    panic!(
                        "no `{what}` within {limit:?}\n--- stdout\n{}\n--- stderr\n{}",
                        f.out, f.err
                    );
                }
            }
        }
    }

    /// Write `data` to its standard input (started with `stdin` true).
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("started with a stdin pipe");
        stdin.write_all(data).expect("write to standard input");
        stdin.flush().expect("flush standard input");
    }

    /// Close its standard input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Send it `signal`.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("a pid fits i32");
        // SAFETY: kill(2) on our own child, which has not been waited for
        // (so the pid is still its own).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Wait for it to end, at most `limit` (then kill it and panic with what
    /// it wrote).
    pub fn finish(mut self, limit: Duration) -> Finished {
        self.stdin = None;
        let pid = self.child.id();
        let (tx, rx) = channel();
        let mut child = self.child;
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(());
            status
        });
        let timed_out = rx.recv_timeout(limit).is_err();
        if timed_out {
            // SAFETY: kill(2) on our own child, not reaped yet: the waiter
            // thread has not returned from wait().
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let status = waiter.join().expect("waiter thread").expect("wait");
        let out = self.out.join().unwrap_or_default();
        let err = self.err.join().unwrap_or_default();
        assert!(
            !timed_out,
            "the program did not end within {limit:?}\n--- stdout\n{out}\n--- stderr\n{err}"
        );
        Finished {
            code: status.code().unwrap_or(-1),
            out,
            err,
        }
    }

    /// After a kill: reap it and take what it wrote.
    fn end(&mut self) -> Finished {
        let status = self.child.wait().expect("wait");
        let take = |h: &mut JoinHandle<String>| {
            let h = std::mem::replace(h, std::thread::spawn(String::new));
            h.join().unwrap_or_default()
        };
        Finished {
            code: status.code().unwrap_or(-1),
            out: take(&mut self.out),
            err: take(&mut self.err),
        }
    }
}

/// Run `cmd` (standard input `/dev/null`) to its end, at most `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Finished {
    Running::start(cmd, false).finish(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn lines_are_followed_as_they_come_and_kept() {
        let mut r = Running::start(
            &mut sh("echo one; read x; echo \"got $x\"; echo log >&2"),
            true,
        );
        assert_eq!(r.wait_for("one", Duration::from_secs(10)), "one");
        r.write(b"two\n");
        assert_eq!(r.wait_for("got", Duration::from_secs(10)), "got two");
        let f = r.finish(Duration::from_secs(10));
        assert_eq!(
            (f.code, f.out.as_str(), f.err.as_str()),
            (0, "one\ngot two\n", "log\n")
        );
    }

    #[test]
    fn a_signal_ends_it_and_a_time_limit_is_kept() {
        let r = Running::start(&mut sh("echo up; exec sleep 30"), false);
        r.signal(libc::SIGTERM);
        let f = r.finish(Duration::from_secs(10));
        assert_eq!(f.code, -1, "ended by a signal");
        let start = Instant::now();
        let r =
            std::panic::catch_unwind(|| run(&mut sh("exec sleep 30"), Duration::from_millis(200)));
        assert!(r.is_err(), "a run over its limit fails");
        assert!(start.elapsed() < Duration::from_secs(10));
        let f = run(&mut sh("exit 7"), Duration::from_secs(10));
        assert_eq!(f.code, 7);
    }
}
