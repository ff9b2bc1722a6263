//! Golden outputs: the compressed bytes of fixed inputs are checked in and
//! compared byte for byte, so a change of output between releases is seen.
//! Regenerate deliberately with `HVHOST_BLESS=1 cargo test -p compress --test golden`.
//!
//! `golden/reference/` holds blocks written by the reference compressors
//! (UCL 1.03 `ucl_nrv2b_99_compress` level 10, liblzo2 `lzo1x_1_compress`
//! and `lzo1x_999_compress`, made with `tests/crosscheck/helper.c`); they
//! are decoded here without those libraries.

mod common;

use std::path::PathBuf;

use compress::nrv2b::{self, BitBuffer};
use compress::{Method, Options, lzo};

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"))
}

/// The inputs of the golden files: they cross block boundaries and hold
/// near and far matches, runs and incompressible bytes.
pub fn golden_inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("text", common::text(70 * 1024, 100)),
        ("image", common::image_like(200 * 1024, 101)),
    ]
}

fn extension(method: Method) -> &'static str {
    match method {
        Method::Zlib => "gz",
        Method::Lzo => "lzo",
        Method::Ucl => "ucl",
    }
}

#[test]
fn compressed_output_matches_the_golden_files() {
    for (name, data) in golden_inputs() {
        for method in Method::ALL {
            let path = dir().join(format!("{name}.{}", extension(method)));
            let packed = compress::compress(method, &data, &Options::default());
            testkit::golden::check(&path, &packed);
            let golden = std::fs::read(&path).unwrap();
            let back = compress::decompress(method, &golden, data.len() as u64).unwrap();
            assert!(back == data);
        }
    }
}

/// (file, input, decoder)
fn reference_blocks() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("text-20k", common::text(20 * 1024, 200)),
        ("elf-64k", common::elf_like(64 * 1024, 201)),
        ("zeros-64k", vec![0; 64 * 1024]),
        ("random-4k", common::random(4096, 202)),
    ]
}

#[test]
fn reference_compressor_blocks_decode() {
    let mut seen = 0;
    for (name, data) in reference_blocks() {
        for (ext, kind) in [("ucl8", 0), ("ucl32", 1), ("lzo1", 2), ("lzo999", 2)] {
            let path = dir().join("reference").join(format!("{name}.{ext}"));
            let block = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut out = Vec::new();
            let result = match kind {
                0 => nrv2b::decompress(&block, BitBuffer::Byte, data.len(), &mut out),
                1 => nrv2b::decompress(&block, BitBuffer::Le32, data.len(), &mut out),
                _ => lzo::decompress(&block, data.len(), &mut out),
            };
            result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(out == data, "{} decodes wrongly", path.display());
            seen += 1;
        }
    }
    assert_eq!(seen, 16);
}

/// Writes the reference blocks with the C libraries (needs the helper).
#[test]
#[ignore = "regenerates tests/golden/reference with libucl and liblzo2"]
fn write_reference_blocks() {
    let helper = PathBuf::from(std::env::var("CROSSCHECK_HELPER").expect("CROSSCHECK_HELPER"));
    for (name, data) in reference_blocks() {
        for (ext, args) in [
            ("ucl8", &["ucl-c8", "10"][..]),
            ("ucl32", &["ucl-c32", "10"][..]),
            ("lzo1", &["lzo-c1"][..]),
            ("lzo999", &["lzo-c999"][..]),
        ] {
            use std::io::Write;
            let mut child = std::process::Command::new(&helper)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&data).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            std::fs::write(
                dir().join("reference").join(format!("{name}.{ext}")),
                out.stdout,
            )
            .unwrap();
        }
    }
}
