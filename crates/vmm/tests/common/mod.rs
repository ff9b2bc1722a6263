//! Running the probe guest in `vmm-run` for the KVM tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmm::spec::{Intr, Loc, LoggerSpec, Space, VdevSpec};
use vmm::{Load, LoadKind, MemKind, MemRegion, VmSpec};

/// False (with the reason printed) when this machine has no KVM.
pub fn kvm() -> bool {
    if Path::new("/dev/kvm").exists() {
        true
    } else {
        eprintln!("skipped: /dev/kvm is absent");
        false
    }
}

pub fn io(base: u64) -> Option<Loc> {
    Some(Loc {
        space: Space::Io,
        base,
        len: None,
    })
}

pub fn vdev(kind: &str) -> VdevSpec {
    let k = vdev::VdevKind::from_written(kind).unwrap_or_else(|| panic!("no vdev {kind}"));
    VdevSpec::new(k)
}

pub fn intr(c: &str, line: u32) -> Option<Intr> {
    Some(Intr::line(c, line))
}

/// A `hostdev` option as written (`>-`, `<FILE`, `-`).
pub fn hostdev(written: &str) -> vdev::OptionValue {
    let (direction, path) = match written.as_bytes().first() {
        Some(b'<') => (Some(vdev::Direction::Input), &written[1..]),
        Some(b'>') => (Some(vdev::Direction::Output), &written[1..]),
        _ => (None, written),
    };
    let h = vdev::HostDev {
        direction,
        path: path.into(),
    };
    vdev::OptionValue::new("hostdev", vdev::Value::HostDev(h))
}

/// The recommended x86 layout with 16 MiB above 1 MiB, the QNX example's
/// vdevs, and the probe ELF as an untyped load.
pub fn probe_spec(cmdline: &str) -> VmSpec {
    VmSpec {
        name: "probe".into(),
        memory: vec![
            MemRegion {
                kind: MemKind::Ram,
                start: 0,
                size: 0xa0000,
            },
            MemRegion {
                kind: MemKind::Reserve,
                start: 0xa0000,
                size: 0x20000,
            },
            MemRegion {
                kind: MemKind::Rom,
                start: 0xc0000,
                size: 0x40000,
            },
            MemRegion {
                kind: MemKind::Ram,
                start: 0x10_0000,
                size: 16 << 20,
            },
        ],
        loads: vec![Load {
            kind: LoadKind::Auto,
            addr: None,
            path: vmm::probe::ELF.into(),
        }],
        cmdline: Some(cmdline.into()),
        exit_on_halt: true,
        vdevs: vec![
            VdevSpec {
                loc: Some(Loc {
                    space: Space::Mem,
                    base: 0xfec0_0000,
                    len: None,
                }),
                name: Some("myioapic".into()),
                ..vdev("ioapic")
            },
            VdevSpec {
                loc: io(0x3f8),
                intr: intr("myioapic", 4),
                options: vec![hostdev(">-")],
                ..vdev("ser8250")
            },
            VdevSpec {
                intr: intr("myioapic", 2),
                ..vdev("timer8254")
            },
            vdev("mc146818"),
            vdev("pckeyboard"),
            vdev("progress"),
            VdevSpec {
                loc: io(0x20),
                ..vdev("8259")
            },
            VdevSpec {
                loc: io(0xa0),
                ..vdev("8259")
            },
        ],
        logger: LoggerSpec {
            filters: vec![
                vmm::spec::Level::Fatal,
                vmm::spec::Level::Error,
                vmm::spec::Level::Warn,
                vmm::spec::Level::Info,
            ],
            dest: vmm::spec::Dest::Stderr,
        },
        ..Default::default()
    }
}

/// A finished `vmm-run`.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// The probe's report for `check` (the text after `probe: check: `).
    pub fn report(&self, check: &str) -> Vec<String> {
        let prefix = format!("probe: {check}: ");
        self.out
            .lines()
            .filter_map(|l| {
                l.trim_end_matches('\r')
                    .strip_prefix(&prefix)
                    .map(str::to_string)
            })
            .collect()
    }

    /// Assert that `check` reported `ok` and return the rest of its line.
    pub fn ok(&self, check: &str) -> String {
        let r = self.report(check);
        let line = r.iter().find(|l| l.starts_with("ok")).unwrap_or_else(|| {
            panic!(
                "no `probe: {check}: ok` line\n--- stdout\n{}\n--- stderr\n{}",
                self.out, self.err
            )
        });
        line.trim_start_matches("ok").trim().to_string()
    }

    /// Asserts the `pit` check saw at least 10 timer interrupts through
    /// IOAPIC pin `pin`. The guest reports the count when it has seen ten;
    /// on a loaded host KVM may deliver one more before it reads it.
    pub fn pit_ok(&self, pin: u64) {
        let line = self.ok("pit");
        let (n, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let n: u32 = n.parse().unwrap_or(0);
        assert!(n >= 10, "pit: {line}");
        assert_eq!(rest, format!("irqs via ioapic pin {pin}"), "pit: {line}");
    }

    pub fn done(&self) {
        assert!(
            self.out.contains("probe: done"),
            "the probe did not finish\n--- stdout\n{}\n--- stderr\n{}",
            self.out,
            self.err
        );
    }
}

pub fn spawn(spec: &VmSpec, dir: &Path) -> Child {
    spawn_stdin(spec, dir, Stdio::null())
}

/// Like [`spawn`], with a pipe on the VMM's standard input.
pub fn spawn_with_stdin(spec: &VmSpec, dir: &Path) -> Child {
    spawn_stdin(spec, dir, Stdio::piped())
}

/// Writes `spec` as JSON in `dir` and starts `vmm-run` on it, its output piped.
fn spawn_stdin(spec: &VmSpec, dir: &Path, stdin: Stdio) -> Child {
    let path = dir.join("spec.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(spec).expect("spec serialises"),
    )
    .expect("write spec");
    Command::new(env!("CARGO_BIN_EXE_vmm-run"))
        .arg(&path)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmm-run")
}

pub fn finish(mut child: Child, limit: Duration) -> Run {
    let start = Instant::now();
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let out = out_t.join().unwrap_or_default();
            let err = err_t.join().unwrap_or_default();
            panic!("vmm-run did not end within {limit:?}\n--- stdout\n{out}\n--- stderr\n{err}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        out: out_t.join().unwrap_or_default(),
        err: err_t.join().unwrap_or_default(),
    }
}

/// Run `spec` to its end (60 s at most).
pub fn run(spec: &VmSpec) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn(spec, dir.path());
    finish(child, Duration::from_secs(60))
}
