//! Compression and decompression throughput on a realistic 32 MiB image
//! payload (executables, text, some incompressible and zero-filled files,
//! generated deterministically by `tests/common`).
//!
//! ```text
//! cargo bench -p compress --bench compression
//! ```
//!
//! Throughput is in MB/s of uncompressed data. The compressed size of each
//! method is printed before the runs.

#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use compress::{Level, Method, Options};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: usize = 32 << 20;

fn benches(c: &mut Criterion) {
    let data = common::image_like(SIZE, 2024);
    let mut group = c.benchmark_group("32MiB");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Bytes(SIZE as u64));
    for method in Method::ALL {
        let packed = compress::compress(method, &data, &Options::default());
        eprintln!(
            "{method}: {} -> {} bytes ({:.1}%)",
            data.len(),
            packed.len(),
            100.0 * packed.len() as f64 / data.len() as f64
        );
        let threads: &[usize] = if method == Method::Zlib {
            &[1]
        } else {
            &[1, 2]
        };
        for &t in threads {
            let options = Options {
                threads: t,
                ..Options::default()
            };
            group.bench_function(format!("compress/{method}/threads={t}"), |b| {
                b.iter(|| compress::compress(method, &data, &options))
            });
        }
        group.bench_function(format!("decompress/{method}"), |b| {
            b.iter(|| compress::decompress(method, &packed, SIZE as u64).unwrap())
        });
    }
    // The levels of UCL, one thread.
    for level in [1, 5, 10] {
        let options = Options {
            level: Level::new(level).unwrap(),
            threads: 1,
        };
        let packed = compress::compress(Method::Ucl, &data, &options);
        eprintln!("UCL level {level}: {} bytes", packed.len());
        group.bench_function(format!("compress/UCL/level={level}/threads=1"), |b| {
            b.iter(|| compress::compress(Method::Ucl, &data, &options))
        });
    }
    group.finish();
}

criterion_group!(compression, benches);
criterion_main!(compression);
