//! What mkifs writes, case by case (issue 13): each test builds an image
//! from inputs made here and checks the fields mkifs sets, read back from
//! the written bytes. Where a byte-for-byte golden is kept it is
//! `tests/golden/parity-*.ifs` (`HVHOST_BLESS=1` rewrites them).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use buildfile::{Options, Times};
use common::golden;
use ifs::format::*;
use ifs::read::{Ifs, open};
use ifs::script::{Record, decode};
use ifs::{WriteOptions, build_to_vec};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A static ELF file (64-bit x86_64 or 32-bit x86) of type `e_type` with
/// one PT_LOAD of flags `p_flags` holding `code` at `vaddr`, right after
/// the headers, and 64 bytes of `.bss`.
fn elf(is64: bool, e_type: u16, p_flags: u32, vaddr: u64, code: &[u8]) -> Vec<u8> {
    ifs::elf::write(&ifs::elf::OneSegment {
        is64,
        endian: ifs::Endian::Little,
        e_type,
        machine: if is64 { 62 } else { 3 },
        entry: vaddr,
        addr: vaddr,
        flags: p_flags,
        code,
        bss: 64,
    })
}

fn elf64(e_type: u16, p_flags: u32, vaddr: u64, code: &[u8]) -> Vec<u8> {
    elf(true, e_type, p_flags, vaddr, code)
}

fn elf32(e_type: u16, p_flags: u32, vaddr: u32, code: &[u8]) -> Vec<u8> {
    elf(false, e_type, p_flags, vaddr.into(), code)
}

const PF_RX: u32 = 5;
const PF_RW: u32 = 6;

fn write(dir: &Path, name: &str, bytes: &[u8], mode: u32) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The inputs: ELF programs and libraries, a flat kernel, a startup, a
/// bootfile, a script file.
fn inputs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "ro-prog",
        &elf64(2, PF_RX, 0x40_0000, &[0xc3; 64]),
        0o755,
    );
    write(
        dir,
        "rw-prog",
        &elf64(2, PF_RW, 0x40_0000, &[0xc3; 64]),
        0o755,
    );
    write(dir, "libw.so", &elf64(3, PF_RW, 0, &[0; 64]), 0o644);
    write(
        dir,
        "ro32",
        &elf32(2, PF_RX, 0x0804_8000, &[0xc3; 64]),
        0o755,
    );
    write(dir, "libw32.so", &elf32(3, PF_RW, 0, &[0; 64]), 0o644);
    let mut s = vec![0xf4, 0xeb, 0xfd];
    s.extend_from_slice(BOOTARGS_MARKER);
    s.resize(160, 0);
    write(dir, "startup-p", &elf64(2, 7, 0x200100, &s), 0o755);
    let mut k = vec![0x90; 16];
    k.extend_from_slice(BOOTARGS_MARKER);
    k.resize(300, 0);
    write(dir, "flat-kernel", &k, 0o755);
    write(dir, "p.boot", b"[\npagesize=0x1000\n]\n", 0o644);
    write(dir, "boot.txt", b"display_msg from a file\n", 0o644);
    write(dir, "small.txt", b"small\n", 0o644);
    d
}

fn load(dir: &Path, src: &str, times: Times) -> buildfile::Manifest {
    let mut map = diag::SourceMap::new();
    let o = Options {
        cwd: dir.to_path_buf(),
        times,
        now: 12345,
        ..Options::default()
    };
    let src = format!("[search={} uid=0 gid=0]\n{src}", dir.display());
    let (m, d) = buildfile::load(&mut map, &[], "p.build", src.into_bytes(), &o);
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
    m.unwrap()
}

fn build(dir: &Path, src: &str) -> Vec<u8> {
    build_to_vec(&load(dir, src, Times::ZeroAll), &WriteOptions::default()).unwrap()
}

/// Every entry of an image: (path, dirent ino, mode, mtime, data or link target, offset).
type Row = (String, u32, u32, u32, Vec<u8>, Option<u32>);

fn rows(img: &[u8]) -> (ImageHeader, Vec<Row>) {
    let c = open(img).unwrap();
    c.verify_outer().unwrap();
    let r = c.image_bytes().unwrap();
    let fs = Ifs::parse(&r).unwrap();
    fs.verify().unwrap();
    let mut out = Vec::new();
    for e in fs.entries() {
        let (_, d) = e.unwrap();
        let (bytes, off) = match d.kind {
            DirentKind::File { offset, .. } => (fs.data(&d).unwrap().to_vec(), Some(offset)),
            DirentKind::Symlink { target } => (target.to_vec(), None),
            _ => (Vec::new(), None),
        };
        let path = String::from_utf8_lossy(d.path).into_owned();
        out.push((path, d.ino, d.mode, d.mtime, bytes, off));
    }
    (fs.header.clone(), out)
}

fn row<'a>(rows: &'a [Row], path: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.0 == path)
        .unwrap_or_else(|| panic!("{path} not in the image"))
}

fn script(img: &[u8]) -> Vec<Record> {
    let c = open(img).unwrap();
    let r = c.image_bytes().unwrap();
    let fs = Ifs::parse(&r).unwrap();
    decode(fs.script().unwrap().unwrap()).unwrap()
}

/// Item 1: in inline files a backslash before any character is dropped.
#[test]
fn inline_backslashes_escape_any_character() {
    let d = inputs();
    let src = "/etc/a = {\nq\\\"x\\\" \\n \\$HOME \\\\ \\} end\n}\n\
               [+script] .script = {\ndisplay_msg \"a \\\"quoted\\\" word\"\n}\n";
    let img = build(d.path(), src);
    golden("parity-inline.ifs", &img);
    let (_, r) = rows(&img);
    assert_eq!(row(&r, "etc/a").4, b"q\"x\" n $HOME \\ } end\n");
    // The script is read from the unescaped text: `"a "quoted" word"`.
    assert_eq!(
        script(&img),
        [Record::DisplayMsg {
            text: "a quoted word".into()
        }]
    );
}

/// Item 2: the ELF flag on every ELF file; run-once only with a writable
/// segment used in place; the sticky bit where it does not run once.
#[test]
fn elf_inode_flags_follow_the_writable_segment() {
    let d = inputs();
    let src = "/bin/ro = ro-prog\n/bin/rw = rw-prog\n/lib/libw.so = libw.so\n\
               [code=copy] /bin/cc = ro-prog\n[data=copy] /bin/dc = rw-prog\n\
               /etc/small = small.txt\n/bin/ro32 = ro32\n/lib/libw32.so = libw32.so\n";
    let img = build(d.path(), src);
    golden("parity-elf-flags.ifs", &img);
    let (_, r) = rows(&img);
    let flags = |p: &str| row(&r, p).1 & ino_flags::MASK;
    let mode = |p: &str| row(&r, p).2;
    let (elf, once) = (ino_flags::PROCESSED_ELF, ino_flags::RUNONCE);
    assert_eq!(flags("bin/ro"), elf);
    assert_eq!(mode("bin/ro"), S_IFREG | 0o755 | 0o1000);
    assert_eq!(flags("bin/rw"), elf | once);
    assert_eq!(mode("bin/rw"), S_IFREG | 0o755);
    assert_eq!(flags("lib/libw.so"), elf | once);
    assert_eq!(mode("lib/libw.so"), S_IFREG | 0o644);
    assert_eq!(flags("bin/cc"), elf);
    assert_eq!(flags("bin/dc"), elf);
    assert_eq!(mode("bin/dc"), S_IFREG | 0o755 | 0o1000);
    assert_eq!(flags("etc/small"), 0);
    // ELF32 the same.
    assert_eq!(flags("bin/ro32"), elf);
    assert_eq!(mode("bin/ro32"), S_IFREG | 0o755 | 0o1000);
    assert_eq!(flags("lib/libw32.so"), elf | once);
}

/// Item 3: `%align` rounds the whole file, trailer included; for a bootable
/// image preboot and startup too.
#[test]
fn align_rounds_the_whole_file() {
    let d = inputs();
    let img = build(
        d.path(),
        "[image=0%1024]\n/etc/small = small.txt\n/bin/ro = ro-prog\n",
    );
    assert_eq!(img.len() % 1024, 0, "{:#x}", img.len());
    let (h, _) = rows(&img);
    assert_eq!(h.image_size as usize, img.len());
    let boot = "[image=0x200000%0x2000]\n[physical=x86_64,p] boot = {\n    startup-p\n    \
                PATH=/proc/boot flat-kernel\n}\n/etc/small = small.txt\n";
    let img = build(d.path(), boot);
    assert_eq!(img.len() % 0x2000, 0, "{:#x}", img.len());
    let c = open(&img).unwrap();
    let s = c.startup.clone().unwrap().1;
    assert_eq!(s.startup_size as usize + s.imagefs_size as usize, img.len());
}

/// Items 6 and 12: a flat kernel is placed as a data file (unless
/// `+page_align`), with its boot-arguments block filled.
#[test]
fn a_flat_kernel_is_data_with_its_arguments_filled() {
    let d = inputs();
    let boot = |attr: &str| {
        format!(
            "[image=0x200000]\n[physical=x86_64,p] boot = {{\n    startup-p\n    \
             {attr}PATH=/proc/boot flat-kernel -v\n}}\n/etc/small = small.txt\n"
        )
    };
    let img = build(d.path(), &boot(""));
    golden("parity-flat-kernel.ifs", &img);
    let s = open(&img).unwrap().startup.clone().unwrap().1;
    let header_paddr = s.image_paddr as u64 + s.startup_size as u64;
    let (h, r) = rows(&img);
    let k = row(&r, "proc/boot/flat-kernel");
    assert_eq!(h.boot_ino[0], k.1);
    assert_eq!(k.1 & ino_flags::MASK, ino_flags::BOOTSTRAP);
    let off = k.5.unwrap() as u64;
    assert_ne!(
        (header_paddr + off) % 4096,
        0,
        "placed as data, not page-aligned"
    );
    let args = &k.4[16..];
    assert!(!k.4.windows(8).any(|w| w == BOOTARGS_MARKER));
    let size = u16::from_le_bytes([args[0], args[1]]) as usize;
    assert_eq!((args[2], args[3]), (2, 1), "argc, envc");
    assert_eq!(
        u32::from_le_bytes(args[4..8].try_into().unwrap()),
        s.image_paddr
    );
    assert_eq!(&args[8..size], b"flat-kernel\0-v\0PATH=/proc/boot\0\0");
    let img = build(d.path(), &boot("[+page_align] "));
    let s = open(&img).unwrap().startup.clone().unwrap().1;
    let header_paddr = s.image_paddr as u64 + s.startup_size as u64;
    let (_, r) = rows(&img);
    let off = row(&r, "proc/boot/flat-kernel").5.unwrap() as u64;
    assert_eq!((header_paddr + off) % 4096, 0);
}

/// Item 5: `[-followlink]` stores a symlink named as a host file as a link.
#[test]
fn a_link_named_as_a_host_file_is_stored_as_a_link_without_followlink() {
    let d = inputs();
    std::os::unix::fs::symlink("small.txt", d.path().join("to-small")).unwrap();
    let src = format!(
        "[-followlink] /etc/l = {0}/to-small\n/etc/f = {0}/to-small\n",
        d.path().display()
    );
    let img = build(d.path(), &src);
    let (_, r) = rows(&img);
    assert_eq!(row(&r, "etc/l").2 & S_IFMT, S_IFLNK);
    assert_eq!(row(&r, "etc/l").4, b"small.txt");
    assert_eq!(row(&r, "etc/f").2 & S_IFMT, S_IFREG);
    assert_eq!(row(&r, "etc/f").4, b"small\n");
}

/// Item 8: timeouts are rounded to tenths and clamped to the field.
#[test]
fn timeouts_are_rounded_and_clamped() {
    let d = inputs();
    let src =
        "[+script] .script = {\nwaitfor /dev/a 1.25\nreopen /dev/b 7000\nwaitfor /dev/c 0.5\n}\n";
    let got: Vec<u16> = script(&build(d.path(), src))
        .iter()
        .map(|r| match r {
            Record::Waitfor { checks, .. } | Record::Reopen { checks, .. } => *checks,
            _ => panic!("{r:?}"),
        })
        .collect();
    assert_eq!(got, [13, 0xffff, 5]);
}

/// Item 9: a compressed image without a boot block says no RAM size.
#[test]
fn a_compressed_non_bootable_image_has_ram_size_zero() {
    let d = inputs();
    let img = build(d.path(), "[+compress]\n/etc/small = small.txt\n");
    let s = open(&img).unwrap().startup.clone().unwrap().1;
    assert_eq!(s.ram_size, 0);
    assert_ne!(s.stored_size, 0);
}

/// Item 10: the same target twice: both entries, in buildfile order.
#[test]
fn a_target_named_twice_is_written_twice_in_order() {
    let d = inputs();
    let img = build(d.path(), "/etc/a = {\n1\n}\n/etc/a = {\n2\n}\n");
    golden("parity-duplicate.ifs", &img);
    let (_, r) = rows(&img);
    let a: Vec<_> = r.iter().filter(|r| r.0 == "etc/a").collect();
    assert_eq!(a.len(), 2);
    assert!(
        a[0].1 & !ino_flags::MASK < a[1].1 & !ino_flags::MASK,
        "inode order"
    );
    assert_eq!(
        (a[0].4.as_slice(), a[1].4.as_slice()),
        (&b"1\n"[..], &b"2\n"[..])
    );
}

/// Item 11: a script compiled from a host file keeps the file's mode.
#[test]
fn a_script_from_a_host_file_keeps_its_mode() {
    let d = inputs();
    let img = build(d.path(), "[+script] .script = boot.txt\n");
    let (_, r) = rows(&img);
    assert_eq!(row(&r, ".script").2, S_IFREG | 0o644);
}

/// Items 13 and 14: a FIFO with an execute bit is sticky; `type=dir`
/// entries have time 0 even without `-n`.
#[test]
fn fifo_sticky_bit_and_directory_time() {
    let d = inputs();
    let m = load(
        d.path(),
        "[type=fifo perms=0777] /dev/f\n[type=fifo perms=0644] /dev/g\n[type=dir] /var/d\n\
         /etc/i = {\ni\n}\n",
        Times::Host,
    );
    let img = build_to_vec(&m, &WriteOptions::default()).unwrap();
    let (_, r) = rows(&img);
    assert_eq!(row(&r, "dev/f").2, S_IFIFO | 0o777 | 0o1000);
    assert_eq!(row(&r, "dev/g").2, S_IFIFO | 0o644);
    assert_eq!(row(&r, "var/d").3, 0);
    assert_eq!(row(&r, "dev/f").3, 12345);
    assert_eq!(row(&r, "etc/i").3, 12345);
}
