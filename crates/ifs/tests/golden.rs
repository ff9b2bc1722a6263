//! Golden images: the writer's exact bytes for fixed inputs, compared byte
//! for byte with `tests/golden/*.ifs` (`HVHOST_BLESS=1` rewrites them).
//! Every input is made here, owners and permissions are set in the
//! buildfile and times are zeroed (`-nn`), so the bytes do not depend on
//! the machine. The ELF programs are assembled by hand for the same reason.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use buildfile::{Options, Times};
use common::golden;
use ifs::WriteOptions;
use std::path::Path;

/// A minimal static ELF64 x86_64 executable: one PT_LOAD holding `code` at
/// `vaddr` (file offset 0x78), entry at `vaddr`.
fn elf64(vaddr: u64, code: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&62u16.to_le_bytes()); // x86_64
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&vaddr.to_le_bytes()); // e_entry
    b.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    b.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    b.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    b.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    b.extend_from_slice(&[0; 6]);
    // Program header.
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&7u32.to_le_bytes());
    b.extend_from_slice(&0x78u64.to_le_bytes());
    b.extend_from_slice(&vaddr.to_le_bytes());
    b.extend_from_slice(&vaddr.to_le_bytes());
    b.extend_from_slice(&(code.len() as u64).to_le_bytes());
    b.extend_from_slice(&(code.len() as u64 + 64).to_le_bytes());
    b.extend_from_slice(&16u64.to_le_bytes());
    assert_eq!(b.len(), 0x78);
    b.extend_from_slice(code);
    b
}

fn inputs(dir: &Path) {
    let w = |n: &str, b: &[u8]| std::fs::write(dir.join(n), b).unwrap();
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 253) as u8).collect();
    w("big.bin", &big);
    w("small.txt", b"small\n");
    w("tool.sh", b"#!/bin/sh\necho tool\n");
    w("empty.bin", b"");
    let mut code = vec![0xf4, 0xeb, 0xfd];
    code.extend_from_slice(b"ddpvbskr");
    code.resize(160, 0);
    w("startup-golden", &elf64(0x200100, &code));
    let mut k = vec![0x90, 0xc3];
    k.extend_from_slice(b"ddpvbskr");
    k.resize(200, 0);
    w("kernel-golden", &elf64(0x400000, &k));
    w("golden.boot", b"[\nlen=0x20\npagesize=0x1000\n]\nbootPRE!");
}

const SHAPES: &str = r#"[uid=0 gid=0 perms=0644]
/data/big = big.bin
/data/small = small.txt
[perms=0755] /bin/tool.sh = tool.sh
/data/empty = empty.bin
[type=dir dperms=0700] /var/run
[type=link] /bin/sh = /proc/boot/ksh
[type=fifo] /dev/fifo0
/etc/motd = {
Welcome.
}
[+script] .script = {
    display_msg "hello world"
    waitfor /dev/ser1 4
    reopen /dev/ser1
    procmgr_symlink ../../proc/boot/libc.so /usr/lib/ldqnx-64.so.2
    PATH=/proc/boot
    [pri=10f cpu=1] devc-ser8250 -e -b115200 &
    sched_aps guests 60 100
    [sched_aps=guests +session] ksh &
}
"#;

const BOOT: &str = r#"[image=0x1fffe0]
[physical=x86_64,golden] boot = {
    startup-golden -v
    PATH=/proc/boot kernel-golden -v
}
[uid=0 gid=0 perms=0644]
[+script] .script = {
    display_msg booting
    [+session] ksh &
}
/etc/motd = {
hi
}
[perms=0755] /bin/tool.sh = tool.sh
"#;

fn build(dir: &Path, src: &str, opts: &WriteOptions) -> Vec<u8> {
    let mut map = diag::SourceMap::new();
    let o = Options {
        cwd: dir.to_path_buf(),
        times: Times::ZeroAll,
        ..Options::default()
    };
    let src = format!("[search={}]\n{src}", dir.display());
    let (m, d) = buildfile::load(&mut map, &[], "golden.build", src.into_bytes(), &o);
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
    ifs::build_to_vec(&m.unwrap(), opts).unwrap()
}

#[test]
fn golden_images() {
    let d = tempfile::tempdir().unwrap();
    inputs(d.path());
    let v1 = WriteOptions::default();
    let v2 = WriteOptions {
        trailer_v2: true,
        ..Default::default()
    };
    let cases: &[(&str, String, &WriteOptions)] = &[
        ("shapes-le.ifs", SHAPES.to_string(), &v1),
        ("shapes-be.ifs", format!("[+bigendian]\n{SHAPES}"), &v1),
        ("shapes-v2.ifs", SHAPES.to_string(), &v2),
        ("shapes-zlib.ifs", format!("[compress=1]\n{SHAPES}"), &v1),
        ("shapes-lzo.ifs", format!("[compress=2]\n{SHAPES}"), &v1),
        ("shapes-ucl.ifs", format!("[+compress]\n{SHAPES}"), &v1),
        (
            "shapes-ucl-be-v2.ifs",
            format!("[+compress +bigendian]\n{SHAPES}"),
            &v2,
        ),
        ("boot.ifs", BOOT.to_string(), &v1),
        ("boot-ucl-v2.ifs", format!("[+compress]\n{BOOT}"), &v2),
    ];
    for (name, src, opts) in cases {
        let img = build(d.path(), src, opts);
        golden(name, &img);
        // And every golden image reads back and verifies.
        let c = ifs::read::open(&img).unwrap();
        c.verify_outer().unwrap();
        let r = c.image_bytes().unwrap();
        ifs::read::Ifs::parse(&r).unwrap().verify().unwrap();
    }
}
