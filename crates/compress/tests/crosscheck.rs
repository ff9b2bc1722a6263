//! Cross-checks against the reference C libraries: UCL 1.03 (`libucl-dev`)
//! and LZO 2 (`liblzo2-dev`), driven through `tests/crosscheck/helper.c`.
//!
//! Ignored by default because it needs those Debian packages and a C
//! compiler; run it with
//!
//! ```text
//! apt-get install libucl-dev liblzo2-dev
//! cargo test -p compress --test crosscheck -- --ignored --nocapture
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use compress::nrv2b::{self, BitBuffer};
use compress::{Level, lzo};

fn helper() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crosscheck-helper");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crosscheck/helper.c");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(src)
        .args(["-lucl", "-llzo2"])
        .status()
        .expect("run cc");
    assert!(
        status.success(),
        "building the helper needs libucl-dev and liblzo2-dev"
    );
    out
}

/// Runs the helper; `None` when the library rejected the input.
fn run(helper: &PathBuf, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(helper)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run helper");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out.status.success().then_some(out.stdout)
}

/// Blocks of the sizes an IFS stream holds, plus a few larger ones.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = common::shapes()
        .into_iter()
        .filter(|(_, d)| d.len() <= 1 << 20)
        .collect();
    let image = common::image_like(4 << 20, 99);
    for (i, chunk) in image.chunks(64 * 1024).enumerate().step_by(5) {
        v.push((format!("image chunk {i}"), chunk.to_vec()));
    }
    v
}

#[test]
#[ignore = "needs libucl-dev, liblzo2-dev and cc"]
fn nrv2b_agrees_with_libucl() {
    let h = helper();
    let (mut ours_total, mut theirs_total, mut raw_total) = (0usize, 0usize, 0usize);
    let mut ours_default = 0usize;
    for (name, data) in inputs() {
        let max = (data.len() + 16).to_string();
        for (bits, c, d) in [
            (BitBuffer::Byte, "ucl-c8", "ucl-d8"),
            (BitBuffer::Le32, "ucl-c32", "ucl-d32"),
        ] {
            for level in [1, 5, 10] {
                let mut ours = Vec::new();
                nrv2b::compress(&data, bits, Level::new(level).unwrap(), &mut ours);
                let back = run(&h, &[d, &max], &ours)
                    .unwrap_or_else(|| panic!("libucl rejects our {bits:?} level {level} {name}"));
                assert!(
                    back == data,
                    "libucl decodes our {bits:?} {name} differently"
                );
                if bits == BitBuffer::Byte && data.len() >= 4096 {
                    if level == 10 {
                        ours_total += ours.len();
                    } else if level == 5 {
                        ours_default += ours.len();
                    }
                }
            }
            let theirs = run(&h, &[c, "10"], &data).expect("libucl compresses");
            let mut back = Vec::new();
            nrv2b::decompress(&theirs, bits, data.len(), &mut back)
                .unwrap_or_else(|e| panic!("we reject libucl's {bits:?} {name}: {e}"));
            assert!(
                back == data,
                "we decode libucl's {bits:?} {name} differently"
            );
            if bits == BitBuffer::Byte && data.len() >= 4096 {
                theirs_total += theirs.len();
                raw_total += data.len();
            }
        }
    }
    let pct = |n: usize| (n as f64 / theirs_total as f64 - 1.0) * 100.0;
    println!(
        "NRV2B on {raw_total} bytes: libucl level 10 {theirs_total}, ours level 10 {ours_total} ({:+.2}%), level 5 {ours_default} ({:+.2}%)",
        pct(ours_total),
        pct(ours_default)
    );
}

#[test]
#[ignore = "needs libucl-dev, liblzo2-dev and cc"]
fn lzo_agrees_with_liblzo2() {
    let h = helper();
    let (mut ours_total, mut one_total, mut best_total) = (0usize, 0usize, 0usize);
    for (name, data) in inputs() {
        let max = (data.len() + 16).to_string();
        let mut ours = Vec::new();
        lzo::compress(&data, &mut ours);
        let back = run(&h, &["lzo-d", &max], &ours)
            .unwrap_or_else(|| panic!("liblzo2 rejects our {name}"));
        assert!(back == data, "liblzo2 decodes our {name} differently");
        for c in ["lzo-c1", "lzo-c999"] {
            let theirs = run(&h, &[c], &data).expect("liblzo2 compresses");
            let mut back = Vec::new();
            lzo::decompress(&theirs, data.len(), &mut back)
                .unwrap_or_else(|e| panic!("we reject liblzo2 {c} {name}: {e}"));
            assert!(back == data, "we decode liblzo2 {c} {name} differently");
            if data.len() >= 4096 {
                if c == "lzo-c1" {
                    one_total += theirs.len();
                } else {
                    best_total += theirs.len();
                }
            }
        }
        if data.len() >= 4096 {
            ours_total += ours.len();
        }
    }
    println!("LZO1X: lzokay {ours_total}, liblzo2 LZO1X-1 {one_total}, LZO1X-999 {best_total}");
}

/// The golden streams (tests/golden) decode with the reference libraries,
/// block by block, as the QNX startup code decodes them.
#[test]
#[ignore = "needs libucl-dev, liblzo2-dev and cc"]
fn golden_streams_decode_with_the_reference_libraries() {
    let h = helper();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let inputs = [
        ("text", common::text(70 * 1024, 100)),
        ("image", common::image_like(200 * 1024, 101)),
    ];
    for (name, data) in inputs {
        for (ext, decoder) in [("ucl", "ucl-d8"), ("lzo", "lzo-d")] {
            let stream = std::fs::read(format!("{dir}/{name}.{ext}")).unwrap();
            let mut out = Vec::new();
            for block in common::frames(&stream) {
                out.extend(run(&h, &[decoder, "1048576"], block).expect("reference decodes"));
            }
            assert!(out == data, "{name}.{ext}");
        }
    }
}
