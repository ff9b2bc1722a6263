//! Any input compresses and decompresses back to itself, with every method,
//! at the level and thread count the first byte picks.
#![no_main]

use compress::{Level, Method, Options, compress, decompress};
use compress::nrv2b::{self, BitBuffer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let level = Level::new(sel % 10 + 1).unwrap();
    let options = Options { level, threads: usize::from(sel >> 7) + 1 };
    for method in Method::ALL {
        let packed = compress(method, data, &options);
        let back = decompress(method, &packed, data.len() as u64).unwrap();
        assert!(back == data, "{method} level {}", level.get());
    }
    let bits = if sel & 0x40 == 0 { BitBuffer::Byte } else { BitBuffer::Le32 };
    let mut packed = Vec::new();
    nrv2b::compress(data, bits, level, &mut packed);
    let mut back = Vec::new();
    nrv2b::decompress(&packed, bits, data.len(), &mut back).unwrap();
    assert!(back == data);
});
