//! Hostile LZO streams: framed (as in an IFS image) and raw LZO1X blocks.
#![no_main]

use compress::{Method, decompress, lzo};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = decompress(Method::Lzo, data, LIMIT as u64) {
        assert!(out.len() <= LIMIT);
    }
    let mut out = vec![1, 2, 3];
    if lzo::decompress(data, LIMIT, &mut out).is_ok() {
        assert!(out.len() <= LIMIT + 3);
        assert_eq!(&out[..3], [1, 2, 3]);
    }
});
