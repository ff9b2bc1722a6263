//! Bench binary: build a ≥ 1 GiB image from ≥ 2,000 files and compare with
//! `cat` of the same files into one file (the I/O limit), in the same run;
//! then `dump --verify` throughput, and UCL compression on one thread and
//! in parallel.
//!
//! ```text
//! BENCH_DIR=/work/tmp nice -n 10 cargo bench -p ifs --bench build_vs_cat
//! ```
//!
//! Environment: `BENCH_DIR` (where the temporary files go; default the
//! system temp dir), `BENCH_FILES` (default 2048), `BENCH_FILE_KIB` (default
//! 512: 2048 × 512 KiB = 1 GiB), `BENCH_ROUNDS` (default 5).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / (1 << 20) as f64
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n = env_num("BENCH_FILES", 2048) as usize;
    let kib = env_num("BENCH_FILE_KIB", 512) as usize;
    let rounds = env_num("BENCH_ROUNDS", 5).max(1) as usize;
    let base = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).expect("BENCH_DIR");
    let dir = tempfile::tempdir_in(&base).expect("tempdir");
    let d = dir.path();
    println!(
        "files: {n} × {kib} KiB = {} MiB in {}",
        n * kib / 1024,
        d.display()
    );

    let (names, build, buf) = inputs(d, n, kib);
    let total = (n * kib * 1024) as u64;

    let img_out = d.join("image.ifs");
    let img_len = build_vs_cat(d, &names, &build, &img_out, total, rounds);

    verify(&img_out, img_len, n, rounds);
    std::fs::remove_file(img_out).ok();

    ucl(&buf);
    drop(dir);
}

/// Writes `n` pseudo-random input files of `kib` KiB (incompressible, like
/// code, each different) into `d`: their paths, a buildfile naming them, and
/// the last file's bytes.
fn inputs(d: &Path, n: usize, kib: usize) -> (Vec<std::path::PathBuf>, String, Vec<u8>) {
    // Inputs: pseudo-random bytes (incompressible, like code), each file different.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; kib * 1024];
    let mut names = Vec::with_capacity(n);
    let mut build = String::from("[uid=0 gid=0 perms=0644]\n");
    for i in 0..n {
        for w in buf.chunks_exact_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            w.copy_from_slice(&seed.to_le_bytes());
        }
        let name = format!("f{i:05}.bin");
        std::fs::write(d.join(&name), &buf).expect("write input");
        build.push_str(&format!(
            "/data/{}/{name} = {}\n",
            i % 64,
            d.join(&name).display()
        ));
        names.push(d.join(&name));
    }
    (names, build, buf)
}

/// `cat` of the inputs against building the image from them, `rounds`
/// times each, back to back; prints the figures and returns the image size.
fn build_vs_cat(
    d: &Path,
    names: &[std::path::PathBuf],
    build: &str,
    img_out: &Path,
    total: u64,
    rounds: usize,
) -> u64 {
    let cat_out = d.join("cat.out");
    let run_cat = || {
        let t = Instant::now();
        let f = std::fs::File::create(&cat_out).expect("cat out");
        let st = Command::new("cat")
            .args(names)
            .stdout(f)
            .status()
            .expect("cat");
        assert!(st.success());
        t.elapsed()
    };
    let run_build = || {
        let t = Instant::now();
        let mut map = diag::SourceMap::new();
        let opts = buildfile::Options {
            times: buildfile::Times::ZeroAll,
            ..buildfile::Options::default()
        };
        let (m, diags) = buildfile::load(
            &mut map,
            &[],
            "bench.build",
            build.as_bytes().to_vec(),
            &opts,
        );
        assert!(diags.iter().all(|x| !x.is_error()));
        let m = m.expect("manifest");
        let f = std::fs::File::create(img_out).expect("image out");
        let mut w = BufWriter::with_capacity(1 << 20, f);
        ifs::build(&m, &ifs::WriteOptions::default(), &mut w).expect("build");
        w.flush().expect("flush");
        t.elapsed()
    };
    // Warm the page cache once with each.
    run_cat();
    run_build();
    let mut cats = Vec::new();
    let mut builds = Vec::new();
    for _ in 0..rounds {
        cats.push(run_cat());
        builds.push(run_build());
    }
    // Each round's ratio (cat and build run back to back, so load from
    // other processes affects both alike), then the medians.
    let mut ratios: Vec<f64> = cats
        .iter()
        .zip(&builds)
        .map(|(c, b)| b.as_secs_f64() / c.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let (c, b) = (median(cats), median(builds));
    let img_len = std::fs::metadata(img_out).map(|m| m.len()).unwrap_or(0);
    println!(
        "cat:   {:>8.3} s  {:>8.1} MiB/s",
        c.as_secs_f64(),
        mbps(total, c)
    );
    println!(
        "build: {:>8.3} s  {:>8.1} MiB/s  (image {} bytes)",
        b.as_secs_f64(),
        mbps(img_len, b),
        img_len
    );
    println!(
        "ratio build/cat: median of rounds {:.2} (min {:.2}, max {:.2}); of medians {:.2}",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
        b.as_secs_f64() / c.as_secs_f64()
    );
    std::fs::remove_file(&cat_out).ok();
    img_len
}

/// `dump --verify`'s work on the image: read the file, locate, verify the
/// trailer, walk the directory and check every file's bounds.
fn verify(img_out: &Path, img_len: u64, n: usize, rounds: usize) {
    // dump --verify: read the file, locate, verify the trailer, walk the
    // directory and check every file's bounds.
    let mut vs = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let data = std::fs::read(img_out).expect("read image");
        let c = ifs::read::open(&data).expect("open");
        c.verify_outer().expect("outer");
        let r = c.image_bytes().expect("region");
        let fs = ifs::read::Ifs::parse(&r).expect("parse");
        fs.verify().expect("verify");
        let mut count = 0;
        for e in fs.entries() {
            let (_, de) = e.expect("dirent");
            fs.data(&de).expect("data");
            count += 1;
        }
        assert!(count > n);
        vs.push(t.elapsed());
    }
    let v = median(vs);
    println!(
        "verify: {:>7.3} s  {:>8.1} MiB/s",
        v.as_secs_f64(),
        mbps(img_len, v)
    );
}

/// UCL on a compressible sample (64 MiB of the inputs' first bytes repeated
/// with text), one thread and every core.
fn ucl(buf: &[u8]) {
    // UCL on a compressible sample (64 MiB of the inputs' first bytes
    // repeated with text), one thread and every core.
    let mut sample = Vec::with_capacity(64 << 20);
    let text = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/write.rs"))
        .unwrap_or_default();
    while sample.len() < 64 << 20 {
        sample.extend_from_slice(&text);
        sample.extend_from_slice(&buf[..4096]);
    }
    sample.truncate(64 << 20);
    for threads in [1usize, 0] {
        let o = compress::Options {
            threads,
            ..Default::default()
        };
        let t = Instant::now();
        let out = compress::compress(compress::Method::Ucl, &sample, &o);
        let e = t.elapsed();
        println!(
            "UCL compress ({}): {:>8.1} MiB/s, ratio {:.3}",
            if threads == 1 {
                "1 thread"
            } else {
                "all cores"
            },
            mbps(sample.len() as u64, e),
            out.len() as f64 / sample.len() as f64
        );
    }
}
