//! One verdict for a dry run and a run (issue 14, item 4): `hvhost qvm ...
//! dryrun`, `hvhost run --dryrun` and the real runs (`hvhost qvm ...`,
//! `hvhost run`) reach the same exit code with the same diagnostics for the
//! same configuration, and every stage's errors (qvmconf, host files, what
//! the VMM cannot run) are reported in one pass.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;
use std::process::Output;

/// The probe VM with `edit` applied to its text: `(from, to)` replacements.
fn config(edit: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "system probe\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,15m\ncpu\n\
         load /vm/images/probe.elf\ncmdline \"hello off\"\n\
         vdev ioapic loc 0xfec00000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\nvdev mc146818\nvdev pckeyboard\n\
         vdev progress loc io:0xef0,16\nvdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n",
    );
    for (from, to) in edit {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    text
}

/// A directory holding `vm.qvmconf`, the same file as a host's VM
/// (`host.build`, the configuration a host file), and the probe guest at
/// `/vm/images/probe.elf` both in that host's image and under `root/`
/// (for `qvm --root root`).
fn setup(dir: &Path, conf: &str) {
    std::fs::write(dir.join("vm.qvmconf"), conf).unwrap();
    std::fs::create_dir_all(dir.join("root/vm/images")).unwrap();
    std::fs::copy(vmm::probe::ELF, dir.join("root/vm/images/probe.elf")).unwrap();
    let build = format!(
        "[+script] .script = {{\n    qvm @/vm/config/vm.qvmconf\n}}\n\
         /vm/config/vm.qvmconf = vm.qvmconf\n/vm/images/probe.elf = {}\n",
        vmm::probe::ELF
    );
    std::fs::write(dir.join("host.build"), build).unwrap();
}

/// The four paths: `qvm` dry run and run, `run` dry run and run (the
/// host's files looked up in `dir`, as mkifs does with `MKIFS_PATH`; the
/// host is not a complete hypervisor host: `--no-check`).
fn paths(dir: &Path) -> [Output; 4] {
    let qvm = ["qvm", "--root", "root", "@vm.qvmconf"];
    let run = ["run", "--no-check", "host.build"];
    let env = [("MKIFS_PATH", dir.to_str().unwrap())];
    [
        hvhost_in(dir, &[&qvm[..], &["dryrun"]].concat()),
        hvhost_in(dir, &qvm),
        hvhost_env(dir, &[&run[..], &["--dryrun"]].concat(), &env),
        hvhost_env(dir, &run, &env),
    ]
}

/// The codes of the diagnostics in `stderr`, in order.
fn codes(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let (sev, rest) = l.split_once('[')?;
            (sev == "error" || sev == "warning").then(|| rest[..5].to_string())
        })
        .collect()
}

/// Runs the four paths on a configuration that a preflight stops: the same
/// exit code everywhere, the dry run's diagnostics byte for byte the run's,
/// no guest output (the dry runs print the plan of a configuration without
/// a qvmconf error, both or neither); returns the `qvm` and `run`
/// diagnostics.
fn stopped(conf: &str, exit: i32) -> (String, String) {
    let d = tempfile::tempdir().unwrap();
    setup(d.path(), conf);
    let [qd, q, rd, r] = paths(d.path());
    for (what, o) in [
        ("qvm dryrun", &qd),
        ("qvm", &q),
        ("run --dryrun", &rd),
        ("run", &r),
    ] {
        assert_eq!(o.status.code(), Some(exit), "{what}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        let plan = what.ends_with("dryrun") && out.starts_with("VM probe:");
        assert!(out.is_empty() || plan, "{what}: {out}");
    }
    assert_eq!(
        qd.stdout.is_empty(),
        rd.stdout.is_empty(),
        "a plan from both or neither"
    );
    assert!(q.stdout.is_empty() && r.stdout.is_empty(), "nothing ran");
    assert_eq!(text(&qd.stderr), text(&q.stderr), "qvm: dry run and run");
    assert_eq!(text(&rd.stderr), text(&r.stderr), "run: dry run and run");
    // `run` names the configuration by the host file mkifs found.
    let found = format!("{}/vm.qvmconf", d.path().display());
    (
        text(&q.stderr),
        text(&r.stderr).replace(&found, "vm.qvmconf"),
    )
}

#[test]
fn a_clean_configuration_plans_and_runs_with_no_diagnostic() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path(), &config(&[]));
    let [qd, q, rd, r] = paths(d.path());
    for (what, o) in [("qvm dryrun", &qd), ("run --dryrun", &rd)] {
        assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{what}");
        assert!(text(&o.stdout).starts_with("VM probe: x86_64"), "{what}");
    }
    if !kvm() {
        return;
    }
    for (what, o) in [("qvm", &q), ("run", &r)] {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{what}: {err}");
        assert!(text(&o.stdout).contains("probe: hello: ok"), "{what}");
        // Only the VMM's log: no diagnostic.
        assert!(
            err.lines().all(|l| l.starts_with("vmm[probe]")),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_vdev_this_vmm_does_not_run_stops_every_path_with_65() {
    let conf = config(&[("vdev mc146818\n", "vdev mc146818\nvdev vgpu-gvtg\n")]);
    let (q, r) = stopped(&conf, 65);
    assert_eq!(codes(&q), ["V0101"], "{q}");
    assert!(q.contains("vm.qvmconf:12:1"), "{q}");
    // The same configuration file, the same message.
    assert_eq!(q, r);
}

#[test]
fn a_missing_kernel_stops_every_path_with_64_at_its_load() {
    let conf = config(&[("images/probe.elf", "images/missing.elf")]);
    let (q, r) = stopped(&conf, 64);
    // qvm looks under --root, run in the host's image: at the same `load`.
    assert_eq!(codes(&q), ["Q0211"], "{q}");
    assert_eq!(codes(&r), ["R0103"], "{r}");
    assert!(q.contains("vm.qvmconf:6:6"), "{q}");
    assert!(r.contains("vm.qvmconf:6:6"), "{r}");
}

#[test]
fn a_missing_hostdev_stops_every_path_with_64() {
    let conf = config(&[(
        "vdev timer8254",
        "vdev ser8250 loc 0x2f8 intr myioapic:3 hostdev no-such-tty\nvdev timer8254",
    )]);
    let (q, r) = stopped(&conf, 64);
    assert_eq!(codes(&q), ["Q0211"], "{q}");
    assert!(q.contains("vm.qvmconf:10:48"), "{q}");
    assert_eq!(q, r);
}

#[test]
fn every_stage_reports_in_one_pass() {
    let conf = config(&[
        ("cpu\n", "cpu sched often\n"),
        ("vdev mc146818\n", "vdev mc146818\nvdev vgpu-gvtg\n"),
        ("images/probe.elf", "images/missing.elf"),
    ]);
    // A configuration error wins over a missing file: 65.
    let (q, r) = stopped(&conf, 65);
    assert_eq!(codes(&q), ["Q0104", "Q0211", "V0101"], "{q}");
    assert_eq!(codes(&r), ["Q0104", "R0103", "V0101"], "{r}");
    assert!(q.contains("3 errors"), "{q}");
    assert!(r.contains("3 errors"), "{r}");
}

/// A line qvmconf refuses is not reported again by the VMM as missing: a
/// bad low `ram` is one error, not also "no RAM for the boot structures".
#[test]
fn a_refused_line_is_not_also_missing() {
    let conf = config(&[("ram 0,0xa0000", "ram 0,0xa000q")]);
    let (q, r) = stopped(&conf, 65);
    assert_eq!(codes(&q), ["Q0104"], "{q}");
    assert_eq!(q, r);
    // Without the qvmconf error the VMM's rule is reported.
    let conf = config(&[("ram 0,0xa0000\n", "")]);
    let (q, _) = stopped(&conf, 65);
    assert_eq!(codes(&q), ["V0111"], "{q}");
}
