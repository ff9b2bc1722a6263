#![no_main]
//! virtio-net's receive queue (first byte even; frames waiting for it) or
//! transmit queue (the cable unplugged).

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use vdev::virtio::net::Net;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let logger = vdev::Logger::new(&Default::default(), "fuzz", Instant::now());
    let net = Net::unplugged([2, 0, 0, 0, 0, 1], logger).expect("net");
    let mut net = net;
    if which & 1 == 0 {
        for n in [60, 1514, 9000] {
            net.deliver(&rest[..rest.len().min(n)]);
        }
    }
    hvhost_fuzz::run(&mut net, usize::from(which & 1), rest);
});
