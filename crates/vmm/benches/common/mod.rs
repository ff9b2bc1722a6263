//! Helpers shared by the VMM's bench binaries (`vmm.rs`, `virtio.rs`).
#![allow(dead_code, reason = "each bench uses a part")]

use std::time::Duration;
use vmm::spec::{Dest, Level, Loc, LoggerSpec, Space, VdevSpec};
use vmm::{ImageFormat, Load, MemKind, MemRegion, VmSpec};

/// The bench VM: one 32 MiB RAM region, the probe ELF, a UART on stdout
/// and the legacy vdevs; `debug` logs the guest memory's host addresses.
pub(crate) fn spec(cmdline: &str, debug: bool) -> VmSpec {
    use vdev::VdevKind as K;
    let vdev = VdevSpec::new;
    VmSpec {
        name: "bench".into(),
        // one RAM region, one KVM memory slot (like microvm's `-m 32`)
        memory: vec![MemRegion {
            kind: MemKind::Ram,
            start: 0,
            size: 32 << 20,
        }],
        loads: vec![Load::image(ImageFormat::Auto, None, vmm::probe::ELF)],
        cmdline: Some(cmdline.into()),
        exit_on_halt: true,
        vdevs: vec![
            VdevSpec {
                loc: Some(Loc {
                    space: Space::Io,
                    base: 0x3f8,
                    len: None,
                }),
                options: vec![vdev::OptionValue::new(
                    "hostdev",
                    vdev::Value::HostDev(vdev::HostDev {
                        direction: Some(vdev::Direction::Output),
                        path: "-".into(),
                    }),
                )],
                ..vdev(K::Ser8250)
            },
            vdev(K::Progress),
            vdev(K::Mc146818),
            vdev(K::Pckeyboard),
        ],
        logger: LoggerSpec {
            filters: if debug {
                vec![Level::Info, Level::Debug]
            } else {
                vec![Level::Info]
            },
            dest: Dest::Stdout,
        },
        ..Default::default()
    }
}

pub(crate) fn write_spec(spec: &VmSpec, dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join(format!(
        "{}.json",
        spec.cmdline
            .as_deref()
            .unwrap_or("x")
            .replace([' ', '='], "_")
    ));
    std::fs::write(&p, serde_json::to_vec(spec).expect("serialise")).expect("write spec");
    p
}

/// The median (sorts `v`).
pub(crate) fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `name` on the PATH.
pub(crate) fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).exists())
}

/// The guest RAM range (host start, end) of a VMM debug line
/// `... guest memory START+LEN at host HOST`.
pub(crate) fn guest_range(line: &str) -> Option<(u64, u64)> {
    let rest = line.split("guest memory ").nth(1)?;
    let mut it = rest.split_whitespace();
    let len = it
        .next()
        .and_then(|s| s.split('+').nth(1))
        .and_then(|s| u64::from_str_radix(s.get(2..)?, 16).ok())?;
    let host = it
        .nth(2)
        .and_then(|s| u64::from_str_radix(s.get(2..)?, 16).ok())?;
    Some((host, host + len))
}

/// (total Rss from smaps_rollup, resident pages inside the `guest` host
/// ranges from pagemap) in KiB. (Guest mappings may be merged with their
/// neighbours into one VMA, so smaps cannot tell them apart.)
pub(crate) fn rss_split(pid: u32, guest: &[(u64, u64)]) -> (u64, u64) {
    use std::io::{Read as _, Seek, SeekFrom};
    let rollup =
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    let total = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Rss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let mut pagemap = std::fs::File::open(format!("/proc/{pid}/pagemap")).expect("pagemap");
    let mut pages = 0u64;
    for &(s, e) in guest {
        let n = ((e - s) / 4096) as usize;
        let mut buf = vec![0u8; n * 8];
        pagemap
            .seek(SeekFrom::Start(s / 4096 * 8))
            .expect("seek pagemap");
        pagemap.read_exact(&mut buf).expect("read pagemap");
        pages += buf.chunks(8).filter(|c| c[7] & 0x80 != 0).count() as u64;
    }
    (total, pages * 4)
}

/// Spawn `cmd` (stdin and stderr null): the child and its stdout lines,
/// each with the time it was read.
pub(crate) fn spawn_lines(
    cmd: &mut std::process::Command,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<(std::time::Instant, String)>,
) {
    use std::io::BufRead as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((std::time::Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Start `cmd`, collect its stdout lines until the probe spins (or 120 s),
/// then call `measure` on the running process and kill it.
pub(crate) fn follow<T>(
    mut cmd: std::process::Command,
    measure: impl FnOnce(u32, &[String]) -> T,
) -> (Vec<String>, T) {
    let (mut child, rx) = spawn_lines(&mut cmd);
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
        let line = line.1.trim_end_matches('\r').to_string();
        let end = line.contains("spin: spinning");
        lines.push(line);
        if end {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let got = measure(child.id(), &lines);
    let _ = child.kill();
    let _ = child.wait();
    (lines, got)
}
