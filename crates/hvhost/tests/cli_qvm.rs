//! `hvhost qvm`, run as a user runs it: dry-run plans of the example host's
//! VMs and of corpus files (golden, byte for byte; `HVHOST_BLESS=1`
//! regenerates them), qvm's exit codes, host files.

mod common;

use common::*;

/// A dry run of a configuration qvmconf accepts: its only errors are what
/// hvhost's VMM cannot run (V codes, the same verdict as a run: exit 65),
/// or none (exit 0); the plan is printed either way.
fn planned_with_vmm_verdict(o: &std::process::Output, what: &str) {
    let err = text(&o.stderr);
    // The error codes, from text or JSON diagnostics.
    let errors: Vec<String> = err
        .lines()
        .filter_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v["severity"] == "error" => v["code"].as_str().map(str::to_string),
            Ok(_) => None,
            Err(_) => l.strip_prefix("error[").map(|c| c[..5].to_string()),
        })
        .collect();
    assert!(errors.iter().all(|c| c.starts_with('V')), "{what}: {err}");
    let want = if errors.is_empty() { 0 } else { 65 };
    assert_eq!(o.status.code(), Some(want), "{what}: {err}");
    assert!(!o.stdout.is_empty(), "{what}: the plan");
}

#[test]
fn probe_vm_plan() {
    let o = hvhost(&[
        "qvm",
        "--no-host-files",
        "@examples/x86_64-host/vm/probe.qvmconf",
        "dryrun",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    golden("qvm-probe.txt", &text(&o.stdout));
}

#[test]
fn linux_vm_plan_text_and_json() {
    let o = hvhost(&[
        "qvm",
        "--no-host-files",
        "@examples/x86_64-host/vm/linux.qvmconf",
        "--dryrun",
    ]);
    planned_with_vmm_verdict(&o, "linux");
    golden("qvm-linux.txt", &text(&o.stdout));
    // hvhost's flags may come among qvm's words.
    let o = hvhost(&[
        "qvm",
        "@examples/x86_64-host/vm/linux.qvmconf",
        "--no-host-files",
        "--format",
        "json",
        "dryrun",
    ]);
    planned_with_vmm_verdict(&o, "linux json");
    golden("qvm-linux.json", &text(&o.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["system"]["value"], "linux");
    assert_eq!(v["arch"]["arch"], "x86_64");
    assert_eq!(v["cpus"].as_array().unwrap().len(), 2);
    let blk = &v["vdevs"][8];
    assert_eq!(blk["kind"], "virtio-blk");
    assert_eq!(blk["attach"]["kind"], "pci");
    assert_eq!(blk["attach"]["addr"]["dev"], 1);
    assert_eq!(blk["shared_object"], "vdev-virtio-blk.so");
    assert_eq!(
        blk["location"],
        "examples/x86_64-host/vm/linux.qvmconf:50:1"
    );
}

#[test]
fn corpus_plans() {
    for (file, golden_name) in [
        (
            "hvguest_linux_x86_64_hs0n4_hypercube.qvmcfg",
            "qvm-corpus-hypercube.txt",
        ),
        (
            "hvguest_qnx800_aarch64_rbye_qnx-guest-1.qvmconf",
            "qvm-corpus-qnx-guest-1.txt",
        ),
    ] {
        let arg = format!("@../shared/corpus/qvmconf/{file}");
        let o = hvhost(&["qvm", "--no-host-files", &arg, "dryrun"]);
        planned_with_vmm_verdict(&o, file);
        golden(golden_name, &text(&o.stdout));
    }
}

#[test]
fn configuration_errors_exit_65_with_both_locations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.qvmconf"),
        "system bad\nram 0x80000000,512M\nvdev pl011 loc 0x80001000 intr gic:37\nvdev pl011 loc 0x1c090000 intr gic:37 hostdv >-\n",
    )
    .unwrap();
    let o = hvhost_in(dir.path(), &["qvm", "@bad.qvmconf", "dryrun"]);
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(text(&o.stdout), "");
    golden("qvm-errors.stderr", &text(&o.stderr));
}

#[test]
fn command_line_words_join_the_stream_after_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vm.qvmconf"),
        "ram 0x80000000,128M\nvdev pl011 loc 0x1c090000\n",
    )
    .unwrap();
    // `intr` binds to the pl011 of the file; the command-line `ram` overlaps.
    let o = hvhost_in(
        dir.path(),
        &[
            "qvm",
            "@vm.qvmconf",
            "intr",
            "gic:37",
            "ram",
            "0x80001000,4k",
            "dryrun",
        ],
    );
    assert_eq!(o.status.code(), Some(65));
    let e = text(&o.stderr);
    assert!(e.contains("error[Q0201]"), "{e}");
    assert!(e.contains("<command line>:1:"), "{e}");
    assert!(e.contains("vm.qvmconf:1:"), "{e}");
    let o = hvhost_in(
        dir.path(),
        &["qvm", "@vm.qvmconf", "intr", "gic:37", "dryrun"],
    );
    // An aarch64 VM: planned, and refused here with one V0115.
    planned_with_vmm_verdict(&o, "pl011");
    assert!(
        text(&o.stderr).contains("error[V0115]"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("intr gic:37"));
}

#[test]
fn without_dryrun_a_vm_whose_image_is_missing_fails_before_it_starts() {
    // Planned without its files, the probe VM cannot run: its guest image
    // (`/vm/images/probe.elf`, a path inside the host image) is not on this
    // machine. qvm's code for a failure before the guest ran is 64.
    let o = hvhost(&[
        "qvm",
        "--no-host-files",
        "@examples/x86_64-host/vm/probe.qvmconf",
    ]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("/vm/images/probe.elf"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout), "");
}

/// A 64-bit x86_64 ELF with one PT_LOAD of 0x2000 bytes at `paddr`.
fn elf(paddr: u64, entry: u64) -> Vec<u8> {
    let mut b = vec![0u8; 64 + 56];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    b[16..18].copy_from_slice(&2u16.to_le_bytes());
    b[18..20].copy_from_slice(&62u16.to_le_bytes());
    b[24..32].copy_from_slice(&entry.to_le_bytes());
    b[32..40].copy_from_slice(&64u64.to_le_bytes());
    b[54..56].copy_from_slice(&56u16.to_le_bytes());
    b[56..58].copy_from_slice(&1u16.to_le_bytes());
    b[64..68].copy_from_slice(&1u32.to_le_bytes());
    b[64 + 24..64 + 32].copy_from_slice(&paddr.to_le_bytes());
    b[64 + 40..64 + 48].copy_from_slice(&0x2000u64.to_le_bytes());
    b
}

#[test]
fn host_files_are_read_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guest.elf"), elf(0x20_0000, 0x20_0100)).unwrap();
    std::fs::write(dir.path().join("disk.img"), [0u8; 512]).unwrap();
    std::fs::write(
        dir.path().join("vm.qvmconf"),
        "ram 0,0xa0000\nram 1m,15m\nload guest.elf\nvdev virtio-blk hostdev disk.img\n",
    )
    .unwrap();
    let o = hvhost_in(dir.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    planned_with_vmm_verdict(&o, "virtio-blk");
    let out = text(&o.stdout);
    assert!(
        out.contains("VM (unnamed): x86_64 (from load of an x86_64 ELF)"),
        "{out}"
    );
    assert!(
        out.contains("guest.elf  at 0x200000  ELF64 x86_64, 120 bytes, entry 0x200100"),
        "{out}"
    );
    // The same ELF linked outside RAM.
    std::fs::write(dir.path().join("guest.elf"), elf(0x4000_0000, 0x4000_0000)).unwrap();
    let o = hvhost_in(dir.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        text(&o.stderr).contains("error[Q0212]"),
        "{}",
        text(&o.stderr)
    );
    // Missing files: an error each, unless --no-host-files; exit 64 (before
    // the guest started) unless the VMM refuses the VM too (65).
    std::fs::remove_file(dir.path().join("guest.elf")).unwrap();
    std::fs::remove_file(dir.path().join("disk.img")).unwrap();
    let o = hvhost_in(dir.path(), &["qvm", "@vm.qvmconf", "dryrun"]);
    let e = text(&o.stderr);
    assert_eq!(e.matches("error[Q0211]").count(), 2, "{e}");
    let refused = e.contains("error[V");
    assert_eq!(o.status.code(), Some(if refused { 65 } else { 64 }), "{e}");
    let o = hvhost_in(
        dir.path(),
        &["qvm", "--no-host-files", "@vm.qvmconf", "dryrun"],
    );
    planned_with_vmm_verdict(&o, "--no-host-files");
    assert!(text(&o.stdout).contains("not read, size unknown"));
}

#[test]
fn unreadable_file_and_bad_flags() {
    let o = hvhost(&["qvm", "@no/such.qvmconf", "dryrun"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(text(&o.stderr).contains("error[Q0108]: cannot read `no/such.qvmconf`"));
    let o = hvhost(&["qvm", "@x", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(text(&o.stderr).contains("the formats are text, json and sarif"));
    let o = hvhost(&["qvm"]);
    assert_eq!(o.status.code(), Some(65));
}

#[test]
fn every_q_code_is_explained() {
    let o = hvhost(&["explain", "--list"]);
    let list = text(&o.stdout);
    for code in ["Q0101", "Q0201", "Q0215"] {
        assert!(list.contains(code), "{code} missing from the catalogue");
    }
    let o = hvhost(&["explain", "Q0205"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("# Q0205: one interrupt line is used twice"));
}

#[test]
fn diagnostics_for_machines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.qvmconf"),
        "ram 0x80000000,128M\nvdev pl011 loc 0x1c090000 intr gic:37\nvdev pl011 loc 0x1c090000 intr gic:38\n",
    )
    .unwrap();
    // JSON: one object per diagnostic on stderr, nothing on stdout.
    let o = hvhost_in(
        dir.path(),
        &["qvm", "--format", "json", "@bad.qvmconf", "dryrun"],
    );
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(text(&o.stdout), "");
    let lines: Vec<serde_json::Value> = text(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every stage at once: qvmconf's overlap, and the one refusal of an
    // aarch64 VM.
    let codes: Vec<&str> = lines.iter().filter_map(|l| l["code"].as_str()).collect();
    assert_eq!(codes, ["V0115", "Q0201"], "{lines:?}");
    // SARIF: the log on stdout, with the rule.
    let o = hvhost_in(
        dir.path(),
        &["qvm", "@bad.qvmconf", "--format=sarif", "dryrun"],
    );
    assert_eq!(o.status.code(), Some(65));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["ruleId"], "Q0201");
}

#[test]
fn a_dry_run_of_nothing_is_a_configuration_error() {
    // no @FILE and no option: a VM without RAM or anything to load
    for args in [&["qvm", "dryrun"][..], &["qvm", "--dryrun"], &["qvm"]] {
        let o = hvhost(args);
        assert_eq!(o.status.code(), Some(65), "{args:?}");
        assert_eq!(text(&o.stdout), "", "{args:?}: no plan");
        let err = text(&o.stderr);
        assert!(
            err.starts_with("error: no configuration"),
            "{args:?}: {err}"
        );
        assert!(err.contains("`hvhost qvm @vm.qvmconf dryrun`"), "{err}");
    }
}

#[test]
fn a_flag_among_qvm_words_is_named_as_a_flag() {
    // `-v` after the configuration: not a qvm option (they have no dash) and
    // not one of hvhost qvm's flags; said as such, not as an unknown option.
    let o = hvhost(&[
        "qvm",
        "@examples/x86_64-host/vm/probe.qvmconf",
        "-v",
        "dryrun",
    ]);
    assert_eq!(o.status.code(), Some(65));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("error: `-v` is not a flag of `hvhost qvm`"),
        "{err}"
    );
    assert!(err.contains("--no-host-files"), "{err}");
    assert!(!err.contains("Q0102"), "{err}");
    // A lone `-` stays a value (`hostdev -`), and flags hvhost knows still work.
    let o = hvhost(&[
        "qvm",
        "--no-host-files",
        "@examples/x86_64-host/vm/probe.qvmconf",
        "vdev",
        "ser8250",
        "hostdev",
        "-",
        "--format=json",
        "dryrun",
    ]);
    assert_ne!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("is not a flag"),
        "{}",
        text(&o.stderr)
    );
}
