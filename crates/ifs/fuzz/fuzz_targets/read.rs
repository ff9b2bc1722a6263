//! Any bytes as an IFS image: locating, decompressing, verifying, walking
//! the directory, reading every file, decoding the boot script and reading
//! the image back as a Manifest must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = ifs::read::open(data) else { return };
    let _ = c.verify_outer();
    let _ = c.preboot();
    let _ = c.startup_region();
    let Ok(region) = c.image_bytes() else { return };
    // Decompression is bounded by the header's uncompressed size.
    if let Some((_, h)) = &c.startup {
        if c.compression.is_some() {
            assert!(region.len() as u64 <= h.imagefs_size as u64);
        }
    }
    let Ok(fs) = ifs::read::Ifs::parse(&region) else { return };
    let _ = fs.verify();
    for e in fs.entries().take(100_000) {
        let Ok((at, d)) = e else { break };
        assert!(at < fs.bytes.len());
        if let Ok(b) = fs.data(&d) {
            assert!(b.len() <= fs.bytes.len());
        }
    }
    // The whole image as a Manifest (copies every file: bounded by the region).
    let _ = ifs::manifest::to_manifest(&c, &fs);
    if let Ok(Some(s)) = fs.script() {
        if let Ok(r) = ifs::script::decode(s) {
            let _ = ifs::script::to_text(&r);
        }
    }
});
