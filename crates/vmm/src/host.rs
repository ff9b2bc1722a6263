//! Running a whole host: the VMs its boot script starts, each as its own
//! process (as qvm is one process per VM), in script order.
//!
//! The steps come from the boot script: [`Step::Start`] for a `qvm` command
//! (`&` runs it in the background, otherwise the script waits for it to end
//! before going on, as the boot script does), [`Step::Wait`] for a `waitfor`
//! whose path can be watched on this machine. Each VM's output is copied to
//! ours line by line, prefixed with `[NAME] `. Ctrl-C (SIGINT) and SIGTERM
//! press every running VM's power button (SIGINT to each process, which the
//! VMM takes as the power button), SIGQUIT cuts every VM's power (SIGQUIT to
//! each); after either no further VM is started. The run ends when every
//! started VM has ended.
//!
//! Nothing is polled: the signals are [`crate::signals`]' (its handlers
//! write to its wake eventfd), and a waiter thread per VM blocks in
//! `waitid(WNOWAIT)` until its process ends, then writes to the run's own
//! exit eventfd. The main thread sleeps in one event loop on both and reaps
//! (and signals) the processes itself, so a pid is never signalled after it
//! was reaped. Only a `waitfor` re-checks its path, every
//! [`WAITFOR_CHECK`], while it waits.
//!
//! Script modifiers with a Linux equivalent are applied to the VM's process:
//! `cpu=N` pins it to CPU N (`sched_setaffinity`); `pri=N` below QNX's
//! default 10 lowers it with `nice` (10 − N, at most 19; raising needs
//! privileges, so higher priorities and the `f`/`r` policies are not
//! applied); `sched_aps` partitions have no unprivileged equivalent and are
//! not applied.
//!
//! This lives in `vmm` because it runs VMs and speaks qvm's exit codes;
//! what to run (reading the script and the configurations) is the caller's.

#![allow(
    unsafe_code,
    reason = "pre_exec for priority and affinity, kill(2) for the power button"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vdev::event::{EventLoop, Flow};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::signals;

/// One VM process to start.
#[derive(Debug, Clone)]
pub struct VmProcess {
    /// The VM's name (its `system`): the prefix of its output lines.
    pub name: String,
    /// The program (a qvm-like command that runs one VM).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory (`None`: ours).
    pub cwd: Option<PathBuf>,
    /// The script's `&`: go on without waiting for it to end.
    pub background: bool,
    /// `cpu=N`: the CPU the process is pinned to.
    pub cpu: Option<u8>,
    /// The nice value `pri=` maps to (see [`nice_of`]).
    pub nice: Option<i32>,
}

/// A step of the boot script that matters here.
#[derive(Debug, Clone)]
pub enum Step {
    /// Start a VM.
    Start(VmProcess),
    /// `waitfor PATH TIMEOUT`: wait until `path` exists, at most `timeout`.
    Wait {
        /// The path on this machine.
        path: PathBuf,
        /// How long to wait before going on anyway.
        timeout: Duration,
    },
}

/// How a VM's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code (qvm's codes: 0 shut down, 3 power cut, 64, 65, ...).
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// It could not be started.
    NotStarted(String),
}

impl Status {
    /// The exit code that stands for this status: the code, 128 + the
    /// signal, or qvm's 64 (fatal error before the guest started).
    pub fn code(&self) -> i32 {
        match self {
            Status::Exited(c) => *c,
            Status::Signalled(s) => 128 + s,
            Status::NotStarted(_) => i32::from(crate::ExitCode::BeforeStart.code()),
        }
    }

    /// What the status means, in qvm's terms.
    pub fn describe(&self) -> String {
        match self {
            Status::Exited(c) => {
                let what = match c {
                    0 => "the guest shut down",
                    3 => "power cut",
                    5 => "the guest did something the VM cannot emulate",
                    6 => "a vdev failed",
                    7 => "unexpected error",
                    64 => "fatal error before the guest started",
                    65 => "fatal configuration error",
                    96 => "fatal error after the guest started",
                    _ => "not a qvm exit code",
                };
                format!("exit code {c} ({what})")
            }
            Status::Signalled(s) => format!("killed by signal {s}"),
            Status::NotStarted(why) => format!("not started: {why}"),
        }
    }

    fn of(s: ExitStatus) -> Status {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(c), _) => Status::Exited(c),
            (None, Some(sig)) => Status::Signalled(sig),
            (None, None) => Status::Exited(-1),
        }
    }
}

/// A VM that was started (or tried to be) and how it ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Its name.
    pub name: String,
    /// How it ended.
    pub status: Status,
}

/// The nice value for a QNX priority: 10 − `pri` when below the default 10
/// (at most 19), none otherwise (raising a priority needs privileges).
pub fn nice_of(pri: u8) -> Option<i32> {
    (pri < 10).then(|| (10 - i32::from(pri)).min(19))
}

/// How often a `waitfor` looks for its path while it waits (a VM's end
/// and a signal wake the run at once).
pub const WAITFOR_CHECK: Duration = Duration::from_millis(20);

/// A started VM.
struct Running {
    name: String,
    child: Option<Child>,
    status: Option<Status>,
    /// The output copiers and the waiter.
    threads: Vec<JoinHandle<()>>,
}

/// Blocks until process `pid` has ended, without reaping it (the main
/// thread does, so that it never signals a pid that could be reused), then
/// wakes the main thread through `exits`.
fn waiter(pid: u32, exits: Arc<EventFd>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        loop {
            // SAFETY: an all-zero siginfo_t is a valid value of the plain C
            // struct that waitid fills in.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waitid(2) on our own child with a valid siginfo_t out
            // pointer; WNOWAIT leaves the child to be reaped by `try_wait`.
            let r =
                unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        let _ = exits.write(1);
    })
}

/// Copies `from` to our stdout (or stderr) a line at a time, prefixed.
fn copier(from: impl Read + Send + 'static, prefix: String, err: bool) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(from);
        let mut line = Vec::new();
        while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            let mut buf = prefix.clone().into_bytes();
            buf.extend_from_slice(&line);
            let _ = if err {
                std::io::stderr().lock().write_all(&buf)
            } else {
                std::io::stdout().lock().write_all(&buf)
            };
            line.clear();
        }
    })
}

fn spawn(p: &VmProcess, exits: &Arc<EventFd>) -> Running {
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C reaches it once, from us.
        .process_group(0);
    if let Some(d) = &p.cwd {
        cmd.current_dir(d);
    }
    let (cpu, nice) = (p.cpu, p.nice);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls async-signal-safe functions (setpriority, sched_setaffinity) on
    // a stack-local cpu_set_t; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(n) = nice {
                libc::setpriority(libc::PRIO_PROCESS, 0, n);
            }
            if let Some(c) = cpu {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(usize::from(c), &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
            Ok(())
        })
    };
    let prefix = format!("[{}] ", p.name);
    match cmd.spawn() {
        Ok(mut child) => {
            let mut threads = vec![waiter(child.id(), exits.clone())];
            if let Some(o) = child.stdout.take() {
                threads.push(copier(o, prefix.clone(), false));
            }
            if let Some(e) = child.stderr.take() {
                threads.push(copier(e, prefix, true));
            }
            Running {
                name: p.name.clone(),
                child: Some(child),
                status: None,
                threads,
            }
        }
        Err(e) => Running {
            name: p.name.clone(),
            child: None,
            status: Some(Status::NotStarted(format!(
                "{}: {}",
                p.program.display(),
                diag::io::reason(&e)
            ))),
            threads: Vec::new(),
        },
    }
}

/// The VMs, and what wakes the main thread: their ends and the signals.
struct Fleet {
    vms: Vec<Running>,
    exits: Arc<EventFd>,
    events: EventLoop,
    /// A power-button press or a power cut arrived: start no more VMs.
    stopping: bool,
    /// The power cut was passed on.
    cut: bool,
}

impl Fleet {
    fn new() -> std::io::Result<Fleet> {
        let exits = Arc::new(EventFd::new(EFD_NONBLOCK)?);
        let mut events = EventLoop::new()?;
        let e = exits.clone();
        events.add(&*exits, move |_| {
            let _ = e.read();
            Flow::Continue
        })?;
        signals::watch(&mut events)?;
        Ok(Fleet {
            vms: Vec::new(),
            exits,
            events,
            stopping: false,
            cut: false,
        })
    }

    /// Sleeps until a VM ends or a signal arrives (or `until`), then
    /// [`Fleet::update`]s.
    fn wait(&mut self, until: Option<Instant>) {
        let timeout = until.map(|u| u.saturating_duration_since(Instant::now()));
        if self.events.poll(timeout).is_err() {
            // Not expected (epoll_wait failed): do not spin.
            std::thread::sleep(WAITFOR_CHECK);
        }
        self.update();
    }

    /// Reaps ended VMs and passes signals on (SIGINT for a power-button
    /// press, SIGQUIT once for a power cut); true while any VM runs.
    fn update(&mut self) -> bool {
        let press = signals::take_power_button();
        let cut = signals::power_cut() && !self.cut;
        self.cut |= cut;
        self.stopping |= press || cut;
        let mut any = false;
        for r in &mut self.vms {
            let Some(c) = r.child.as_mut().filter(|_| r.status.is_none()) else {
                continue;
            };
            match c.try_wait() {
                Ok(Some(s)) => r.status = Some(Status::of(s)),
                Ok(None) => {
                    any = true;
                    for (sig, now) in [(libc::SIGINT, press), (libc::SIGQUIT, cut)] {
                        if now {
                            let pid = c.id() as libc::pid_t;
                            // SAFETY: kill(2) on a child we have not reaped
                            // yet (so its pid is not reused); no memory is
                            // involved.
                            unsafe { libc::kill(pid, sig) };
                        }
                    }
                }
                Err(e) => r.status = Some(Status::NotStarted(diag::io::reason(&e))),
            }
        }
        any
    }

    /// Whether the VM `i` still runs.
    fn runs(&self, i: usize) -> bool {
        self.vms[i].status.is_none()
    }
}

/// Runs the steps in order and returns, in start order, how each VM ended
/// (once all have ended). `Err`: the signal handlers or the event loop
/// could not be set up.
pub fn run(steps: &[Step]) -> Result<Vec<Ended>, String> {
    signals::install(true)?;
    let mut fleet = Fleet::new().map_err(|e| format!("event loop: {e}"))?;
    for step in steps {
        fleet.update();
        if fleet.stopping {
            break;
        }
        match step {
            Step::Start(p) => {
                let vm = spawn(p, &fleet.exits);
                fleet.vms.push(vm);
                let i = fleet.vms.len() - 1;
                while !p.background && fleet.runs(i) {
                    fleet.wait(None);
                }
            }
            Step::Wait { path, timeout } => {
                let until = Instant::now() + *timeout;
                while !path.exists() && Instant::now() < until && !fleet.stopping {
                    fleet.wait(Some(until.min(Instant::now() + WAITFOR_CHECK)));
                }
            }
        }
    }
    while fleet.update() {
        fleet.wait(None);
    }
    Ok(fleet
        .vms
        .into_iter()
        .map(|r| {
            for t in r.threads {
                let _ = t.join();
            }
            Ended {
                name: r.name,
                status: r.status.unwrap_or(Status::Exited(-1)),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(name: &str, script: &str, background: bool) -> Step {
        Step::Start(VmProcess {
            name: name.into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: None,
            background,
            cpu: None,
            nice: None,
        })
    }

    #[test]
    fn every_process_runs_and_its_status_is_kept_in_start_order() {
        let d = tempfile::tempdir().unwrap();
        let flag = d.path().join("ready");
        let steps = [
            // In the background: it makes the path the script waits for.
            sh(
                "a",
                &format!("sleep 0.2; touch {}; exit 0", flag.display()),
                true,
            ),
            Step::Wait {
                path: flag.clone(),
                timeout: Duration::from_secs(5),
            },
            // Not in the background: the script waits for it to end.
            sh(
                "b",
                &format!("test -e {} || exit 9; exit 65", flag.display()),
                false,
            ),
            sh("c", "kill -TERM $$", true),
        ];
        let ended = run(&steps).unwrap();
        let got: Vec<(&str, Status)> = ended
            .iter()
            .map(|e| (e.name.as_str(), e.status.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Status::Exited(0)),
                ("b", Status::Exited(65)),
                ("c", Status::Signalled(libc::SIGTERM)),
            ]
        );
        assert_eq!(ended[2].status.code(), 128 + libc::SIGTERM);
    }

    /// The run wakes when a VM ends instead of polling: 50 VMs run one
    /// after the other (each waited for) in less time than one 20 ms poll
    /// per VM would take.
    #[test]
    fn each_end_wakes_the_run_at_once() {
        let steps: Vec<Step> = (0..50)
            .map(|i| sh(&format!("v{i}"), "exit 0", false))
            .collect();
        let t = Instant::now();
        let ended = run(&steps).unwrap();
        let took = t.elapsed();
        assert_eq!(ended.len(), 50);
        assert!(ended.iter().all(|e| e.status == Status::Exited(0)));
        assert!(took < Duration::from_millis(50 * 20), "{took:?}");
    }

    #[test]
    fn a_program_that_cannot_start_is_reported_and_the_rest_run() {
        let missing = Step::Start(VmProcess {
            name: "gone".into(),
            program: "/nonexistent/qvm".into(),
            args: Vec::new(),
            cwd: None,
            background: true,
            cpu: None,
            nice: Some(5),
        });
        let ended = run(&[missing, sh("ok", "exit 0", true)]).unwrap();
        assert!(
            matches!(&ended[0].status, Status::NotStarted(w) if w.contains("/nonexistent/qvm"))
        );
        assert_eq!(ended[0].status.code(), 64);
        assert_eq!(ended[1].status, Status::Exited(0));
    }

    #[test]
    fn priorities_map_to_nice_values() {
        assert_eq!(nice_of(10), None);
        assert_eq!(nice_of(21), None);
        assert_eq!(nice_of(9), Some(1));
        assert_eq!(nice_of(0), Some(10));
    }
}
