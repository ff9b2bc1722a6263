//! Image → extracted tree + buildfile → image: byte-identical for every
//! image the writer makes (the goldens, the example hosts, generated images
//! of every shape), equal in content where a field cannot come back.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::{Options, Times};
use ifs::read::{Ifs, open};
use std::path::Path;

/// Extracts `image` under `dir/tree`, writes its buildfile's helper files
/// to `dir/helper`, builds the buildfile and returns the new image with the
/// buildfile text and the differences the rebuild reported.
fn round_trip(image: &[u8], dir: &Path) -> (Vec<u8>, String, Vec<String>) {
    let c = open(image).expect("open");
    let region = c.image_bytes().expect("region");
    let fs = Ifs::parse(&region).expect("parse");
    let (tree, helper) = (dir.join("tree"), dir.join("helper"));
    let entries: Vec<_> = fs.entries().map(|e| e.expect("dirent")).collect();
    let opts = ifs::extract::Options::for_image(&c, "image");
    let done = ifs::extract::extract(&fs, &entries, &tree, &opts);
    // Entries the tree cannot hold (a path twice, a path under a link)
    // are refused by the extraction; the rebuild puts them in helper files.
    assert!(
        done.problems.iter().all(|d| d.code.id == "I0007"),
        "{:?}",
        done.problems
    );
    let r = ifs::rebuild(&c, &fs, &tree, &helper).expect("rebuild");
    ifs::rebuild::write_helpers(&r, &helper).expect("helpers");
    let mut map = diag::SourceMap::new();
    let o = Options {
        cwd: dir.to_path_buf(),
        times: Times::ZeroAll,
        ..Options::default()
    };
    let (m, d) = buildfile::load(
        &mut map,
        &[],
        "rebuilt.build",
        r.text.clone().into_bytes(),
        &o,
    );
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}\n{}", r.text);
    let opts = ifs::WriteOptions {
        trailer_v2: r.format_version >= 8,
        ..Default::default()
    };
    let m = m.unwrap_or_else(|| panic!("no manifest:\n{}", r.text));
    let img = ifs::build_to_vec(&m, &opts).unwrap_or_else(|e| panic!("{e:?}\n{}", r.text));
    (img, r.text, r.differences)
}

/// The directory of an image, one line an entry, and its headers: to say
/// where two images differ; with `zero_times` its content (every time 0).
fn listing(image: &[u8], zero_times: bool) -> Vec<String> {
    let c = open(image).expect("open");
    let region = c.image_bytes().expect("region");
    let fs = Ifs::parse(&region).expect("parse");
    let mut v = vec![format!("{:?}", c.startup), format!("{:?}", fs.header)];
    for e in fs.entries() {
        let (_, mut d) = e.expect("dirent");
        let data = fs.data(&d).expect("data");
        if zero_times {
            d.mtime = 0;
        }
        v.push(format!("{d:?} {}", ifs::extract::md5_hex(data)));
    }
    v
}

fn assert_identical(name: &str, want: &[u8]) {
    let d = tempfile::tempdir().unwrap();
    let (got, text, diffs) = round_trip(want, d.path());
    assert!(diffs.is_empty(), "{name}: {diffs:?}");
    if got != want {
        let at = want.iter().zip(&got).position(|(a, b)| a != b);
        let (lw, lg) = (listing(want, false), listing(&got, false));
        let row = lw.iter().zip(&lg).find(|(a, b)| a != b);
        panic!(
            "{name}: rebuilt image differs: {} bytes expected, {} built, first difference at {at:?}\n{row:#?}\n{text}",
            want.len(),
            got.len()
        );
    }
}

#[test]
fn every_golden_image_rebuilds_byte_identical() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ifs"))
        .collect();
    names.sort();
    assert!(names.len() >= 13, "{names:?}");
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert_identical(&name, &std::fs::read(&p).unwrap());
    }
}

/// A one-segment ELF file (x86_64 or x86) for the generated images.
fn elf(is64: bool, e_type: u16, flags: u32, addr: u64, code: &[u8]) -> Vec<u8> {
    ifs::elf::write(&ifs::elf::OneSegment {
        is64,
        endian: ifs::Endian::Little,
        e_type,
        machine: if is64 { 62 } else { 3 },
        entry: addr,
        addr,
        flags,
        code,
        bss: 0x40,
    })
}

/// The host files of the generated images.
fn inputs(dir: &Path) {
    let w = |n: &str, b: &[u8]| std::fs::write(dir.join(n), b).unwrap();
    let big: Vec<u8> = (0..70_001u32).map(|i| (i * 13 % 251) as u8).collect();
    w("big.bin", &big);
    w("small.txt", b"small\n");
    w("empty.bin", b"");
    w("prog64", &elf(true, 2, 5, 0x40_0000, &[0x90; 300]));
    w("rw64", &elf(true, 2, 6, 0x40_0000, &[0xcc; 5000]));
    w("lib64.so", &elf(true, 3, 6, 0, &[0x55; 700]));
    w("prog32", &elf(false, 2, 5, 0x0804_8000, &[0xc3; 90]));
    let mut code = vec![0xf4, 0xeb, 0xfd];
    code.extend_from_slice(b"ddpvbskr");
    code.resize(200, 0);
    // Linked where the images below put the startup code.
    w("startup-t", &elf(true, 2, 7, 0x20_0100, &code));
    let mut k = vec![0x90, 0xc3];
    k.extend_from_slice(b"ddpvbskr");
    k.resize(400, 0);
    w("kernel-t", &elf(true, 2, 5, 0x60_0000, &k));
    w(
        "pre.boot",
        b"[\nlen=0x40\npagesize=0x1000\n]\nbootPREBOOT-BYTES",
    );
    w("bias.boot", b"[\npaddr_bias=0x100\n]\n");
}

/// Every entry shape: files large, small, empty and inline; ELF64 and
/// ELF32 programs used in place, copied, raw; a shared object; a
/// page-aligned data file; directories, links, FIFOs; owners and modes;
/// a path given twice and a file under a link's path; the boot script.
const ENTRIES: &str = r#"[uid=0 gid=0 perms=0644]
/data/big = big.bin
/data/small = small.txt
/data/empty = empty.bin
[uid=17 gid=23 perms=04755] /bin/prog64 = prog64
/bin/rw64 = rw64
/lib/lib64.so = lib64.so
/bin/prog32 = prog32
[code=copy] /bin/copied = prog64
[data=copy] /bin/data-copied = rw64
[+raw] /bin/raw = prog64
[+page_align] /data/aligned = small.txt
[type=dir dperms=0700 uid=5] /var/run
[type=link] /bin/sh = /proc/boot/ksh
[type=link] /etc/linked = ../data
/etc/linked/under = {
under a link's path
}
[type=fifo perms=0600] /dev/fifo0
"/etc/with space" = small.txt
"/etc/a=b" = small.txt
/etc/motd = {
Welcome.
}
/etc/motd = {
Again.
}
[+script] .script = {
    display_msg "  padded  "
    display_msg Starting the host
    TERM=qansi HOME=/
    waitfor /dev/ser2 0.5
    reopen /dev/ser2
    procmgr_symlink "../a b" /usr/lib/x.so
    [pri=21r cpu=2 +debug] devc-ser8250 -b57600 0x2f8,3 &
    sched_aps system 40 10
    [sched_aps=system +session argv0=sh +external] ksh -c "echo a b" &
}
"#;

/// The boot blocks of the generated images: none, physical with a preboot
/// area, virtual with a bias.
const BOOTS: [&str; 3] = [
    "[image=0x100000]\n",
    "[image=0x1fffc0]\n[physical=x86_64,pre] boot = {\n    startup-t -v -D 8250\n    PATH=/proc/boot kernel-t -v\n}\n",
    "[image=0x1fff00]\n[virtual=x86_64,bias] boot = {\n    startup-t\n    [prefix=sys] kernel-t\n}\n",
];

fn build_in(dir: &Path, src: &str, times: Times, v2: bool) -> Vec<u8> {
    let mut map = diag::SourceMap::new();
    let o = Options {
        cwd: dir.to_path_buf(),
        times,
        now: 1_700_000_000,
        ..Options::default()
    };
    let src = format!("[search={}]\n{src}", dir.display());
    let (m, d) = buildfile::load(&mut map, &[], "gen.build", src.into_bytes(), &o);
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
    let opts = ifs::WriteOptions {
        trailer_v2: v2,
        ..Default::default()
    };
    ifs::build_to_vec(&m.unwrap(), &opts).unwrap()
}

#[test]
fn generated_images_of_every_shape_rebuild_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    inputs(d.path());
    let mut n = 0;
    for (b, boot) in BOOTS.iter().enumerate() {
        for order in ["-bigendian", "+bigendian"] {
            for compress in ["", "[compress=1]\n", "[compress=2]\n", "[+compress]\n"] {
                for v2 in [false, true] {
                    let src = format!("[{order}]\n{compress}{boot}{ENTRIES}");
                    let img = build_in(d.path(), &src, Times::ZeroAll, v2);
                    let name = format!("boot {b} {order} {compress:?} v2 {v2}");
                    assert_identical(&name, &img);
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 48);
}

/// Bytes for a file the SDK would give: a shared object, a program or a
/// data file, as its name says.
fn stand_in(name: &str, machine: u16, addr: u64) -> Vec<u8> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let (e_type, flags) = if base.contains(".so") {
        (3, 6)
    } else if base.contains('.') {
        return format!("stand-in for {name}\n").into_bytes();
    } else {
        (2, 5)
    };
    let mut code = format!("{name} ").into_bytes();
    code.extend_from_slice(b"ddpvbskr");
    code.resize(256 + name.len() * 16, 0);
    ifs::elf::write(&ifs::elf::OneSegment {
        is64: true,
        endian: ifs::Endian::Little,
        e_type,
        machine,
        entry: addr,
        addr,
        flags,
        code: &code,
        bss: 0x100,
    })
}

/// Gives every file and boot program that the SDK would give its stand-in.
fn fill_in(m: &mut buildfile::Manifest, machine: u16) {
    use buildfile::DataSource;
    let fill = |source: &mut DataSource, addr: u64| -> Option<Vec<u8>> {
        let DataSource::Assumed { name } = source else {
            return None;
        };
        let bytes = stand_in(name, machine, addr);
        *source = DataSource::Inline {
            bytes: bytes.clone(),
        };
        Some(bytes)
    };
    for e in &mut m.entries {
        if let buildfile::EntryKind::File(f) = &mut e.kind
            && let Some(b) = fill(&mut f.source, 0x40_0000)
        {
            f.size = Some(b.len() as u64);
            f.elf = buildfile::host::elf_info_bytes(&b);
        }
    }
    let start = m.image.image.start.unwrap_or(0) + 0x100;
    if let Some(boot) = &mut m.boot {
        let p = &mut boot.startup;
        if let Some(b) = fill(&mut p.source, start) {
            (p.size, p.elf) = (Some(b.len() as u64), buildfile::host::elf_info_bytes(&b));
        }
        for p in &mut boot.bootstrap {
            if let Some(b) = fill(&mut p.source, 0x60_0000) {
                (p.size, p.elf) = (Some(b.len() as u64), buildfile::host::elf_info_bytes(&b));
            }
        }
    }
}

/// The example hosts of the repository, built from their buildfiles with
/// their own files and stand-ins for the SDK's (the bootfiles are the
/// SDK's too: none here), rebuild byte-identical.
#[test]
fn the_example_hosts_rebuild_byte_identical() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut n = 0;
    for (ex, machine) in [
        ("x86_64-host", 62),
        ("aarch64-host", 183),
        ("safety-host", 183),
    ] {
        let p = root.join("examples").join(ex).join("host.build");
        let mut map = diag::SourceMap::new();
        let o = Options {
            cwd: root.clone(),
            times: Times::ZeroAll,
            no_host_files: true,
            ..Options::default()
        };
        let (m, d) = buildfile::load(&mut map, &[], ex, std::fs::read(&p).unwrap(), &o);
        assert!(d.iter().all(|d| !d.is_error()), "{ex}: {d:?}");
        let mut m = m.expect("manifest");
        fill_in(&mut m, machine);
        let img = ifs::build_to_vec(&m, &Default::default()).unwrap();
        assert_identical(ex, &img);
        n += 1;
    }
    assert_eq!(n, 3);
}

/// An image with times (built without -nn) rebuilds equal in content, and
/// the rebuild says that the times differ.
#[test]
fn an_image_with_times_rebuilds_equal_in_content() {
    let d = tempfile::tempdir().unwrap();
    inputs(d.path());
    for boot in BOOTS {
        let img = build_in(d.path(), &format!("{boot}{ENTRIES}"), Times::Host, false);
        let t = tempfile::tempdir().unwrap();
        let (got, _, diffs) = round_trip(&img, t.path());
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        let c = open(&img).unwrap();
        let r = c.image_bytes().unwrap();
        let timed = Ifs::parse(&r)
            .unwrap()
            .entries()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|(_, d)| d.mtime != 0 && !d.path.is_empty())
            })
            .count();
        assert!(timed > 10, "{timed}");
        let want = format!("times: {timed} entries have a modification time");
        assert!(diffs[0].starts_with(&want), "{diffs:?}");
        assert_ne!(got, img);
        assert_eq!(listing(&got, true), listing(&img, true));
    }
}

/// Image settings beyond the shapes: `mount=`, `chain=`, `%align`,
/// `=total`, no base at all.
#[test]
fn image_settings_rebuild_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    inputs(d.path());
    for settings in [
        "[mount=/ifs chain=0x7000]\n",
        "[image=0x100000%0x2000]\n",
        "[image=0x300000=0x30000]\n",
        "[+compress image=0x400000%0x1000]\n",
        "",
    ] {
        let img = build_in(
            d.path(),
            &format!("{settings}{ENTRIES}"),
            Times::ZeroAll,
            false,
        );
        assert_identical(settings, &img);
    }
}

/// A damaged image gives an error or a buildfile, never a panic.
#[test]
fn damaged_images_never_panic() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/boot.ifs");
    let good = std::fs::read(p).unwrap();
    let d = tempfile::tempdir().unwrap();
    let (mut errors, mut built) = (0, 0);
    for at in (0..good.len()).step_by(7) {
        let mut img = good.clone();
        img[at] ^= 0xa5;
        let Ok(c) = open(&img) else { continue };
        let Ok(region) = c.image_bytes() else {
            continue;
        };
        let Ok(fs) = Ifs::parse(&region) else {
            continue;
        };
        match ifs::rebuild(&c, &fs, d.path(), d.path()) {
            Ok(r) => {
                assert!(r.text.starts_with("# Rebuilt"));
                built += 1;
            }
            Err(_) => errors += 1,
        }
    }
    assert!(built > 0 && errors > 0, "{built} built, {errors} refused");
}
