#![no_main]
//! virtio-blk's request queue, on a 16-sector host file (read-only when
//! the first byte is odd).

use std::fs::File;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vdev::virtio::blk::Blk;

fn disk() -> &'static File {
    static DISK: OnceLock<File> = OnceLock::new();
    DISK.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("hvhost-fuzz-blk-{}", std::process::id()));
        std::fs::write(&path, vec![0x5a; 16 * 512]).expect("disk");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open disk");
        let _ = std::fs::remove_file(&path);
        f
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = disk().try_clone().expect("dup");
    let ro = mode & 1 == 1;
    let mut blk = Blk::with(file, 16, ro, true, "fuzz.img");
    hvhost_fuzz::run(&mut blk, 0, rest);
});
