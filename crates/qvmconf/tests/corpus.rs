//! Every qvm configuration of the shared corpus, read as `qvm @FILE` would
//! read it, without the host's files.
//!
//! All validate with no diagnostic, except three files that are wrong as
//! qvm input, each with exactly the diagnostics listed in `EXPECTED` (see
//! docs/qvmconf.md, "Corpus"):
//!
//! - the SA8155 blog fragment holds only the lines its author changed: it
//!   loads a kernel but has no `ram` (Q0203);
//! - the meta-qnx-hyp `linux.qvmconf` is a Yocto template with `@VAR@`
//!   placeholders (Q0107);
//! - the rbye virtio-gpu guest uses `fdt generate`, which is not in the
//!   language (Q0111), and a third-party `vdev virtio-gpu` whose options
//!   hvhost cannot check (Q0112, a warning).

use diag::{Diagnostic, SourceMap};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/qvmconf")
}

fn read(name: &str) -> (SourceMap, Option<qvmconf::VmConfig>, Vec<Diagnostic>) {
    let opts = qvmconf::Options {
        host_files: false,
        cwd: corpus_dir(),
        ..qvmconf::Options::default()
    };
    let mut map = SourceMap::new();
    let (vm, d) = qvmconf::load(&mut map, &[format!("@{name}")], &opts);
    (map, vm, d)
}

/// file → the (code, `file:line:col`) of every diagnostic it must produce.
const EXPECTED: &[(&str, &[(&str, &str)])] = &[
    (
        "FRAGMENT_hvguest_linux_aarch64_sa8155_blog_lagvm.qvmconf",
        &[("Q0203", ":2:1")],
    ),
    (
        "hvguest_linux_aarch64_meta-qnx-hyp_linux.qvmconf",
        &[("Q0107", ":12:8")],
    ),
    (
        "hvguest_linux_aarch64_rbye_virtio-gpu_guest.qvmconf",
        &[("Q0111", ":21:1"), ("Q0112", ":32:6")],
    ),
];

fn is_config(name: &str) -> bool {
    name.ends_with(".qvmconf") || name.ends_with(".qvmcfg")
}

#[test]
fn every_corpus_file_validates_or_fails_as_documented() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !is_config(&name) {
            continue;
        }
        checked += 1;
        let (map, vm, diags) = read(&name);
        let got: Vec<(String, String)> = diags
            .iter()
            .map(|d| {
                (
                    d.code.id.to_string(),
                    d.span().map(|s| map.location(s)).unwrap_or_default(),
                )
            })
            .collect();
        match EXPECTED.iter().find(|(f, _)| *f == name) {
            Some((_, want)) => {
                let ok = got.len() == want.len()
                    && got
                        .iter()
                        .zip(want.iter())
                        .all(|((c, l), (wc, wl))| c == wc && l.ends_with(wl));
                if !ok || vm.is_some() {
                    failures.push(format!("{name}: want {want:?}, got {got:?}"));
                }
            }
            None => {
                if !diags.is_empty() || vm.is_none() {
                    failures.push(format!(
                        "{name}:\n{}",
                        diag::render::human_to_string(&map, &diags)
                    ));
                }
            }
        }
    }
    assert_eq!(checked, 10, "corpus files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_facts() {
    // x86 layout without starts: placed after the highest RAM/ROM.
    let (_, vm, _) = read("hvguest_linux_x86_64_hs0n4_linux.qvmcfg");
    let vm = vm.unwrap();
    let mem: Vec<(u64, u64)> = vm.memory.iter().map(|m| (m.start, m.len)).collect();
    assert_eq!(
        mem,
        [(0, 0xa0000), (0xc0000, 0x40000), (0x10_0000, 512 << 20)]
    );
    assert_eq!(vm.cpus.len(), 2);
    assert_eq!(vm.arch.as_ref().unwrap().arch, qvmconf::Arch::X86_64);
    let hpet = vm
        .vdevs
        .iter()
        .find(|v| v.kind == qvmconf::VdevKind::Hpet)
        .unwrap();
    assert_eq!(hpet.intr.len(), 3);
    // ARM guest with pass-through regions and a host vector.
    let (_, vm, _) = read("hvguest_qnx800_aarch64_rbye_qnx-guest-1.qvmconf");
    let vm = vm.unwrap();
    assert_eq!(vm.passes.len(), 2);
    assert_eq!(
        vm.passes[0].intr[0].value,
        qvmconf::Intr::Line {
            pic: Some("gic".into()),
            line: 44,
            host_vector: Some(150),
            flags: None
        }
    );
    assert_eq!(vm.arch.as_ref().unwrap().arch, qvmconf::Arch::Aarch64);
    // `intr` on one line and its value on the next.
    let (_, vm, _) = read("hvguest_qnx800_aarch64_rbye_qnx-guest-2.qvmconf");
    let vm = vm.unwrap();
    let shmem = vm
        .vdevs
        .iter()
        .find(|v| v.kind == qvmconf::VdevKind::Shmem)
        .unwrap();
    assert_eq!(shmem.intr.len(), 1);
}

#[test]
fn every_diagnostic_points_inside_its_file() {
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !is_config(&name) {
            continue;
        }
        let (map, _, diags) = read(&name);
        for d in &diags {
            for s in d.primary.iter().chain(d.secondary.iter()).map(|l| l.span) {
                let f = map.get(s.file).expect("known file");
                assert!(s.end as usize <= f.bytes().len(), "{name}: {s:?}");
            }
        }
    }
}
