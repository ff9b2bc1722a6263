//! Loads one buildfile with `--no-host-files` semantics and prints how many
//! entries and diagnostics it produced: a fixed workload for profilers
//! (`valgrind --tool=callgrind`, `perf record`).
//!
//! `cargo run --release -p buildfile --example load -- FILE [REPEAT]`
//!
//! `load --write-generated FILE` writes the generated buildfile of the
//! `parse_resolve` bench (120,000 lines, 3.7 MB) to FILE instead.

#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

use std::process::ExitCode;

#[path = "../benches/common/mod.rs"]
mod common;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load FILE [REPEAT] | load --write-generated FILE");
        return ExitCode::from(2);
    };
    if path == "--write-generated" {
        let Some(out) = args.next() else {
            eprintln!("usage: load --write-generated FILE");
            return ExitCode::from(2);
        };
        // Written whole to a temporary file, then renamed into place.
        let mut tmp = out.clone();
        tmp.push(".tmp");
        let written =
            std::fs::write(&tmp, common::generate()).and_then(|()| std::fs::rename(&tmp, &out));
        return match written {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", out.to_string_lossy());
                ExitCode::from(2)
            }
        };
    }
    let repeat: usize = args
        .next()
        .and_then(|r| r.to_str().and_then(|r| r.parse().ok()))
        .unwrap_or(1);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let opts = buildfile::Options {
        no_host_files: true,
        now: 1_700_000_000,
        ..buildfile::Options::default()
    };
    for _ in 0..repeat {
        let mut map = diag::SourceMap::new();
        let (m, d) = buildfile::load(&mut map, &[], "input.build", bytes.clone(), &opts);
        let entries = m.map(|m| m.entries.len()).unwrap_or(0);
        println!("{entries} entries, {} diagnostics", d.len());
    }
    ExitCode::SUCCESS
}
