//! The firmware-modding round trip, run as a user runs it: build an image,
//! `hvhost dump --buildfile -x -d DIR` it, change a file, `hvhost build -nn
//! DIR.build` it again.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{hvhost_in, text};
use std::path::Path;

/// A bootable x86_64 host: a startup program linked where the image puts
/// it, a kernel, programs, a link, a directory, inline files, a script.
fn host(p: &Path) {
    let prog = |addr: u64, code: &[u8]| {
        let mut c = code.to_vec();
        c.extend_from_slice(b"ddpvbskr");
        c.resize(512, 0);
        ifs::elf::write(&ifs::elf::OneSegment {
            is64: true,
            endian: ifs::Endian::Little,
            e_type: ifs::elf::ET_EXEC,
            machine: 62,
            entry: addr,
            addr,
            flags: 5,
            code: &c,
            bss: 0,
        })
    };
    std::fs::write(p.join("startup-t"), prog(0x20_0100, &[0xf4, 0xeb, 0xfd])).unwrap();
    std::fs::write(p.join("kernel-t"), prog(0x40_0000, &[0x90, 0xc3])).unwrap();
    std::fs::write(p.join("tool"), prog(0x40_0000, b"tool")).unwrap();
    std::fs::write(p.join("motd"), "welcome\n").unwrap();
    let build = format!(
        "[search={}]\n[image=0x200000]\n[virtual=x86_64,none +compress] boot = {{\n    \
         startup-t -v\n    PATH=/proc/boot kernel-t -v\n}}\n\
         [+script] .script = {{\n    display_msg hello\n    [+session] ksh &\n}}\n\
         [uid=0 gid=0 perms=0755] /bin/tool = tool\n[perms=0644] /etc/motd = motd\n\
         [type=link] /bin/sh = /bin/ksh\n[type=dir dperms=0700] /var/run\n\
         [perms=0600] /etc/secret = {{\ns3cret\n}}\n",
        p.display()
    );
    std::fs::write(p.join("host.build"), build).unwrap();
    std::fs::write(p.join("none.boot"), "[\npagesize=0x1000\n]\n").unwrap();
}

fn ok(p: &Path, args: &[&str]) -> String {
    let o = hvhost_in(p, args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
    text(&o.stderr)
}

#[test]
fn dump_buildfile_rebuilds_the_image_byte_for_byte_and_takes_changes() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    host(p);
    for (v, args) in [("7", "a.ifs"), ("8", "a8.ifs")] {
        ok(
            p,
            &["build", "-nn", "--format-version", v, "host.build", args],
        );
        let dir = format!("out{v}");
        let err = ok(p, &["dump", "--buildfile", "-x", "-d", &dir, args]);
        assert!(err.contains(&format!("{dir}.build")), "{err}");
        assert!(!err.contains("I0008"), "{err}");
        let bf = std::fs::read_to_string(p.join(format!("{dir}.build"))).unwrap();
        assert!(bf.contains("[virtual=x86_64,rebuild] boot = {"), "{bf}");
        assert!(bf.contains("    display_msg hello\n"), "{bf}");
        ok(
            p,
            &[
                "build",
                "-nn",
                "--format-version",
                v,
                &format!("{dir}.build"),
                "b.ifs",
            ],
        );
        assert!(
            std::fs::read(p.join(args)).unwrap() == std::fs::read(p.join("b.ifs")).unwrap(),
            "format {v}: the rebuilt image differs\n{bf}"
        );
    }
    // Change a file, rebuild: the new image holds the change, and the rest.
    std::fs::write(p.join("out7/etc/motd"), "changed\n").unwrap();
    ok(p, &["build", "-nn", "out7.build", "c.ifs"]);
    ok(p, &["dump", "-x", "-d", "again", "c.ifs"]);
    assert_eq!(
        std::fs::read_to_string(p.join("again/etc/motd")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.join("again/etc/secret")).unwrap(),
        "s3cret\n"
    );
    let l = ok(p, &["dump", "-vv", "c.ifs"]);
    let listing = text(&hvhost_in(p, &["dump", "-vv", "c.ifs"]).stdout);
    assert!(l.is_empty(), "{l}");
    for want in [
        "proc/boot/kernel-t",
        "bin/sh -> /bin/ksh",
        "var/run",
        "[+session] ksh &",
    ] {
        assert!(listing.contains(want), "missing {want:?} in\n{listing}");
    }
}

/// An image with times: the buildfile is written, with a warning that
/// names what it cannot give back; the rebuild is equal in content.
#[test]
fn an_image_with_times_gets_a_warning_and_an_equal_listing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    host(p);
    ok(p, &["build", "host.build", "t.ifs"]);
    let err = ok(p, &["dump", "--buildfile", "-x", "-d", "out", "t.ifs"]);
    assert!(err.contains("I0008") && err.contains("times:"), "{err}");
    ok(p, &["build", "-nn", "out.build", "r.ifs"]);
    assert_ne!(
        std::fs::read(p.join("t.ifs")).unwrap(),
        std::fs::read(p.join("r.ifs")).unwrap()
    );
    // The listings (attributes, MD5 digests, the decoded script) agree
    // but for the times, the checksums and the compressed size (of other
    // bytes: the times).
    let content = |f: &str| -> Vec<String> {
        text(&hvhost_in(p, &["dump", "-vv", "-m", f]).stdout)
            .lines()
            .filter(|l| !l.starts_with("Checksums:"))
            .map(|l| {
                l.split(' ')
                    .filter(|w| !w.starts_with("mtime=") && !w.starts_with("stored_size="))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let (a, b) = (content("t.ifs"), content("r.ifs"));
    assert!(a.iter().any(|l| l.contains("md5=")), "{a:#?}");
    assert!(a.iter().any(|l| l.contains("display_msg hello")), "{a:#?}");
    assert_eq!(a, b);
}

/// `--buildfile` needs a whole extraction.
#[test]
fn buildfile_without_x_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let o = hvhost_in(d.path(), &["dump", "--buildfile", "a.ifs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = hvhost_in(d.path(), &["dump", "--buildfile", "-x", "-b", "a.ifs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}
