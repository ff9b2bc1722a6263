#![no_main]
//! virtio-entropy's request queue.

use libfuzzer_sys::fuzz_target;
use vdev::virtio::entropy::Entropy;

fuzz_target!(|data: &[u8]| hvhost_fuzz::run(&mut Entropy, 0, data));
