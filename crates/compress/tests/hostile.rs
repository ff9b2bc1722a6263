//! Corrupted, truncated and hostile streams are rejected with an error:
//! never a panic, never more output than allowed.

mod common;

use compress::{BlockError, Error, Method, Options, decompress, decompress_to};

fn packed(method: Method) -> (Vec<u8>, Vec<u8>) {
    packed_of(method, 40 * 1024)
}

fn packed_of(method: Method, size: usize) -> (Vec<u8>, Vec<u8>) {
    let data = common::image_like(size, 31);
    (compress::compress(method, &data, &Options::default()), data)
}

#[test]
fn every_truncation_is_an_error() {
    for method in Method::ALL {
        let (stream, data) = packed(method);
        // Every cut in the first and last 300 bytes, and every 97th elsewhere.
        let cuts = (0..stream.len()).filter(|&n| n < 300 || n + 300 > stream.len() || n % 97 == 0);
        for n in cuts {
            match decompress(method, &stream[..n], data.len() as u64) {
                Err(Error::Truncated { .. } | Error::Block { .. } | Error::Gzip(_)) => {}
                other => panic!("{method} cut at {n}/{}: {other:?}", stream.len()),
            }
        }
    }
}

#[test]
fn corrupted_bytes_never_panic_or_overflow() {
    for method in Method::ALL {
        let (stream, data) = packed(method);
        let limit = data.len() as u64;
        let mut rng = common::Rng::new(method.code().into());
        for _ in 0..600 {
            let mut bad = stream.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bad.len());
                bad[at] ^= 1 << rng.below(8);
            }
            if let Ok(out) = decompress(method, &bad, limit) {
                assert!(out.len() as u64 <= limit);
            }
        }
    }
}

#[test]
fn output_limit_is_enforced() {
    for method in Method::ALL {
        let (stream, data) = packed(method);
        let n = data.len() as u64;
        assert_eq!(decompress(method, &stream, n).unwrap().len() as u64, n);
        match decompress(method, &stream, n - 1) {
            Err(Error::TooLarge { limit, .. }) => assert_eq!(limit, n - 1),
            other => panic!("{method}: {other:?}"),
        }
        let mut sink = Vec::new();
        assert!(matches!(
            decompress_to(method, &stream, 0, &mut sink),
            Err(Error::TooLarge { limit: 0, .. })
        ));
    }
}

#[test]
fn a_small_stream_claiming_huge_output_is_cut_off() {
    // 16 MiB of zeros compress to a few KiB; with a 1 MiB limit the decoder
    // stops with an error instead of producing it.
    for method in Method::ALL {
        let bomb = compress::compress(method, &vec![0u8; 16 << 20], &Options::default());
        assert!(bomb.len() < 100 * 1024, "{method} {}", bomb.len());
        assert!(matches!(
            decompress(method, &bomb, 1 << 20),
            Err(Error::TooLarge { .. })
        ));
    }
    // One UCL block that expands past the per-block bound: 'a' and a repeat
    // match of about 80 MiB (length gamma with 26 data bits).
    let mut bits: Vec<u8> = vec![1, 0, 0, 1, 0, 0];
    for _ in 0..25 {
        bits.extend([1, 0]);
    }
    bits.extend([1, 1]);
    let mut block = Vec::new();
    for (i, chunk) in bits.chunks(8).enumerate() {
        let mut b = 0u8;
        for (j, &bit) in chunk.iter().enumerate() {
            b |= bit << (7 - j);
        }
        block.push(b);
        if i == 0 {
            block.push(b'a');
        }
    }
    let mut stream = (block.len() as u16).to_be_bytes().to_vec();
    stream.extend_from_slice(&block);
    stream.extend_from_slice(&[0, 0]);
    match decompress(Method::Ucl, &stream, 1 << 32) {
        Err(Error::Block {
            source: BlockError::OutputLimit,
            index: 0,
            offset: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn framing_errors_name_the_block() {
    let (stream, data) = packed_of(Method::Ucl, 150 * 1024);
    // Find the second block and corrupt its length so it swallows the rest.
    let first = usize::from(u16::from_be_bytes([stream[0], stream[1]]));
    let second = 2 + first;
    let mut bad = stream.clone();
    bad[second] = 0xff;
    bad[second + 1] = 0xff;
    let err = decompress(Method::Ucl, &bad, data.len() as u64).unwrap_err();
    match &err {
        Error::Block {
            index: 1, offset, ..
        } if *offset == second => {}
        Error::Truncated { .. } => {}
        other => panic!("{other:?}"),
    }
    // The message says which block and where.
    let mut bad = stream.clone();
    bad[second + 2] ^= 0xff;
    bad[second + 3] ^= 0xff;
    if let Err(e) = decompress(Method::Ucl, &bad, data.len() as u64) {
        let text = e.to_string();
        assert!(text.starts_with("UCL block 1 at byte "), "{text}");
    }
    assert_eq!(
        decompress(Method::Lzo, &[], 10).unwrap_err().to_string(),
        "the LZO stream ends at byte 0, before its end marker"
    );
}

#[test]
fn garbage_is_not_a_gzip_stream() {
    assert!(matches!(
        decompress(Method::Zlib, b"not gzip at all", 100),
        Err(Error::Gzip(_) | Error::Truncated { .. })
    ));
    assert!(decompress(Method::Zlib, &[], 100).is_err());
    assert!(decompress(Method::Zlib, &[0x1f, 0x8b], 100).is_err());
    // A valid LZO or UCL stream is not a valid stream of the other method.
    let (ucl, data) = packed(Method::Ucl);
    assert!(decompress(Method::Lzo, &ucl, data.len() as u64).is_err());
}
