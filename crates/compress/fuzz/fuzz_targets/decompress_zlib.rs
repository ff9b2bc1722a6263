//! Hostile gzip streams.
#![no_main]

use compress::{Method, decompress_to};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if let Ok(info) = decompress_to(Method::Zlib, data, LIMIT, &mut out) {
        assert!(info.consumed <= data.len());
        assert_eq!(info.produced, out.len() as u64);
        assert!(out.len() as u64 <= LIMIT);
    }
});
