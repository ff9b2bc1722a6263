#![no_main]
//! virtio-console's receive queue (first byte even) or transmit queue.

use libfuzzer_sys::fuzz_target;
use vdev::virtio::console::Console;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let input = rest.iter().take(64).copied().collect();
    let mut con = Console::new(Box::new(std::io::sink()), input);
    hvhost_fuzz::run(&mut con, usize::from(which & 1), rest);
});
