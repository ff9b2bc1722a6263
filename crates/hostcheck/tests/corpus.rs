//! Every real buildfile and qvmconf of the shared corpus goes through the
//! checker without a panic, and what it finds is located.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::{Options as BOptions, load};
use diag::SourceMap;
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn opts() -> BOptions {
    BOptions {
        no_host_files: true,
        ..BOptions::default()
    }
}

#[test]
fn every_corpus_buildfile() {
    let files = corpus("buildfiles");
    assert!(files.len() >= 30, "{}", files.len());
    let mut hosts = 0;
    for f in &files {
        let mut map = SourceMap::new();
        let bytes = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (m, _) = load(&mut map, &[], &name, bytes, &opts());
        let Some(m) = m else { continue };
        let o = hostcheck::Options::default();
        let loaded = hostcheck::load_vms(&mut map, &m, &o);
        let r = hostcheck::check(&m, &loaded.vms, &o);
        // Every host rule finding that is not about the image as a whole has a place.
        for d in &r.diagnostics {
            if d.code.id != "H0103" && d.code.id != "H0201" {
                assert!(
                    d.span().is_some(),
                    "{name}: {} without a location",
                    d.code.id
                );
            }
        }
        if name.starts_with("hvhost_") && m.boot.is_some() {
            hosts += 1;
            // The real hypervisor hosts enable virtualization.
            assert!(
                !r.diagnostics.iter().any(|d| d.code.id == "H0101"),
                "{name}: {:?}",
                r.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
            );
        } else if m.boot.is_some() && !name.starts_with("hvguest_") {
            // An ordinary OS image is not a hypervisor host: it says so.
            assert!(
                r.diagnostics.iter().any(|d| d.code.id == "H0101"),
                "{name}: {:?}",
                r.diagnostics.iter().map(|d| d.code.id).collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(hosts, 2);
}

/// Each corpus qvmconf started by a small host of its architecture.
#[test]
fn every_corpus_qvmconf_in_a_host() {
    let files = corpus("qvmconf");
    assert!(files.len() >= 8);
    let mut checked = 0;
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let x86 = text.contains("ioapic") || text.contains("ser8250");
        let boot = if x86 {
            "[virtual=x86_64,multiboot] boot = {\n    startup-x86\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr\n}\n"
        } else {
            "[virtual=aarch64le,raw] boot = {\n    startup-armv8_fm\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr\n}\n"
        };
        let src = format!(
            "{boot}[+script] .script = {{\n    qvm @/vm/guest.qvmconf &\n}}\n/usr/bin/qvm = qvm\n/vm/guest.qvmconf = {}\n",
            f.display()
        );
        let mut map = SourceMap::new();
        let (m, d) = load(&mut map, &[], "host.build", src.into_bytes(), &opts());
        assert!(d.is_empty(), "{}", diag::render::human_to_string(&map, &d));
        let m = m.unwrap();
        let o = hostcheck::Options::default();
        let loaded = hostcheck::load_vms(&mut map, &m, &o);
        let r = hostcheck::check(&m, &loaded.vms, &o);
        if let Some(vm) = loaded.vms.first() {
            checked += 1;
            // The host carries no vdev: every vdev the VM loads from a file is reported.
            let missing = r
                .diagnostics
                .iter()
                .filter(|d| d.code.id == "H0301")
                .count();
            let mut names: Vec<&str> = vm
                .vdevs
                .iter()
                .map(|v| v.name.as_str())
                .filter(|n| *n != "gic" || x86)
                .collect();
            names.sort();
            names.dedup();
            assert_eq!(missing, names.len(), "{}", f.display());
        } else {
            // Not read: either an error of its own (H0204 with Q codes) or a template.
            assert!(
                loaded.diagnostics.iter().any(|d| d.is_error()),
                "{}",
                f.display()
            );
        }
    }
    assert!(checked >= 7, "{checked}");
}
