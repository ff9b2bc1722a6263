//! Build → read round trips over every data shape of a non-bootable image.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::{Options, Times};
use ifs::format::{DirentKind, S_IFMT};
use ifs::read::{Ifs, open};
use ifs::{Endian, WriteOptions};
use std::path::Path;

/// Loads `src` (a buildfile whose relative host paths are in `dir`).
fn manifest(dir: &Path, src: &str) -> buildfile::Manifest {
    let mut map = diag::SourceMap::new();
    let opts = Options {
        cwd: dir.to_path_buf(),
        times: Times::ZeroAll,
        ..Options::default()
    };
    let src = format!("[search={}]\n{src}", dir.display());
    let (m, d) = buildfile::load(&mut map, &[], "t.build", src.into_bytes(), &opts);
    assert!(d.is_empty(), "{d:?}");
    m.expect("manifest")
}

fn build(dir: &Path, src: &str, opts: &WriteOptions) -> Vec<u8> {
    ifs::build_to_vec(&manifest(dir, src), opts).expect("build")
}

struct Listed {
    path: String,
    ino: u32,
    mode: u32,
    data: Vec<u8>,
    target: Option<String>,
    offset: Option<u32>,
}

fn list(image: &[u8]) -> (Endian, Vec<Listed>) {
    let c = open(image).expect("open");
    let region = c.image_bytes().expect("region");
    let fs = Ifs::parse(&region).expect("parse");
    fs.verify().expect("verify");
    let mut out = Vec::new();
    for e in fs.entries() {
        let (_, d) = e.expect("dirent");
        out.push(Listed {
            path: String::from_utf8(d.path.to_vec()).unwrap(),
            ino: d.ino,
            mode: d.mode,
            data: fs.data(&d).expect("data").to_vec(),
            target: match d.kind {
                DirentKind::Symlink { target } => Some(String::from_utf8(target.to_vec()).unwrap()),
                _ => None,
            },
            offset: match d.kind {
                DirentKind::File { offset, .. } => Some(offset),
                _ => None,
            },
        });
    }
    (fs.endian(), out)
}

const SHAPES: &str = r#"
[uid=0 gid=0]
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

fn shapes_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..300_001u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.path().join("big.bin"), &big).unwrap();
    std::fs::write(d.path().join("small.txt"), b"small\n").unwrap();
    std::fs::write(d.path().join("tool.sh"), b"#!/bin/sh\necho tool\n").unwrap();
    std::fs::write(d.path().join("empty.bin"), b"").unwrap();
    d
}

#[test]
fn every_shape_round_trips_in_both_byte_orders() {
    let d = shapes_dir();
    for (attr, want) in [("", Endian::Little), ("[+bigendian]\n", Endian::Big)] {
        for v2 in [false, true] {
            let src = format!("{attr}{SHAPES}");
            let img = build(
                d.path(),
                &src,
                &WriteOptions {
                    trailer_v2: v2,
                    ..Default::default()
                },
            );
            let (e, l) = list(&img);
            assert_eq!(e, want);
            let get = |p: &str| {
                l.iter()
                    .find(|x| x.path == p)
                    .unwrap_or_else(|| panic!("{p}"))
            };
            assert_eq!(l[0].path, "");
            assert_eq!(l[0].ino, 1);
            assert_eq!(l[0].mode, 0o40755);
            assert_eq!(
                get("data/big").data,
                std::fs::read(d.path().join("big.bin")).unwrap()
            );
            assert_eq!(get("data/small").data, b"small\n");
            assert_eq!(get("bin/tool.sh").mode, 0o101755);
            assert_eq!(get("data/empty").data, b"");
            assert_eq!(get("var/run").mode, 0o40700);
            assert_eq!(get("bin/sh").target.as_deref(), Some("/proc/boot/ksh"));
            assert_eq!(get("bin/sh").mode & S_IFMT, 0o120000);
            assert_eq!(get("dev/fifo0").mode & S_IFMT, 0o010000);
            assert_eq!(get("etc/motd").data, b"Welcome.\n");
            // Inodes in buildfile order from 2.
            assert_eq!(get("data/big").ino, 2);
            assert_eq!(get("dev/fifo0").ino, 8);
            let script = ifs::script::decode(&get(".script").data).unwrap();
            let text = ifs::script::to_text(&script);
            assert_eq!(
                text,
                "display_msg hello world\n\
                 waitfor /dev/ser1 4\n\
                 reopen /dev/ser1 5\n\
                 procmgr_symlink ../../proc/boot/libc.so /usr/lib/ldqnx-64.so.2\n\
                 [cpu=1 pri=10f] PATH=/proc/boot devc-ser8250 -e -b115200 &\n\
                 sched_aps guests 60 100\n\
                 [+session sched_aps=guests] PATH=/proc/boot ksh &\n"
            );
        }
    }
}

#[test]
fn placement_follows_mkifs() {
    let d = shapes_dir();
    let img = build(d.path(), SHAPES, &WriteOptions::default());
    let (_, l) = list(&img);
    let order: Vec<&str> = l.iter().map(|x| x.path.as_str()).collect();
    // Zero-size entries right after the root, in reverse buildfile order;
    // then files by size, largest first (no aligned files here).
    assert_eq!(
        order,
        [
            "",
            "dev/fifo0",
            "bin/sh",
            "var/run",
            "data/empty",
            "data/big",
            ".script",
            "bin/tool.sh",
            "etc/motd",
            "data/small"
        ]
    );
    let big = l.iter().find(|x| x.path == "data/big").unwrap();
    let empty = l.iter().find(|x| x.path == "data/empty").unwrap();
    // The first data file starts right after the directory; the empty file
    // sits in the (empty) gap before it.
    assert_eq!(big.offset, empty.offset);
    let c = open(&img).unwrap();
    let fs = Ifs::parse(&c.data[c.image_at..]).unwrap();
    assert_eq!(big.offset, Some(fs.header.hdr_dir_size));
    // Data follows, unaligned, largest first.
    let mut offs: Vec<(u32, usize)> = l
        .iter()
        .filter(|x| !x.data.is_empty())
        .map(|x| (x.offset.unwrap(), x.data.len()))
        .collect();
    offs.sort();
    for w in offs.windows(2) {
        assert_eq!(w[0].0 as usize + w[0].1, w[1].0 as usize);
    }
}

#[test]
fn page_aligned_files_leave_gaps_that_small_files_fill() {
    let d = shapes_dir();
    let src =
        "[+page_align] /a = big.bin\n[+page_align] /b = small.txt\n/c = tool.sh\n/d = small.txt\n";
    let img = build(d.path(), src, &WriteOptions::default());
    let (_, l) = list(&img);
    let at = |p: &str| l.iter().find(|x| x.path == p).unwrap().offset.unwrap();
    assert_eq!(at("a") % 4096, 0);
    assert_eq!(at("b") % 4096, 0);
    assert_eq!(at("b"), (at("a") + 300_001).div_ceil(4096) * 4096);
    let order: Vec<&str> = l.iter().map(|x| x.path.as_str()).collect();
    // c (20 bytes) and d (6) go into the gap after the directory, before a.
    assert_eq!(order, ["", "c", "d", "a", "b"]);
    assert!(at("c") < at("a"));
    assert_eq!(at("d"), at("c") + 20);
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let d = shapes_dir();
    let a = build(d.path(), SHAPES, &WriteOptions::default());
    let b = build(d.path(), SHAPES, &WriteOptions::default());
    assert_eq!(a, b);
}

#[test]
fn tampering_is_detected() {
    let d = shapes_dir();
    for v2 in [false, true] {
        let opts = WriteOptions {
            trailer_v2: v2,
            ..Default::default()
        };
        let img = build(d.path(), SHAPES, &opts);
        let n = img.len();
        for at in [10usize, 200, n / 2, n - 1] {
            let mut t = img.clone();
            t[at] ^= 0x40;
            let ok = open(&t)
                .and_then(|c| {
                    let r = c.image_bytes()?.into_owned();
                    Ifs::parse(&r)?.verify()
                })
                .is_ok();
            assert!(!ok, "flipping byte {at} (v2 {v2}) went unnoticed");
        }
    }
}

#[test]
fn image_limits_are_enforced() {
    let d = shapes_dir();
    let m = manifest(d.path(), "[image=0x100000,0x1000]\n/data/big = big.bin\n");
    let e = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap_err();
    assert_eq!(e.code().id, "I0103");
    let m = manifest(d.path(), "[image=0x100000-0x10ffff]\n/data/big = big.bin\n");
    let e = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap_err();
    assert_eq!(e.code().id, "I0103", "{e}");
    let m = manifest(d.path(), "[image=0x100000-0x1fffff]\n/data/big = big.bin\n");
    assert!(ifs::build_to_vec(&m, &WriteOptions::default()).is_ok());
    // `%align` pads the whole file, trailer included (as mkifs); `=total`
    // pads it further.
    let m = manifest(d.path(), "[image=0x100000%4096]\n/data/small = small.txt\n");
    let img = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap();
    assert_eq!(img.len(), 4096);
    let m = manifest(
        d.path(),
        "[image=0x100000=0x3000]\n/data/small = small.txt\n",
    );
    let img = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap();
    assert_eq!(img.len(), 0x3000);
    let (_, l) = list(&img);
    assert_eq!(l[1].data, b"small\n");
}

#[test]
fn mount_point_and_chain() {
    let d = shapes_dir();
    let m = manifest(d.path(), "[mount=/ifs2 chain=0x800000]\n/a = small.txt\n");
    let img = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap();
    let fs = Ifs::parse(&img).unwrap();
    fs.verify().unwrap();
    assert_eq!(fs.header.mountpoint, b"/ifs2");
    assert_eq!(fs.header.chain_paddr, 0x800000);
    assert_eq!(fs.header.size(), 96);
}

/// Every kind of script command: compiled, decoded to text, that text
/// compiled again gives the same bytes.
#[test]
fn decoded_scripts_compile_back_to_the_same_bytes() {
    let d = shapes_dir();
    let script = r#"[+script] .script = {
    display_msg "two  spaces" and words
    waitfor /dev/ser1 2.5
    waitfor /dev/pci
    reopen
    reopen /dev/con2 1
    procmgr_symlink ../../proc/boot/libc.so /usr/lib/ldqnx-64.so.2
    PATH=/proc/boot:/bin
    LD_LIBRARY_PATH=/proc/boot
    sched_aps drivers 20 50
    sched_aps guests 40 0
    [pri=10f cpu=0] devc-ser8250 -e -b115200 0x3f8,4 &
    [pri=20r] io-pkt-v6-hc -d e1000 &
    [pri=5o argv0=sh2] /bin/ksh -c "echo a b" &
    [sched_aps=guests] qvm @/vm/config/a.qvmconf &
    [sched_aps=drivers +session +debug] TERM=qansi ksh -l
    [+external] waitfor
    FOO=bar
    env
}
"#;
    let first = build(d.path(), script, &WriteOptions::default());
    let text = {
        let c = open(&first).unwrap();
        let r = c.image_bytes().unwrap().into_owned();
        let fs = Ifs::parse(&r).unwrap();
        let s = fs.script().unwrap().unwrap().to_vec();
        ifs::script::to_text(&ifs::script::decode(&s).unwrap())
    };
    assert!(text.contains("[argv0=sh2 pri=5o] PATH=/proc/boot:/bin LD_LIBRARY_PATH=/proc/boot /bin/ksh -c \"echo a b\" &"), "{text}");
    assert!(
        text.contains(
            "waitfor /dev/ser1 2.5\nwaitfor /dev/pci 5\nreopen /dev/console 5\nreopen /dev/con2 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("[+debug +session sched_aps=drivers]"),
        "{text}"
    );
    let again = build(
        d.path(),
        &format!("[+script] .script = {{\n{text}}}\n"),
        &WriteOptions::default(),
    );
    assert_eq!(first, again, "decoded text:\n{text}");
}

/// An image read back as a Manifest builds the same image again.
#[test]
fn an_image_read_back_as_a_manifest_rebuilds_the_same_bytes() {
    let d = shapes_dir();
    for attr in ["", "[+bigendian]\n", "[+compress]\n"] {
        let first = build(
            d.path(),
            &format!("{attr}{SHAPES}"),
            &WriteOptions::default(),
        );
        let c = open(&first).unwrap();
        let r = c.image_bytes().unwrap().into_owned();
        let fs = Ifs::parse(&r).unwrap();
        let m = ifs::manifest::to_manifest(&c, &fs).unwrap();
        assert_eq!(m.entries[0].path, "data/big");
        assert_eq!(m.entries.len(), 9);
        assert!(matches!(
            m.script[0].kind,
            buildfile::ScriptKind::DisplayMsg { .. }
        ));
        let again = ifs::build_to_vec(&m, &WriteOptions::default()).unwrap();
        assert_eq!(first, again, "{attr:?}");
    }
}

/// A decoded command is printed as `hvhost manifest` prints a buildfile's
/// (one renderer); what no modifier says (the critical flag) is a comment,
/// and a partition id without a name is `#id`.
#[test]
fn records_print_as_buildfile_commands() {
    use ifs::script::{Record, flags};
    let r = Record::External {
        cpu: 0,
        flags: flags::CRITICAL | flags::EXTSCHED | flags::BACKGROUND,
        partition: 3,
        policy: 0,
        priority: 0,
        path: "/bin/x".into(),
        argv: vec!["x".into(), "a b".into()],
        env: vec!["A=1".into()],
    };
    assert_eq!(
        r.to_line(&["System".into()]),
        "[sched_aps=#3] A=1 /bin/x \"a b\" & # critical (flag 0x80)"
    );
    let u = Record::Unknown { ty: 9, size: 12 };
    assert_eq!(u.to_line(&[]), "# unknown record type 9, 12 bytes");
}
