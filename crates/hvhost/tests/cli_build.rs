//! `hvhost build`, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn hvhost_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hvhost"));
    c.args(args)
        .current_dir(dir)
        .env_remove("QNX_TARGET")
        .env_remove("MKIFS_PATH")
        .env_remove("PROCESSOR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const BUILD: &str = r#"[search=.]
[uid=0 gid=0]
/etc/hosts = hosts
[perms=0755] /bin/run.sh = run.sh
/data/blob = blob.bin
/data/empty = empty
[type=dir] /var/log
[type=link] /bin/sh = /proc/boot/ksh
[type=fifo] /dev/pipe0
/etc/motd = {
Hello from an inline file.
}
[+script] .script = {
    display_msg "booting"
    PATH=/proc/boot:/bin
    waitfor /dev/ser1 2.5
    [pri=20r] run.sh -x &
}
"#;

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(p.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(p.join("blob.bin"), blob).unwrap();
    std::fs::write(p.join("empty"), "").unwrap();
    std::fs::write(p.join("host.build"), BUILD).unwrap();
    d
}

#[test]
fn build_then_dump_lists_every_entry() {
    let d = setup();
    let o = hvhost_in(d.path(), &["build", "-nn", "host.build", "out.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_in(d.path(), &["dump", "-vv", "out.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for want in [
        "Image-header mountpoint=",
        "etc/hosts",
        "bin/run.sh",
        "data/blob",
        "bin/sh -> /proc/boot/ksh",
        "var/log",
        "dev/pipe0",
        "etc/motd",
        "mode=0101755",
        "Checksums: image=0x",
        "    display_msg booting",
        "    waitfor /dev/ser1 2.5",
        "    [pri=20r] PATH=/proc/boot:/bin run.sh -x &",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // Extract and compare with the sources.
    let o = hvhost_in(d.path(), &["dump", "-x", "-d", "x", "out.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let x = d.path().join("x");
    assert_eq!(
        std::fs::read(x.join("data/blob")).unwrap(),
        std::fs::read(d.path().join("blob.bin")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(x.join("etc/motd")).unwrap(),
        "Hello from an inline file.\n"
    );
    assert_eq!(
        std::fs::read_link(x.join("bin/sh")).unwrap(),
        Path::new("/proc/boot/ksh")
    );
    assert!(x.join("var/log").is_dir());
}

#[test]
fn nn_and_source_date_epoch_give_identical_images() {
    let d = setup();
    for (args, env) in [
        (vec!["build", "-nn", "host.build"], vec![]),
        (
            vec!["build", "host.build"],
            vec![("SOURCE_DATE_EPOCH", "1700000000")],
        ),
    ] {
        let mut images = Vec::new();
        for (i, name) in ["a.ifs", "b.ifs"].iter().enumerate() {
            if i == 1 {
                // Touch the sources: the image must not change.
                let f = std::fs::File::options()
                    .write(true)
                    .open(d.path().join("hosts"))
                    .unwrap();
                f.set_modified(std::time::SystemTime::now()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1100));
            }
            let mut a = args.clone();
            a.push(name);
            let o = hvhost_in(d.path(), &a, &env);
            assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
            images.push(std::fs::read(d.path().join(name)).unwrap());
        }
        assert_eq!(images[0], images[1], "{args:?} {env:?}");
    }
}

#[test]
fn output_option_and_stdout() {
    let d = setup();
    let o = hvhost_in(
        d.path(),
        &["build", "-nn", "host.build", "-o", "o.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o2 = hvhost_in(d.path(), &["build", "-nn", "host.build", "-"], &[]);
    assert_eq!(o2.status.code(), Some(0), "{}", text(&o2.stderr));
    assert_eq!(o2.stdout, std::fs::read(d.path().join("o.ifs")).unwrap());
    let o3 = hvhost_in(d.path(), &["build", "host.build"], &[]);
    assert_eq!(o3.status.code(), Some(2));
    assert!(text(&o3.stderr).contains("no output file"));
}

#[test]
fn verbose_prints_the_placement_table() {
    let d = setup();
    let o = hvhost_in(
        d.path(),
        &["build", "-nn", "-v", "host.build", "o.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let t = text(&o.stdout);
    assert!(t.contains("Offset"), "{t}");
    let blob = t.lines().find(|l| l.contains("/data/blob")).unwrap();
    // 100000 bytes = 0x186a0, the largest file, right after the directory.
    assert!(blob.contains("186a0"), "{blob}");
    assert!(blob.contains("0x4"), "{blob}");
}

fn dir_names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_build_leaves_no_file_and_keeps_the_old_one() {
    let d = setup();
    // The buildfile names a host file that disappears after resolving is
    // impossible to stage from outside, so use one whose contents are assumed.
    std::fs::write(
        d.path().join("bad.build"),
        "[search=.]\n/etc/hosts = hosts\n/bin/tool = not-here\n",
    )
    .unwrap();
    let before = dir_names(d.path());
    let o = hvhost_in(
        d.path(),
        &["build", "--no-host-files", "bad.build", "new.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("I0101"), "{err}");
    assert!(err.contains("/bin/tool"), "{err}");
    assert_eq!(dir_names(d.path()), before, "a file was left behind");

    std::fs::write(d.path().join("old.ifs"), b"precious").unwrap();
    let o = hvhost_in(
        d.path(),
        &["build", "--no-host-files", "bad.build", "old.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(d.path().join("old.ifs")).unwrap(),
        b"precious"
    );
    let mut want = before.clone();
    want.push("old.ifs".into());
    want.sort();
    assert_eq!(dir_names(d.path()), want);

    // An unwritable output directory: an error, nothing written.
    let o = hvhost_in(d.path(), &["build", "host.build", "no/such/dir/x.ifs"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("I0108"), "{}", text(&o.stderr));
}

#[test]
fn the_example_host_without_its_files_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("host.ifs");
    let o = hvhost_in(
        &root(),
        &[
            "build",
            "--no-host-files",
            "examples/x86_64-host/host.build",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("not available"), "{err}");
    assert!(dir_names(d.path()).is_empty());
}
