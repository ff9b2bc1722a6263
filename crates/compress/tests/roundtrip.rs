//! Round trips of many input shapes through every method, level and thread
//! count, and the properties of the block framing.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use compress::{Level, Method, Options, decompress, decompress_to};

fn round_trip(method: Method, name: &str, data: &[u8], options: &Options) -> Vec<u8> {
    let packed = compress::compress(method, data, options);
    let unpacked = decompress(method, &packed, data.len() as u64)
        .unwrap_or_else(|e| panic!("{method} {name} {options:?}: {e}"));
    assert!(
        unpacked == data,
        "{method} {name} {options:?}: data differs"
    );
    // The stream ends exactly where the compressor stopped, even with bytes after it.
    let mut with_tail = packed.clone();
    with_tail.extend_from_slice(b"\0\0\0\0trailer");
    let mut sink = Vec::new();
    let info = decompress_to(method, &with_tail, data.len() as u64, &mut sink).unwrap();
    assert_eq!(info.consumed, packed.len(), "{method} {name}");
    assert_eq!(info.produced, data.len() as u64, "{method} {name}");
    packed
}

#[test]
fn every_shape_round_trips_with_every_method() {
    for (name, data) in common::shapes() {
        for method in Method::ALL {
            round_trip(method, &name, &data, &Options::default());
        }
    }
}

#[test]
fn every_level_round_trips() {
    let data = common::image_like(700 * 1024, 11);
    let mut sizes = Vec::new();
    for n in 1..=10 {
        let options = Options {
            level: Level::new(n).unwrap(),
            threads: 1,
        };
        for method in Method::ALL {
            let packed = round_trip(method, "image", &data, &options);
            if method == Method::Ucl {
                sizes.push(packed.len());
            }
        }
    }
    // Higher UCL levels search harder: level 10 is clearly smaller than level 1.
    assert!(sizes[9] < sizes[0] * 97 / 100, "{sizes:?}");
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let data = common::image_like(5 * 1024 * 1024 + 12345, 12);
    for method in [Method::Ucl, Method::Lzo] {
        let one = compress::compress(
            method,
            &data,
            &Options {
                threads: 1,
                ..Options::default()
            },
        );
        for threads in [0, 2, 3] {
            let many = compress::compress(
                method,
                &data,
                &Options {
                    threads,
                    ..Options::default()
                },
            );
            assert!(one == many, "{method} with {threads} threads differs");
        }
        let mut streamed = Vec::new();
        let written =
            compress::compress_to(method, &data, &Options::default(), &mut streamed).unwrap();
        assert_eq!(written, streamed.len() as u64);
        assert!(one == streamed, "{method} compress_to differs");
    }
}

/// (compressed length, decompressed length) of each block of a stream.
fn blocks(method: Method, stream: &[u8]) -> Vec<(usize, usize)> {
    common::frames(stream)
        .into_iter()
        .map(|block| {
            let mut out = Vec::new();
            match method {
                Method::Ucl => compress::nrv2b::decompress(
                    block,
                    compress::nrv2b::BitBuffer::Byte,
                    1 << 20,
                    &mut out,
                ),
                _ => compress::lzo::decompress(block, 1 << 20, &mut out),
            }
            .unwrap();
            (block.len(), out.len())
        })
        .collect()
}

#[test]
fn blocks_hold_64_kib_and_incompressible_chunks_are_split() {
    let text = common::text(200 * 1024, 21);
    let random = common::random(200 * 1024, 22);
    for method in [Method::Ucl, Method::Lzo] {
        let b = blocks(
            method,
            &compress::compress(method, &text, &Options::default()),
        );
        assert_eq!(
            b.iter().map(|&(_, n)| n).collect::<Vec<_>>(),
            [65536, 65536, 65536, 8192],
            "{method}"
        );
        // Random data grows: each 64 KiB chunk is stored as a block 4 KiB
        // shorter at a time until it fits the 2-byte length, and the rest of
        // the chunk follows as its own block.
        let b = blocks(
            method,
            &compress::compress(method, &random, &Options::default()),
        );
        let sizes: Vec<usize> = b.iter().map(|&(_, n)| n).collect();
        let expect_first = if method == Method::Ucl { 57344 } else { 61440 };
        assert_eq!(sizes[0], expect_first, "{method} {sizes:?}");
        assert_eq!(sizes[0] + sizes[1], 65536, "{method} {sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), random.len());
        assert!(b.iter().all(|&(c, _)| c <= 0xffff));
    }
}

#[test]
fn empty_input_is_just_the_end_marker() {
    assert_eq!(
        compress::compress(Method::Ucl, &[], &Options::default()),
        [0, 0]
    );
    assert_eq!(
        compress::compress(Method::Lzo, &[], &Options::default()),
        [0, 0]
    );
    let gz = compress::compress(Method::Zlib, &[], &Options::default());
    assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
}

#[test]
fn method_codes_match_the_startup_header() {
    for m in Method::ALL {
        assert_eq!(Method::from_code(m.code()), Some(m));
        assert_eq!(Method::from_flags1(m.flags1_bits() | 0x21), Ok(Some(m)));
    }
    assert_eq!(Method::Ucl.flags1_bits(), 0x0c);
    assert_eq!(Method::Lzo.flags1_bits(), 0x08);
    assert_eq!(Method::Zlib.flags1_bits(), 0x04);
    assert_eq!(Method::from_flags1(0x03), Ok(None));
    assert_eq!(Method::from_flags1(0x10), Err(4));
    assert_eq!(Method::from_code(0), None);
    assert_eq!(Level::new(0), None);
    assert_eq!(Level::new(11), None);
}

#[test]
fn counted_compression_counts_every_input_byte_and_writes_the_same_stream() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Over 1 MiB, so zlib's input is fed in pieces and blocks run in batches.
    let data = testkit::data::text(3 << 20 | 12345, 7);
    for method in Method::ALL {
        let options = Options {
            level: Level::new(1).unwrap(),
            threads: 2,
        };
        let done = AtomicU64::new(0);
        let mut counted = Vec::new();
        compress::compress_counted(method, &data, &options, &mut counted, &done);
        assert_eq!(done.load(Ordering::Relaxed), data.len() as u64, "{method}");
        assert!(
            counted == compress::compress(method, &data, &options),
            "{method}"
        );
        let mut gz = Vec::new();
        if method == Method::Zlib {
            // The same stream as one write of the whole input.
            use std::io::Write as _;
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .write(&mut gz, flate2::Compression::new(1));
            enc.write_all(&data).unwrap();
            enc.finish().unwrap();
            assert!(gz == counted, "zlib stream depends on how input is fed");
        }
    }
}
