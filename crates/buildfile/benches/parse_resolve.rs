//! Parse + resolve throughput.
//!
//! `cargo bench -p buildfile --bench parse_resolve` measures:
//! - `generated/parse-only`: the syntax tree alone, no resolution.
//! - `generated/no-sdk`: a generated buildfile of 120,000 lines with every
//!   kind of line (entries, links, directories, attribute lines, inline
//!   files, a boot block, a long boot script), resolved with
//!   `--no-host-files` and no SDK: the language itself.
//! - `generated/sdk`: the same buildfile with an SDK tree on disk holding half
//!   of the named files, so host lookups, `stat` and ELF checks happen.
//! - `corpus/<file>`: the largest buildfile of the shared corpus.

#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::HashMap;
use std::path::Path;

mod common;

use common::{LINES, generate};

fn options(qnx_target: &Path, no_host_files: bool) -> buildfile::Options {
    let mut env = HashMap::new();
    env.insert("QNX_TARGET".to_string(), qnx_target.display().to_string());
    buildfile::Options {
        env,
        no_host_files,
        now: 1_700_000_000,
        cwd: qnx_target.to_path_buf(),
        ..buildfile::Options::default()
    }
}

fn run(src: &[u8], opts: &buildfile::Options) -> usize {
    let mut map = diag::SourceMap::new();
    let (m, d) = buildfile::load(&mut map, &[], "bench.build", src.to_vec(), opts);
    assert!(
        !d.iter().any(|d| d.is_error()),
        "{:?}",
        d.iter().find(|d| d.is_error())
    );
    m.map(|m| m.entries.len()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let src = generate();
    let lines = src.lines().count();
    eprintln!("generated buildfile: {lines} lines, {} bytes", src.len());
    let empty = tempfile::tempdir().unwrap();
    let sdk = tempfile::tempdir().unwrap();
    for d in [
        "aarch64le/usr/bin",
        "aarch64le/bin",
        "aarch64le/lib",
        "aarch64le/lib/dll",
        "aarch64le/boot/sys",
        "aarch64le/sbin",
    ] {
        std::fs::create_dir_all(sdk.path().join(d)).unwrap();
    }
    for i in (0..LINES).step_by(2) {
        let p = match i % 10 {
            1..=4 => format!("aarch64le/usr/bin/tool{i}"),
            7 => format!("aarch64le/lib/dll/mod{i}.so"),
            9 => format!("aarch64le/lib/lib{i}.so"),
            _ => continue,
        };
        std::fs::write(sdk.path().join(p), b"not an ELF file, a stand-in\n").unwrap();
    }

    let mut g = c.benchmark_group("generated");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.sample_size(20);
    g.bench_function("parse-only", |b| {
        b.iter(|| {
            let mut map = diag::SourceMap::new();
            let id = map.add("bench.build", src.as_bytes().to_vec());
            buildfile::parse(&map, id).0.items.len()
        })
    });
    let no_sdk = options(empty.path(), true);
    g.bench_function("no-sdk", |b| b.iter(|| run(src.as_bytes(), &no_sdk)));
    let mut with_sdk = options(sdk.path(), true);
    with_sdk.env.insert("PROCESSOR".into(), "aarch64le".into());
    g.bench_function("sdk", |b| b.iter(|| run(src.as_bytes(), &with_sdk)));
    g.finish();

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/buildfiles");
    let largest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".in"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .unwrap();
    let bytes = std::fs::read(&largest).unwrap();
    let name = largest.file_name().unwrap().to_string_lossy().into_owned();
    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function(&name, |b| b.iter(|| run(&bytes, &no_sdk)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
