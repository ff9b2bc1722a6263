//! Hostile UCL streams: framed (as in an IFS image) and raw NRV2B blocks with
//! both bit buffers. Nothing may panic, and no output may exceed its limit.
#![no_main]

use compress::nrv2b::{self, BitBuffer};
use compress::{Method, decompress};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = decompress(Method::Ucl, data, LIMIT as u64) {
        assert!(out.len() <= LIMIT);
    }
    for bits in [BitBuffer::Byte, BitBuffer::Le32] {
        let mut out = vec![1, 2, 3];
        if nrv2b::decompress(data, bits, LIMIT, &mut out).is_ok() {
            assert!(out.len() <= LIMIT + 3);
            assert_eq!(&out[..3], [1, 2, 3]);
        }
    }
});
