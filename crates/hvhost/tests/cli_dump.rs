//! `hvhost dump`, run as a user runs it: listing, verification, and safe
//! extraction of hostile images.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use ifs::Endian;
use ifs::format::{Dirent, DirentKind, ImageHeader, image_flags};
use std::path::Path;
use std::process::{Command, Stdio};

enum K<'a> {
    File(&'a [u8]),
    Dir,
    Link(&'a str),
}

/// An image made by hand (not by the writer), so that it can say anything.
fn craft(entries: &[(&str, K<'_>)]) -> Vec<u8> {
    let e = Endian::Little;
    let mut h = ImageHeader {
        endian: e,
        flags: image_flags::INO_BITS,
        ..Default::default()
    };
    let hs = h.size();
    let mut dir = Vec::new();
    let dirent =
        |path: &'static [u8], ino: u32, mode: u32, kind: DirentKind<'_>, dir: &mut Vec<u8>| {
            Dirent {
                ino,
                mode,
                gid: 0,
                uid: 0,
                mtime: 0,
                path,
                kind,
            }
            .encode(e, dir)
        };
    dirent(b"", 1, 0o40755, DirentKind::Dir, &mut dir);
    // Sizes first (file offsets need the directory size).
    let mut dsize = 28 + 4;
    for (p, k) in entries {
        let d = Dirent {
            ino: 0,
            mode: 0,
            gid: 0,
            uid: 0,
            mtime: 0,
            path: p.as_bytes(),
            kind: match k {
                K::File(_) => DirentKind::File { offset: 0, size: 0 },
                K::Dir => DirentKind::Dir,
                K::Link(t) => DirentKind::Symlink {
                    target: t.as_bytes(),
                },
            },
        };
        dsize += d.encoded_size();
    }
    let mut data = Vec::new();
    let data_start = hs + dsize;
    for (i, (p, k)) in entries.iter().enumerate() {
        let path: &'static [u8] = Box::leak(p.as_bytes().to_vec().into_boxed_slice());
        let ino = i as u32 + 2;
        match k {
            K::File(b) => {
                let off = (data_start + data.len()) as u32;
                data.extend_from_slice(b);
                dirent(
                    path,
                    ino,
                    0o100644,
                    DirentKind::File {
                        offset: off,
                        size: b.len() as u32,
                    },
                    &mut dir,
                );
            }
            K::Dir => dirent(path, ino, 0o40755, DirentKind::Dir, &mut dir),
            K::Link(t) => {
                let t: &'static [u8] = Box::leak(t.as_bytes().to_vec().into_boxed_slice());
                dirent(
                    path,
                    ino,
                    0o120777,
                    DirentKind::Symlink { target: t },
                    &mut dir,
                )
            }
        }
    }
    dir.extend_from_slice(&[0; 4]);
    while data.len() % 4 != 0 {
        data.push(0);
    }
    h.dir_offset = hs as u32;
    h.hdr_dir_size = (hs + dir.len()) as u32;
    h.image_size = (hs + dir.len() + data.len() + 4) as u32;
    let mut img = h.encode();
    img.extend_from_slice(&dir);
    img.extend_from_slice(&data);
    let ck = ifs::checksum::cksum(&img, e);
    img.extend_from_slice(&ck.to_le_bytes());
    img
}

fn tree(p: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            out.push(rel);
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            }
        }
    }
    walk(p, p, &mut out);
    out.sort();
    out
}

#[test]
fn hostile_paths_are_never_written_outside_the_directory() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[
        ("../escape", K::File(b"dotdot")),
        ("ok/../../escape2", K::File(b"dotdot2")),
        ("/abs/escape3", K::File(b"absolute")),
        ("link", K::Link("/tmp")),
        ("link/through", K::File(b"through the link")),
        ("up", K::Link("..")),
        ("up/escape4", K::File(b"via up")),
        ("fine/file", K::File(b"fine")),
    ]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    // The image itself is well-formed: the listing works.
    let o = hvhost_in(d.path(), &["dump", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    std::fs::create_dir(d.path().join("out")).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "out/x", "h.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("I0007"), "{err}");
    for n in [
        "../escape",
        "ok/../../escape2",
        "/abs/escape3",
        "link/through",
        "up/escape4",
    ] {
        assert!(err.contains(&format!("`{n}` not extracted")), "{n}: {err}");
    }
    // Only what is safe was written, and only inside out/x.
    assert_eq!(
        tree(&d.path().join("out")),
        ["x", "x/fine", "x/fine/file", "x/link", "x/up"]
    );
    assert_eq!(tree(d.path()).len(), 7, "{:?}", tree(d.path()));
    assert!(!Path::new("/tmp/through").exists());
    assert_eq!(
        std::fs::read(d.path().join("out/x/fine/file")).unwrap(),
        b"fine"
    );
}

#[test]
fn a_symlink_already_in_the_directory_is_replaced_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[("victim", K::File(b"new contents"))]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    std::fs::create_dir(d.path().join("x")).unwrap();
    std::fs::write(d.path().join("target"), b"keep me").unwrap();
    std::os::unix::fs::symlink(d.path().join("target"), d.path().join("x/victim")).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "x", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(d.path().join("target")).unwrap(), b"keep me");
    assert_eq!(
        std::fs::read(d.path().join("x/victim")).unwrap(),
        b"new contents"
    );
    assert!(
        !std::fs::symlink_metadata(d.path().join("x/victim"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn one_file_and_basenames() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[("a/b/c.txt", K::File(b"c")), ("a/d.txt", K::File(b"d"))]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-f", "a/b/c.txt", "-d", "one", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(tree(&d.path().join("one")), ["a", "a/b", "a/b/c.txt"]);
    let o = hvhost_in(d.path(), &["dump", "-x", "-b", "-d", "flat", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(tree(&d.path().join("flat")), ["c.txt", "d.txt"]);
    let o = hvhost_in(d.path(), &["dump", "-f", "nope", "-d", "none", "h.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("`nope` is not in the image"));
}

#[test]
fn tampered_images_fail_naming_the_region() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[("f", K::File(b"some file data"))]);
    let mut bad = img.clone();
    let n = bad.len();
    bad[n - 8] ^= 1; // in the file data
    std::fs::write(d.path().join("bad.ifs"), &bad).unwrap();
    for args in [&["dump", "bad.ifs"][..], &["dump", "--verify", "bad.ifs"]] {
        let o = hvhost_in(d.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("I0004") && err.contains("image checksum"),
            "{err}"
        );
    }
    std::fs::write(d.path().join("good.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "--verify", "good.ifs"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("good.ifs: ok (2 entries; image=0x"));
}

#[test]
fn truncated_and_foreign_files() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[("f", K::File(b"some file data"))]);
    std::fs::write(d.path().join("short.ifs"), &img[..img.len() - 10]).unwrap();
    let o = hvhost_in(d.path(), &["dump", "short.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("I0002"), "{}", text(&o.stderr));
    std::fs::write(d.path().join("text.ifs"), b"hello, not an image at all").unwrap();
    let o = hvhost_in(d.path(), &["dump", "text.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("I0001"));
    let o = hvhost_in(d.path(), &["dump", "missing.ifs"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn json_listing() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[
        ("etc/f", K::File(b"xyz")),
        ("bin", K::Dir),
        ("l", K::Link("t")),
    ]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "--format", "json", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let ents = v["entries"].as_array().unwrap();
    assert_eq!(ents.len(), 4);
    assert_eq!(ents[1]["path"], "etc/f");
    assert_eq!(ents[1]["size"], 3);
    assert_eq!(ents[3]["target"], "t");
}

#[test]
fn listings_of_the_golden_images() {
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ifs/tests/golden");
    for (img, args, out) in [
        ("boot.ifs", &["-vv"][..], "dump-boot.txt"),
        ("boot-ucl-v2.ifs", &["-v"], "dump-boot-ucl-v2.txt"),
        ("shapes-be.ifs", &["-vv"], "dump-shapes-be.txt"),
        ("shapes-lzo.ifs", &[], "dump-shapes-lzo.txt"),
    ] {
        let mut a = vec!["dump"];
        a.extend_from_slice(args);
        let p = images.join(img);
        a.push(p.to_str().unwrap());
        let o = hvhost_in(&images, &a);
        assert_eq!(o.status.code(), Some(0), "{img}: {}", text(&o.stderr));
        golden(out, &text(&o.stdout).replace(p.to_str().unwrap(), img));
    }
}

#[test]
fn basename_collisions_under_b_are_errors_naming_both() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[
        ("etc/a.txt", K::File(b"first")),
        ("x/a.txt", K::File(b"second")),
        ("x/b.txt", K::File(b"b")),
    ]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-x", "-b", "-d", "flat", "h.ifs"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("I0007") && err.contains("`etc/a.txt` and `x/a.txt` collide"),
        "{err}"
    );
    // The first one is kept, the others are extracted.
    assert_eq!(tree(&d.path().join("flat")), ["a.txt", "b.txt"]);
    assert_eq!(
        std::fs::read(d.path().join("flat/a.txt")).unwrap(),
        b"first"
    );
    // The same path twice, without -b: reported too.
    let img = craft(&[("a.txt", K::File(b"first")), ("a.txt", K::File(b"again"))]);
    std::fs::write(d.path().join("dup.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "dup", "dup.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("`a.txt` not extracted: an earlier entry has the same path"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(d.path().join("dup/a.txt")).unwrap(), b"first");
}

#[test]
fn an_entry_with_an_empty_path_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let img = craft(&[("", K::File(b"nameless")), ("ok", K::File(b"ok"))]);
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "x", "h.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("I0003") && err.contains("(inode 0x2, mode 0100644) has an empty path"),
        "{err}"
    );
    assert_eq!(tree(&d.path().join("x")), ["ok"]);
}

#[test]
fn a_file_outside_the_image_is_reported_once() {
    let d = tempfile::tempdir().unwrap();
    let mut img = craft(&[("big", K::File(b"0123456789abcdef"))]);
    // The size field sits just before the path.
    let at = img.windows(4).position(|w| w == b"big\0").unwrap();
    assert_eq!(img[at - 4..at], 16u32.to_le_bytes());
    img[at - 4..at].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let n = img.len();
    let ck = ifs::checksum::cksum(&img[..n - 4], Endian::Little);
    img[n - 4..].copy_from_slice(&ck.to_le_bytes());
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    for args in [
        &["dump", "h.ifs"][..],
        &["dump", "-x", "-d", "t", "h.ifs"],
        &["dump", "-f", "big", "-d", "t", "h.ifs"],
    ] {
        let o = hvhost_in(d.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert_eq!(err.matches("error[I0003]").count(), 1, "{args:?}: {err}");
        assert!(err.contains("lies outside the image"), "{err}");
    }
}

/// A compressed image whose startup header's `imagefs_size` is patched
/// (startup checksum fixed up, so only the field is wrong).
#[test]
fn a_wrong_imagefs_size_fails_verification() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("c.build"),
        "[+compress]\n/etc/motd = {\nhello\n}\n/etc/b = {\nworld\n}\n",
    )
    .unwrap();
    let o = hvhost_in(d.path(), &["build", "-nn", "c.build", "c.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let good = std::fs::read(d.path().join("c.ifs")).unwrap();
    let o = hvhost_in(d.path(), &["dump", "--verify", "c.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let c = ifs::read::open(&good).unwrap();
    let (at, h) = c.startup.clone().unwrap();
    assert!(c.compression.is_some());
    for wrong in [0xffff_ffffu32, h.imagefs_size + 4, h.imagefs_size - 4] {
        let mut img = good.clone();
        img[at + 44..at + 48].copy_from_slice(&wrong.to_le_bytes());
        let end = at + h.startup_size as usize;
        let ck = ifs::checksum::cksum(&img[at..end - 4], Endian::Little);
        img[end - 4..end].copy_from_slice(&ck.to_le_bytes());
        std::fs::write(d.path().join("bad.ifs"), &img).unwrap();
        for args in [&["dump", "--verify", "bad.ifs"][..], &["dump", "bad.ifs"]] {
            let o = hvhost_in(d.path(), args);
            assert_eq!(o.status.code(), Some(1), "{wrong:#x} {args:?}");
            let err = text(&o.stderr);
            assert!(
                err.contains("I0002") && err.contains(&format!("imagefs_size = {wrong:#x}")),
                "{err}"
            );
            if wrong > h.imagefs_size {
                let real = format!("the image is {:#x} bytes", h.imagefs_size);
                assert!(err.contains(&real), "{err}");
            }
        }
    }
}

#[test]
fn a_fifo_or_directory_is_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let st = Command::new("mkfifo")
        .arg(d.path().join("p.ifs"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_hvhost"))
        .args(["dump", "p.ifs"])
        .current_dir(d.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`hvhost dump FIFO` blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("`p.ifs`: it is a FIFO; an image must be a regular file"),
        "{}",
        text(&o.stderr)
    );
    std::fs::create_dir(d.path().join("dir.ifs")).unwrap();
    let o = hvhost_in(d.path(), &["dump", "dir.ifs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("it is a directory"));
}

/// JSON names are strings (bytes that are not UTF-8 escaped losslessly as
/// `\xHH`), offsets say what they count from, and the file offset of a
/// file's data is where its bytes are in the file.
#[test]
fn json_names_are_strings_and_offsets_say_their_base() {
    let d = tempfile::tempdir().unwrap();
    let mut img = craft(&[("etc/f", K::File(b"xyz")), ("l", K::Link("t"))]);
    let at = img.windows(5).position(|w| w == b"etc/f").unwrap();
    img[at + 4] = 0xff;
    let n = img.len();
    let ck = ifs::checksum::cksum(&img[..n - 4], Endian::Little);
    img[n - 4..].copy_from_slice(&ck.to_le_bytes());
    std::fs::write(d.path().join("h.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "--format", "json", "h.ifs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &v["entries"][1];
    assert_eq!(e["path"], "etc/\\xff");
    assert_eq!(
        diag::bytes::unescape(e["path"].as_str().unwrap()).unwrap(),
        b"etc/\xff"
    );
    assert!(v["image_header"]["mountpoint"].is_string());
    let off = e["data_file_offset"].as_u64().unwrap() as usize;
    assert_eq!(&img[off..off + 3], b"xyz");
    assert_eq!(e["data_image_offset"], e["data_file_offset"]);
    assert!(e.get("offset").is_none() && e["dirent_image_offset"].is_u64());
}

/// An image error in SARIF is located in the image file, and the log lists
/// only the rules its results use.
#[test]
fn sarif_locates_image_errors_and_lists_only_used_rules() {
    let d = tempfile::tempdir().unwrap();
    let mut img = craft(&[("etc/f", K::File(b"xyz"))]);
    let n = img.len();
    img[n - 1] ^= 0x55; // a wrong image checksum
    std::fs::write(d.path().join("bad.ifs"), &img).unwrap();
    let o = hvhost_in(d.path(), &["dump", "--format", "sarif", "bad.ifs"]);
    assert_eq!(o.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["id"], "I0004");
    assert!(run["tool"]["driver"].get("informationUri").is_none());
    let ph = &run["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(ph["artifactLocation"]["uri"], "bad.ifs");
    assert_eq!(ph["region"]["byteOffset"], 0);
}
