//! Bootable images: a startup program and a kernel built by the test with
//! the system assembler and linker, a bootfile with a preboot area, every
//! compression, and relocatable programs linked through `linker=`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::{Options, Times};
use ifs::elf::{Elf, PT_LOAD};
use ifs::format::{DirentKind, STARTUP_HEADER_SIZE, ino_flags};
use ifs::read::{Ifs, open, verify_region};
use ifs::{Endian, WriteOptions};
use std::path::Path;
use std::process::Command;

fn run(cmd: &str, args: &[&str], dir: &Path) {
    let st = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(st.success(), "{cmd} {args:?}");
}

const STARTUP_S: &str =
    ".globl _start\n.text\n_start:\n hlt\n jmp _start\n.data\n.ascii \"ddpvbskr\"\n.space 120\n";
const KERNEL_S: &str =
    ".globl _start\n.text\n_start:\n nop\n ret\n.data\n.ascii \"ddpvbskr\"\n.space 248\n";

/// A directory with `startup` (linked at 0x200100), `startup.o`,
/// `procnto` (linked at 0x400000), `test.boot` (16-byte preboot), `a.txt`.
fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("start.S"), STARTUP_S).unwrap();
    std::fs::write(p.join("kern.S"), KERNEL_S).unwrap();
    run("cc", &["-c", "start.S", "-o", "startup.o"], p);
    run("cc", &["-c", "kern.S", "-o", "kern.o"], p);
    run(
        "ld",
        &[
            "-N",
            "-Ttext=0x200100",
            "-e",
            "_start",
            "--no-warn-rwx-segments",
            "-o",
            "startup",
            "startup.o",
        ],
        p,
    );
    run(
        "ld",
        &["-Ttext=0x400000", "-e", "_start", "-o", "procnto", "kern.o"],
        p,
    );
    let mut boot = b"[\nlen=0x10\n+rsvd_vaddr\n]\nboot".to_vec();
    boot.extend_from_slice(b"PREBOOT!");
    std::fs::write(p.join("test.boot"), boot).unwrap();
    std::fs::write(p.join("a.txt"), b"some data\n").unwrap();
    d
}

fn manifest(dir: &Path, src: &str) -> buildfile::Manifest {
    let mut map = diag::SourceMap::new();
    let opts = Options {
        cwd: dir.to_path_buf(),
        times: Times::ZeroAll,
        ..Options::default()
    };
    let src = format!("[search={}]\n{src}", dir.display());
    let (m, d) = buildfile::load(&mut map, &[], "t.build", src.into_bytes(), &opts);
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
    m.expect("manifest")
}

fn buildfile(attrs: &str, startup: &str) -> String {
    format!(
        "[image=0x1ffff0 {attrs}]\n[physical=x86_64,test] boot = {{\n    {startup} -v -D 8250\n    PATH=/proc/boot procnto -v\n}}\n[+script] .script = {{\n    display_msg hi\n}}\n/etc/a = a.txt\n"
    )
}

fn build(dir: &Path, src: &str, opts: &WriteOptions) -> Result<Vec<u8>, ifs::WriteError> {
    ifs::build_to_vec(&manifest(dir, src), opts)
}

fn cstrs(b: &[u8], n: usize) -> Vec<String> {
    b.split(|&c| c == 0)
        .take(n)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Checks a bootable image thoroughly; returns the decompressed region.
fn check_bootable(img: &[u8], dir: &Path, v2: bool) {
    check_bootable_as(img, dir, v2, "startup")
}

fn check_bootable_as(img: &[u8], dir: &Path, v2: bool, argv0: &str) {
    assert_eq!(&img[..8], b"PREBOOT!");
    assert_eq!(&img[8..16], &[0; 8]);
    let c = open(img).unwrap();
    let (at, h) = c.startup.clone().unwrap();
    assert_eq!(at, 16);
    assert_eq!(h.preboot_size, 16);
    assert_eq!(h.machine, 62);
    assert_eq!(h.image_paddr, 0x200000);
    assert_eq!(h.ram_paddr, 0x200000);
    assert_eq!(h.startup_vaddr, 0x200100);
    assert_eq!(h.trailer_v2(), v2);
    assert_eq!((16 + h.startup_size) % 8, 0);
    c.verify_outer().unwrap();
    // The startup code right after the header: the program's bytes with
    // the argument block patched over the marker.
    let code = &img[at + STARTUP_HEADER_SIZE..];
    assert_eq!(&code[..3], &[0xf4, 0xeb, 0xfd]);
    let args = &code[3..];
    let size = u16::from_le_bytes([args[0], args[1]]) as usize;
    assert_eq!((args[2], args[3]), (4, 0));
    assert_eq!(u32::from_le_bytes(args[4..8].try_into().unwrap()), 0x200000);
    assert_eq!(cstrs(&args[8..], 4), [argv0, "-v", "-D", "8250"]);
    assert_eq!(size, 8 + argv0.len() + " -v -D 8250 ".len() + 1);

    let region = c.image_bytes().unwrap();
    let fs = Ifs::parse(&region).unwrap();
    fs.verify().unwrap();
    assert_eq!(fs.header.mountpoint, b"/");
    assert_eq!(h.imagefs_size, fs.header.image_size);
    let k = fs.by_ino(fs.header.boot_ino[0]).expect("kernel");
    assert_eq!(k.path, b"proc/boot/procnto");
    assert_eq!(
        k.ino & ino_flags::MASK,
        ino_flags::PROCESSED_ELF | ino_flags::RUNONCE | ino_flags::BOOTSTRAP
    );
    let DirentKind::File { offset, .. } = k.kind else {
        panic!()
    };
    let header_paddr = 0x200000 + h.startup_size as u64;
    assert_eq!((header_paddr + offset as u64) % 4096, 0);
    // p_paddr of every PT_LOAD says where its bytes are.
    let kb = fs.data(&k).unwrap();
    let elf = Elf::parse(kb).unwrap();
    for s in elf
        .segments(kb)
        .unwrap()
        .iter()
        .filter(|s| s.p_type == PT_LOAD)
    {
        assert_eq!(s.paddr, header_paddr + offset as u64 + s.offset);
    }
    // The kernel's argument block carries the boot block's environment.
    let m = kb.windows(8).position(|w| w == b"procnto\0").unwrap() - 8;
    assert_eq!((kb[m + 2], kb[m + 3]), (2, 1));
    assert_eq!(cstrs(&kb[m + 8..], 3), ["procnto", "-v", "PATH=/proc/boot"]);
    // Everything else is the original file.
    let orig = std::fs::read(dir.join("procnto")).unwrap();
    assert_eq!(kb.len(), orig.len());
    let diff = kb.iter().zip(&orig).filter(|(a, b)| a != b).count();
    assert!(diff > 0 && diff < 64, "{diff} bytes differ");
    let script = fs.script().unwrap().unwrap();
    assert_eq!(
        ifs::script::to_text(&ifs::script::decode(script).unwrap()),
        "display_msg hi\n"
    );
}

#[test]
fn a_bootable_image_has_its_startup_header_code_and_kernel() {
    let d = setup();
    for v2 in [false, true] {
        let img = build(
            d.path(),
            &buildfile("", "startup"),
            &WriteOptions {
                trailer_v2: v2,
                ..Default::default()
            },
        )
        .unwrap();
        check_bootable(&img, d.path(), v2);
        let c = open(&img).unwrap();
        let (_, h) = c.startup.clone().unwrap();
        assert_eq!(h.stored_size as usize, img.len() - 16);
        assert_eq!(c.compression, None);
    }
}

#[test]
fn every_compression_of_a_bootable_image() {
    let d = setup();
    let plain = build(
        d.path(),
        &buildfile("", "startup"),
        &WriteOptions::default(),
    )
    .unwrap();
    let pc = open(&plain).unwrap();
    let plain_region = pc.image_bytes().unwrap().into_owned();
    for (n, m) in [
        (1, compress::Method::Zlib),
        (2, compress::Method::Lzo),
        (3, compress::Method::Ucl),
    ] {
        for v2 in [false, true] {
            let opts = WriteOptions {
                trailer_v2: v2,
                ..Default::default()
            };
            let img = build(
                d.path(),
                &buildfile(&format!("compress={n}"), "startup"),
                &opts,
            )
            .unwrap();
            check_bootable(&img, d.path(), v2);
            let c = open(&img).unwrap();
            assert_eq!(c.compression, Some(m));
            let (_, h) = c.startup.clone().unwrap();
            assert_eq!(h.stored_size as usize, img.len() - 16);
            assert_eq!(h.flags1 & 0x1c, n << 2);
            if !v2 {
                assert_eq!(c.image_bytes().unwrap().as_ref(), plain_region.as_slice());
            }
            // Tampering with the compressed stream is caught by the outer trailer.
            let mut t = img.clone();
            let at = c.image_at + 9;
            t[at] ^= 0x10;
            let bad = open(&t).unwrap();
            assert!(bad.verify_outer().is_err());
            // The startup region is checksummed too.
            let mut t = img.clone();
            t[16 + 260] ^= 1;
            assert!(open(&t).unwrap().verify_outer().is_err());
        }
    }
}

#[test]
fn compressed_non_bootable_images_get_a_startup_header() {
    let d = setup();
    for e in ["", "+bigendian"] {
        let src = format!("[{e} +compress]\n/a = a.txt\n/b = procnto\n");
        let img = build(d.path(), &src, &WriteOptions::default()).unwrap();
        let c = open(&img).unwrap();
        let (at, h) = c.startup.clone().unwrap();
        assert_eq!(at, 0);
        assert_eq!(h.startup_size, 260);
        assert_eq!(
            h.endian,
            if e.is_empty() {
                Endian::Little
            } else {
                Endian::Big
            }
        );
        c.verify_outer().unwrap();
        let r = c.image_bytes().unwrap();
        let fs = Ifs::parse(&r).unwrap();
        fs.verify().unwrap();
        verify_region(&r, fs.endian(), false, "image").unwrap();
        assert_eq!(fs.entries().count(), 3);
    }
}

#[test]
fn a_relocatable_startup_is_linked_for_its_place() {
    let d = setup();
    let src = format!(
        "[linker=\"ld -N -Ttext=0x%t -e _start --no-warn-rwx-segments -o %o %i\"]\n{}",
        buildfile("", "startup.o")
    );
    let img = build(d.path(), &src, &WriteOptions::default()).unwrap();
    let c = open(&img).unwrap();
    let (_, h) = c.startup.clone().unwrap();
    assert_eq!(h.startup_vaddr, 0x200100);
    check_bootable_as(&img, d.path(), false, "startup.o");
}

#[test]
fn a_missing_linker_names_the_program_and_the_linker() {
    let d = setup();
    let src = format!(
        "[linker=\"no-such-ld-for-tests -Ttext 0x%t -o %o %i\"]\n{}",
        buildfile("", "startup.o")
    );
    let e = build(d.path(), &src, &WriteOptions::default()).unwrap_err();
    assert_eq!(e.code().id, "I0106");
    let msg = e.to_string();
    assert!(
        msg.contains("`startup.o`") && msg.contains("`no-such-ld-for-tests`"),
        "{msg}"
    );
    // No template at all.
    let e = build(
        d.path(),
        &buildfile("", "startup.o"),
        &WriteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code().id, "I0106");
}

#[test]
fn a_startup_linked_elsewhere_is_an_error_with_the_fix() {
    let d = setup();
    let src = buildfile("", "startup").replace("image=0x1ffff0", "image=0x300000");
    let e = build(d.path(), &src, &WriteOptions::default()).unwrap_err();
    assert_eq!(e.code().id, "I0107");
    let dg = e.to_diagnostic();
    assert!(format!("{dg:?}").contains("image=0x1ffff0"), "{dg:?}");
    // Without image=, the base follows from where the startup is linked.
    let src = buildfile("", "startup").replace("[image=0x1ffff0 ]\n", "");
    let img = build(d.path(), &src, &WriteOptions::default()).unwrap();
    check_bootable(&img, d.path(), false);
}

#[test]
fn a_bootable_image_read_back_as_a_manifest() {
    let d = setup();
    let img = build(
        d.path(),
        &buildfile("+compress", "startup"),
        &WriteOptions::default(),
    )
    .unwrap();
    let c = open(&img).unwrap();
    let r = c.image_bytes().unwrap().into_owned();
    let fs = Ifs::parse(&r).unwrap();
    let m = ifs::manifest::to_manifest(&c, &fs).unwrap();
    let b = m.boot.as_ref().expect("boot");
    assert_eq!(b.cpu.as_deref(), Some("x86_64"));
    assert_eq!(b.mode, buildfile::BootMode::Physical);
    assert_eq!(b.startup.name, "startup");
    assert_eq!(b.startup.args, ["-v", "-D", "8250"]);
    assert_eq!(b.bootstrap.len(), 1);
    let k = &b.bootstrap[0];
    assert_eq!(k.name, "procnto");
    assert_eq!(k.args, ["-v"]);
    assert_eq!(k.env.len(), 1);
    assert_eq!(
        (k.env[0].name.as_str(), k.env[0].value.as_str()),
        ("PATH", "/proc/boot")
    );
    let e = &m.entries[k.entry.unwrap()];
    assert_eq!(e.path, "proc/boot/procnto");
    assert_eq!(e.file().unwrap().role, buildfile::FileRole::Bootstrap(0));
    assert_eq!(m.image.compression, Some(buildfile::Compression::Ucl));
    assert_eq!(m.image.mountpoint, "/");
    assert_eq!(m.image.image.start, Some(0x1ffff0));
    assert!(
        matches!(&m.script[0].kind, buildfile::ScriptKind::DisplayMsg { text } if text == "hi")
    );
}
