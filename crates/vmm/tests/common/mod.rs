//! Running the probe guest in `vmm-run` for the KVM tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) use testkit::kvm;
use testkit::process::{Finished, Running};

use vmm::spec::{Intr, Loc, LoggerSpec, Space, VdevSpec};
use vmm::{ImageFormat, Load, MemKind, MemRegion, VmSpec};

pub(crate) fn io(base: u64) -> Option<Loc> {
    Some(Loc {
        space: Space::Io,
        base,
        len: None,
    })
}

pub(crate) fn vdev(kind: &str) -> VdevSpec {
    let k = vdev::VdevKind::from_written(kind).unwrap_or_else(|| panic!("no vdev {kind}"));
    VdevSpec::new(k)
}

pub(crate) fn intr(c: &str, line: u32) -> Option<Intr> {
    Some(Intr::line(c, line))
}

/// A `hostdev` option as written (`>-`, `<FILE`, `-`).
pub(crate) fn hostdev(written: &str) -> vdev::OptionValue {
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
pub(crate) fn probe_spec(cmdline: &str) -> VmSpec {
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
        loads: vec![Load::image(ImageFormat::Auto, None, vmm::probe::ELF)],
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
pub(crate) struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl From<Finished> for Run {
    fn from(f: Finished) -> Run {
        Run {
            code: f.code,
            out: f.out,
            err: f.err,
        }
    }
}

impl Run {
    /// The probe's report for `check` (the text after `probe: check: `).
    pub(crate) fn report(&self, check: &str) -> Vec<String> {
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
    pub(crate) fn ok(&self, check: &str) -> String {
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
    pub(crate) fn pit_ok(&self, pin: u64) {
        let line = self.ok("pit");
        let (n, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let n: u32 = n.parse().unwrap_or(0);
        assert!(n >= 10, "pit: {line}");
        assert_eq!(rest, format!("irqs via ioapic pin {pin}"), "pit: {line}");
    }

    pub(crate) fn done(&self) {
        assert!(
            self.out.contains("probe: done"),
            "the probe did not finish\n--- stdout\n{}\n--- stderr\n{}",
            self.out,
            self.err
        );
    }
}

/// Writes `spec` as JSON in `dir`: the command that runs `vmm-run` on it.
pub(crate) fn command(spec: &VmSpec, dir: &Path) -> Command {
    let path = dir.join("spec.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(spec).expect("spec serialises"),
    )
    .expect("write spec");
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmm-run"));
    c.arg(&path);
    c
}

/// Starts `vmm-run` on `spec` (its files in `dir`), following the guest's
/// UART on its standard output; `stdin` pipes its standard input.
pub(crate) fn start(spec: &VmSpec, dir: &Path, stdin: bool) -> Running {
    Running::start(&mut command(spec, dir), stdin)
}

pub(crate) fn spawn(spec: &VmSpec, dir: &Path) -> Child {
    spawn_stdin(spec, dir, Stdio::null())
}

/// Like [`spawn`], with a pipe on the VMM's standard input.
pub(crate) fn spawn_with_stdin(spec: &VmSpec, dir: &Path) -> Child {
    spawn_stdin(spec, dir, Stdio::piped())
}

fn spawn_stdin(spec: &VmSpec, dir: &Path, stdin: Stdio) -> Child {
    command(spec, dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmm-run")
}

/// Waits for a `vmm-run` started by [`spawn`] (at most `limit`).
pub(crate) fn finish(child: Child, limit: Duration) -> Run {
    Running::follow(child).finish(limit).into()
}

/// Run `spec` to its end (60 s at most).
pub(crate) fn run(spec: &VmSpec) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    start(spec, dir.path(), false)
        .finish(Duration::from_secs(60))
        .into()
}

/// The VmSpec of a qvmconf text read by the qvmconf crate (paths relative
/// to `dir`); panics on a qvmconf error.
pub(crate) fn spec_from_qvmconf(text: &str, dir: &Path) -> VmSpec {
    let mut map = diag::SourceMap::new();
    let opts = qvmconf::Options {
        cwd: dir.to_path_buf(),
        ..Default::default()
    };
    let (vm, diags) =
        qvmconf::load_source(&mut map, "probe.qvmconf", text.as_bytes().to_vec(), &opts);
    let vm = vm.unwrap_or_else(|| panic!("qvmconf errors: {diags:?}"));
    vmm::spec_from_config(&vm, dir).expect("convertible")
}

/// A virtio vdev on virtio-mmio at `base`, interrupting on IOAPIC pin `pin`.
pub(crate) fn virtio(kind: &str, base: u64, pin: u32, options: Vec<vdev::OptionValue>) -> VdevSpec {
    VdevSpec {
        loc: Some(Loc {
            space: Space::Mem,
            base,
            len: None,
        }),
        intr: intr("myioapic", pin),
        options,
        ..vdev(kind)
    }
}

/// A disk of `sectors` sectors with a recognisable sector 0.
pub(crate) fn disk(dir: &std::path::Path, sectors: usize) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("disk.img");
    let data: Vec<u8> = (0..sectors * 512).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &data).expect("write the disk");
    (path, data)
}
