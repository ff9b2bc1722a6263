//! The resolver against real host files in a temporary directory.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use buildfile::manifest::mode::*;
use buildfile::*;
use diag::{Diagnostic, Severity, SourceMap};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Sdp {
    dir: tempfile::TempDir,
}

impl Sdp {
    /// A fake QNX_TARGET: `target/x86_64/{bin,sbin,lib,boot/sys,...}` and a work directory.
    fn new() -> Sdp {
        let dir = tempfile::tempdir().unwrap();
        for d in [
            "target/x86_64/bin",
            "target/x86_64/sbin",
            "target/x86_64/lib",
            "target/x86_64/usr/lib",
            "target/x86_64/boot/sys",
            "root/x86_64/bin",
            "work",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Sdp { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn opts(&self) -> Options {
        let mut env = HashMap::new();
        env.insert(
            "QNX_TARGET".to_string(),
            self.path("target").display().to_string(),
        );
        Options {
            env,
            now: 1_700_000_000,
            cwd: self.path("work"),
            ..Options::default()
        }
    }

    fn load(&self, src: &str, opts: &Options) -> (Option<Manifest>, Vec<Diagnostic>, SourceMap) {
        self.load_lines(&[], src, opts)
    }

    fn load_lines(
        &self,
        lines: &[&str],
        src: &str,
        opts: &Options,
    ) -> (Option<Manifest>, Vec<Diagnostic>, SourceMap) {
        let mut map = SourceMap::new();
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let (m, d) = load(&mut map, &lines, "t.build", src.as_bytes().to_vec(), opts);
        (m, d, map)
    }
}

fn ok(r: (Option<Manifest>, Vec<Diagnostic>, SourceMap)) -> Manifest {
    let (m, d, map) = r;
    let errs: Vec<String> = d
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .map(|d| {
            format!(
                "{} {}: {}",
                d.code.id,
                d.span().map(|s| map.location(s)).unwrap_or_default(),
                d.message
            )
        })
        .collect();
    assert!(errs.is_empty(), "{errs:#?}");
    m.expect("no manifest")
}

fn host_path(e: &Entry) -> &Path {
    match &e.file().unwrap().source {
        DataSource::Host { path } => path,
        other => panic!("{other:?}"),
    }
}

fn libc() -> PathBuf {
    [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib64/libc.so.6",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("no libc.so.6 on this machine")
}

#[test]
fn search_path_order_root_first_and_name_with_slash_from_cwd() {
    let s = Sdp::new();
    s.write("target/x86_64/sbin/tool", b"sbin", 0o755);
    s.write("target/x86_64/bin/tool", b"bin", 0o755);
    s.write("target/x86_64/bin/other", b"target", 0o755);
    s.write("root/x86_64/bin/other", b"root", 0o755);
    s.write("work/sub/local", b"cwd", 0o644);
    s.write("target/x86_64/sub/local", b"search", 0o644);
    let mut o = s.opts();
    o.root = Some(s.path("root"));
    o.env.insert("PROCESSOR".into(), "x86_64".into());
    let m = ok(s.load(
        "tool\nother\nsub/local\n[search=${QNX_TARGET}/x86_64] /x = sub/local\n",
        &o,
    ));
    assert_eq!(
        host_path(&m.entries[0]),
        s.path("target/x86_64/sbin/tool"),
        "sbin comes before bin"
    );
    assert_eq!(
        host_path(&m.entries[1]),
        s.path("root/x86_64/bin/other"),
        "-r comes first"
    );
    assert_eq!(
        host_path(&m.entries[2]),
        s.path("work/sub/local"),
        "a name with / is tried from the cwd"
    );
    assert_eq!(
        m.entries[2].path, "local",
        "one name: the target is its basename (no prefix: not bootable)"
    );
    assert_eq!(host_path(&m.entries[3]), s.path("work/sub/local"));
}

#[test]
fn mkifs_path_replaces_the_default_and_r() {
    let s = Sdp::new();
    s.write("root/x86_64/bin/a", b"root", 0o644);
    s.write("work/mine/a", b"mine", 0o644);
    let mut o = s.opts();
    o.root = Some(s.path("root"));
    o.env.insert("PROCESSOR".into(), "x86_64".into());
    o.env.insert(
        "MKIFS_PATH".into(),
        s.path("work/mine").display().to_string(),
    );
    let m = ok(s.load("a\n", &o));
    assert_eq!(host_path(&m.entries[0]), s.path("work/mine/a"));
}

#[test]
fn targets_prefix_and_dot_parts() {
    let s = Sdp::new();
    for n in ["a", "b", "c", "d"] {
        s.write(&format!("work/{n}"), n.as_bytes(), 0o644);
    }
    let m = ok(s.load(
        "[search=.]\n/usr//./bin/a = a\nrel/b = b\n[prefix=/opt/x/] c\n[prefix=] d\n",
        &s.opts(),
    ));
    let paths: Vec<&str> = m.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["usr/bin/a", "rel/b", "opt/x/c", "d"]);
    // Bootable images put relative targets under proc/boot.
    let src = "[virtual=x86_64,bios] boot = {\nstartup-x86\nprocnto\n}\n[search=.] a\n/abs = b\n";
    let mut o = s.opts();
    o.no_host_files = true;
    let m = ok(s.load(src, &o));
    let paths: Vec<&str> = m.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["proc/boot/procnto", "proc/boot/a", "abs"]);
    assert_eq!(m.image.mountpoint, "/");
}

#[test]
fn owners_and_permissions() {
    let s = Sdp::new();
    s.write("work/exe", b"#!/bin/sh\n", 0o750);
    s.write("work/data", b"x", 0o640);
    let m = ok(s.load(
        concat!(
            "[search=.]\n",
            "exe\n",
            "[uid=7 gid=8 perms=0644] /p/data = data\n",
            "[perms=a+x,go-w] /s/data = data\n",
            "[perms=4755 uid=0] /u/exe = exe\n",
            "[type=dir dperms=0700 uid=3] /d\n",
            "[type=fifo] /f\n",
            "[type=link] /l = /exe\n",
            "[uid=0 gid=0 type=dir dperms=0711] /\n",
            "/i = {\nhi\n}\n",
            "[perms=0755] /i2 = {\n#!/bin/sh\n}\n",
        ),
        &s.opts(),
    ));
    let uid = std::fs::metadata(s.path("work/exe"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    let e = |p: &str| m.find(p).unwrap_or_else(|| panic!("{p}"));
    // An executable script gets the sticky bit.
    assert_eq!(e("exe").mode, S_IFREG | S_ISVTX | 0o750);
    assert_eq!(e("exe").uid, uid, "uid=* (the default) is the host file's");
    assert_eq!(
        (e("p/data").mode, e("p/data").uid, e("p/data").gid),
        (S_IFREG | 0o644, 7, 8)
    );
    assert_eq!(e("s/data").mode, S_IFREG | S_ISVTX | 0o751);
    assert_eq!(e("u/exe").mode, S_IFREG | S_ISVTX | 0o4755);
    assert_eq!((e("d").mode, e("d").uid), (S_IFDIR | 0o700, 3));
    assert_eq!(e("f").mode, S_IFIFO | 0o666);
    assert_eq!(e("l").mode, 0o121777);
    assert_eq!(m.root.mode, S_IFDIR | 0o711);
    assert_eq!(e("i").mode, S_IFREG | 0o666);
    assert_eq!(
        e("i").mtime,
        1_700_000_000,
        "inline files get the build time"
    );
    assert_eq!(e("i2").mode, 0o101755, "as the spec's example");
    assert_eq!(m.entries.len(), 9, "the root is not an entry");
}

#[test]
fn inline_contents_and_escapes() {
    let s = Sdp::new();
    let m = ok(s.load("/a = {\n  a \\} b \\\\ c\n}\n/empty = {\n}\n", &s.opts()));
    let bytes = |p: &str| match &m.find(p).unwrap().file().unwrap().source {
        DataSource::Inline { bytes } => bytes.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(bytes("a"), b"  a } b \\ c\n");
    assert_eq!(bytes("empty"), b"");
    assert_eq!(m.find("empty").unwrap().file().unwrap().size, Some(0));
}

#[test]
fn directories_recurse_with_and_without_followlink() {
    let s = Sdp::new();
    s.write("work/tree/a.txt", b"a", 0o644);
    s.write("work/tree/sub/b.txt", b"bb", 0o644);
    std::os::unix::fs::symlink("a.txt", s.path("work/tree/link")).unwrap();
    let m = ok(s.load(
        "[search=.]\n/t = tree\n[-followlink] /n = tree\n",
        &s.opts(),
    ));
    let listing: Vec<String> = m
        .entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::Symlink { target } => format!("{} -> {target}", e.path),
            EntryKind::Dir => format!("{}/", e.path),
            EntryKind::File(f) => format!("{} {}", e.path, f.size.unwrap()),
            EntryKind::Fifo => e.path.clone(),
        })
        .collect();
    assert_eq!(
        listing,
        [
            "t/",
            "t/a.txt 1",
            "t/link 1",
            "t/sub/",
            "t/sub/b.txt 2",
            "n/",
            "n/a.txt 1",
            "n/link -> a.txt",
            "n/sub/",
            "n/sub/b.txt 2"
        ]
    );
}

#[test]
fn autolink_stores_a_shared_object_under_its_soname() {
    let s = Sdp::new();
    let lib = std::fs::read(libc()).unwrap();
    s.write("target/x86_64/lib/libc.so", &lib, 0o755);
    let mut o = s.opts();
    o.env.insert("PROCESSOR".into(), "x86_64".into());
    let m = ok(s.load(
        "/lib/libc.so = libc.so\n[-autolink] /lib2/libc.so = libc.so\n",
        &o,
    ));
    let paths: Vec<String> = m
        .entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::Symlink { target } => format!("{} -> {target}", e.path),
            _ => e.path.clone(),
        })
        .collect();
    assert_eq!(
        paths,
        ["lib/libc.so.6", "lib/libc.so -> libc.so.6", "lib2/libc.so"]
    );
    let elf = m.entries[0].file().unwrap().elf.clone().unwrap();
    assert_eq!(
        (elf.machine, elf.kind, elf.soname.as_deref()),
        (62, ElfKind::Shared, Some("libc.so.6"))
    );
    assert_eq!(m.image.byte_order, ByteOrder::Little);
}

#[test]
fn an_elf_executable_runs_once_unless_data_is_copied() {
    let s = Sdp::new();
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    s.write("work/prog", &exe, 0o755);
    let m = ok(s.load(
        "[search=.] prog\n[search=. data=copy] /c = prog\n[search=. +raw] /r = prog\n",
        &s.opts(),
    ));
    let e = |p: &str| m.find(p).unwrap();
    assert!(e("prog").runs_once());
    assert_eq!(
        e("prog").mode,
        S_IFREG | 0o755,
        "a run-once program gets no sticky bit"
    );
    assert!(!e("c").runs_once());
    assert_eq!(e("c").mode, S_IFREG | S_ISVTX | 0o755);
    assert!(!e("r").runs_once());
}

#[test]
fn missing_host_files_optional_required_and_assumed() {
    let s = Sdp::new();
    let src = "nothere\n[-optional] /x = gone\n";
    let (m, d, map) = s.load(src, &s.opts());
    assert!(m.is_none());
    let got: Vec<(&str, Severity, String)> = d
        .iter()
        .filter(|d| d.code.id != "B0207")
        .map(|d| (d.code.id, d.severity, map.location(d.span().unwrap())))
        .collect();
    assert_eq!(
        got,
        [
            ("B0202", Severity::Warning, "t.build:1:1".to_string()),
            ("B0201", Severity::Error, "t.build:2:18".to_string()),
        ]
    );
    // --no-host-files: both assumed, size unknown.
    let mut o = s.opts();
    o.no_host_files = true;
    let m = ok(s.load(src, &o));
    assert_eq!(m.entries.len(), 2);
    assert_eq!(
        m.entries[1].file().unwrap().source,
        DataSource::Assumed {
            name: "gone".into()
        }
    );
    assert_eq!(m.entries[1].file().unwrap().size, None);
}

#[test]
fn dash_l_lines_come_first() {
    let s = Sdp::new();
    let (m, d, _) = s.load_lines(
        &["[uid=5 gid=6]", "[type=link] /early = /x"],
        "/late = {\nx\n}\n",
        &s.opts(),
    );
    assert!(d.is_empty(), "{d:?}");
    let m = m.unwrap();
    let got: Vec<(&str, u32, u32)> = m
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.uid, e.gid))
        .collect();
    assert_eq!(got, [("early", 5, 6), ("late", 5, 6)]);
    // Errors in a -l line point into it.
    let (m, d, map) = s.load_lines(&["[+nosuch]"], "", &s.opts());
    assert!(m.is_none());
    assert_eq!(map.location(d[0].span().unwrap()), "<-l 1>:1:3");
}

#[test]
fn variables_expand_from_the_buildfile_then_the_environment() {
    let s = Sdp::new();
    let mut o = s.opts();
    o.no_host_files = true;
    o.env.insert("A".into(), "${B}-a".into());
    o.env.insert("B".into(), "b".into());
    o.env.insert("LOOP".into(), "${LOOP}".into());
    let src = concat!(
        "[virtual=aarch64le,raw] boot = {\nstartup-x\nVAR=fromboot\nprocnto\n}\n",
        "/${A} = x\n",
        "/${VAR}/${PROCESSOR}/${CPU_BASE} = y\n",
        "\"/${A}\" = z\n",
        "/$A = w\n",
        "/u${UNSET}v = q\n",
    );
    let (m, d, map) = s.load(src, &o);
    let m = m.unwrap();
    let paths: Vec<&str> = m.entries.iter().skip(1).map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["b-a", "fromboot/aarch64le/aarch64", "${A}", "$A", "uv"]
    );
    assert_eq!(m.boot.as_ref().unwrap().env[0].name, "VAR");
    let unset: Vec<_> = d.iter().filter(|d| d.code.id == "B0207").collect();
    assert_eq!(unset.len(), 1);
    assert_eq!(map.location(unset[0].span().unwrap()), "t.build:10:3");
    // A loop is reported, not followed forever.
    let (_, d, _) = s.load("/${LOOP} = x\n", &o);
    assert!(d.iter().any(|d| d.code.id == "B0208"), "{d:?}");
    // A value that doubles itself at each level is cut off by length, and
    // reported once, not once per leaf of the expansion (found by fuzzing).
    o.env.insert("TWICE".into(), "${TWICE}${TWICE}x".into());
    o.env.insert(
        "WIDE".into(),
        "0123456789abcdef".repeat(512) + "${WIDE}${WIDE}",
    );
    for var in ["TWICE", "WIDE"] {
        let (_, d, _) = s.load(&format!("/${{{var}}} = x\n"), &o);
        let loops: Vec<_> = d.iter().filter(|d| d.code.id == "B0208").collect();
        assert_eq!(loops.len(), 1, "{var}: {d:?}");
    }
    let (_, d, _) = s.load("/${WIDE} = x\n", &o);
    assert!(
        d.iter()
            .any(|d| d.message.contains("more than 65536 bytes")),
        "{d:?}"
    );
}

#[test]
fn boot_block_programs_modules_env_and_continuation() {
    let s = Sdp::new();
    let mut o = s.opts();
    o.no_host_files = true;
    let src = concat!(
        "[virtual=aarch64le,raw -compress] boot = {\n",
        "    [+keeplinked] startup-rcar_h3 -P1 -W -vv\n",
        "    [+keeplinked module=qvm module=aps] PATH=/proc/boot:/sbin:/bin\n",
        "    LD_LIBRARY_PATH=/proc/boot:/lib procnto-smp-instr -ae -v\n",
        "}\n",
    );
    let m = ok(s.load(src, &o));
    let b = m.boot.unwrap();
    assert_eq!(b.mode, BootMode::Virtual);
    assert_eq!(b.cpu.as_deref(), Some("aarch64le"));
    assert_eq!(b.bootfile_name, "raw");
    assert!(b.bootfile_args.is_empty());
    assert_eq!(b.startup.name, "startup-rcar_h3");
    assert_eq!(b.startup.args, ["-P1", "-W", "-vv"]);
    assert!(b.startup.attrs.keeplinked);
    assert_eq!(b.bootstrap.len(), 1);
    let k = &b.bootstrap[0];
    assert_eq!(k.name, "procnto-smp-instr");
    let mods: Vec<&str> = k.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(mods, ["qvm", "aps"]);
    let env: Vec<&str> = k.env.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(env, ["PATH", "LD_LIBRARY_PATH"]);
    assert_eq!(k.args, ["-ae", "-v"]);
    assert!(
        b.env.is_empty(),
        "the PATH line continues: it is not a global environment line"
    );
    assert_eq!(m.entries[0].path, "proc/boot/procnto-smp-instr");
    assert_eq!(m.entries[0].file().unwrap().role, FileRole::Bootstrap(0));
    assert_eq!(k.entry, Some(0));
    assert_eq!(m.image.compression, None);
}

#[test]
fn bootfile_is_read_and_its_attributes_apply_after_the_buildfile() {
    let s = Sdp::new();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/bootfiles/qnx700_x86_64_multiboot.boot"),
        s.path("target/x86_64/boot/sys/multiboot.boot"),
    )
    .unwrap();
    s.write("target/x86_64/boot/sys/startup-x86", b"s", 0o755);
    s.write("target/x86_64/boot/sys/procnto-smp-instr", b"k", 0o755);
    let m = ok(s.load(
        "[virtual=x86_64,multiboot +compress] boot = {\nstartup-x86\nprocnto-smp-instr\n}\n",
        &s.opts(),
    ));
    let b = m.boot.as_ref().unwrap();
    let bf = b.bootfile.as_ref().unwrap();
    assert_eq!(bf.vboot, Some(0xffff800000000000));
    assert_eq!(
        m.image.image.start,
        Some(4 << 20),
        "default_image applies without image="
    );
    assert_eq!(m.image.byte_order, ByteOrder::Little, "attr=?-bigendian");
    assert_eq!(m.image.compression, Some(Compression::Ucl));
    // The buildfile's own setting wins over a `?` bootfile attribute.
    let m = ok(s.load("[+bigendian image=0x200000]\n[virtual=x86_64,multiboot] boot = {\nstartup-x86\nprocnto-smp-instr\n}\n", &s.opts()));
    assert_eq!(m.image.byte_order, ByteOrder::Big);
    assert_eq!(m.image.image.start, Some(0x200000));
    // A missing bootfile is an error unless host files are assumed.
    let (m, d, _) = s.load(
        "[virtual=x86_64,nosuch] boot = {\nstartup-x86\nprocnto-smp-instr\n}\n",
        &s.opts(),
    );
    assert!(m.is_none());
    assert!(d.iter().any(|d| d.code.id == "B0211"));
}

#[test]
fn script_entries_and_several_scripts() {
    let s = Sdp::new();
    s.write("work/more.script", b"display_msg from a host file\n", 0o644);
    let src =
        "[+script] .script = {\ndisplay_msg one\n}\n[+script search=.] .script2 = more.script\n";
    let (m, d, _) = s.load(src, &s.opts());
    let m = m.unwrap();
    assert_eq!(m.entries.len(), 1);
    assert_eq!(m.entries[0].file().unwrap().role, FileRole::Script);
    assert_eq!(m.script.len(), 2);
    assert_eq!(m.script[1].to_string(), "display_msg from a host file");
    assert_eq!(d.iter().map(|d| d.code.id).collect::<Vec<_>>(), ["B0217"]);
}

#[test]
fn duplicates_are_all_kept_in_order_and_dupignore_leaves_one_out() {
    let s = Sdp::new();
    let (m, d, map) = s.load(
        "/a = {\n1\n}\n/a = {\n2\n}\n[+dupignore] /a = {\n3\n}\n",
        &s.opts(),
    );
    let m = m.unwrap();
    // As mkifs: both `/a` lines are written, in buildfile order; the one
    // under `+dupignore` is left out.
    let sizes: Vec<_> = m
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.file().unwrap().size))
        .collect();
    assert_eq!(sizes, [("a", Some(2)), ("a", Some(2))]);
    let DataSource::Inline { bytes } = &m.entries[1].file().unwrap().source else {
        panic!("inline")
    };
    assert_eq!(bytes, b"2\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code.id, "B0209");
    assert_eq!(map.location(d[0].span().unwrap()), "t.build:4:1");
    assert_eq!(map.location(d[0].secondary[0].span), "t.build:1:1");
}

#[test]
fn times_host_clamped_and_zeroed() {
    let s = Sdp::new();
    s.write("work/f", b"x", 0o644);
    let host_mtime = std::fs::metadata(s.path("work/f"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let src = "[search=.] f\n/i = {\nx\n}\n";
    let m = ok(s.load(src, &s.opts()));
    assert_eq!(
        (m.entries[0].mtime, m.entries[1].mtime),
        (host_mtime, 1_700_000_000)
    );
    let mut o = s.opts();
    o.source_date_epoch = Some(1000);
    o.now = 1000;
    let m = ok(s.load(src, &o));
    assert_eq!(
        (m.entries[0].mtime, m.entries[1].mtime, m.root.mtime),
        (1000, 1000, 1000)
    );
    o.times = Times::ZeroGenerated;
    let m = ok(s.load(src, &o));
    assert_eq!(
        (m.entries[0].mtime, m.entries[1].mtime, m.root.mtime),
        (1000, 0, 0)
    );
    o.times = Times::ZeroAll;
    let m = ok(s.load(src, &o));
    assert_eq!((m.entries[0].mtime, m.entries[1].mtime), (0, 0));
}

#[test]
fn include_reads_another_buildfile_in_place() {
    let s = Sdp::new();
    s.write(
        "work/inc/tools.build",
        b"[uid=9]\n/from_include = {\nx\n}\n",
        0o644,
    );
    let m = ok(s.load("[+include] inc/tools.build\n/after = {\ny\n}\n", &s.opts()));
    let paths: Vec<(&str, u32)> = m.entries.iter().map(|e| (e.path.as_str(), e.uid)).collect();
    assert_eq!(paths, [("from_include", 9), ("after", 9)]);
}

#[test]
fn compress_with_ram_is_an_error_naming_both() {
    let s = Sdp::new();
    let (m, d, map) = s.load("[ram=0x80000000]\n[+compress]\n", &s.opts());
    assert!(m.is_none());
    let d: Vec<_> = d.iter().filter(|d| d.code.id == "B0206").collect();
    assert_eq!(d.len(), 1);
    assert_eq!(map.location(d[0].span().unwrap()), "t.build:2:2");
    assert_eq!(map.location(d[0].secondary[0].span), "t.build:1:2");
}

/// A FIFO named as a host file is never read (reading one blocks until a
/// writer comes): an entry from it is listed without its bytes, and an
/// `[+include]` or a `+script` file from it is B0210.
#[test]
fn a_fifo_host_file_never_blocks() {
    let sdp = Sdp::new();
    std::fs::create_dir_all(sdp.path("work")).unwrap();
    let fifo = sdp.path("work/pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let f = fifo.display();
    let m = ok(sdp.load(&format!("/etc/f = {f}\n"), &sdp.opts()));
    assert!(m.entries.iter().any(|e| e.path == "etc/f"));
    for src in [
        format!("[+include] {f}\n"),
        format!("[+script] .script = {f}\n"),
    ] {
        let (_, d, _) = sdp.load(&src, &sdp.opts());
        let d = d.iter().find(|d| d.code.id == "B0210").expect("B0210");
        assert!(d.message.contains("not a regular file"), "{}", d.message);
    }
}

#[test]
fn a_missing_host_file_says_where_it_was_looked_for() {
    let s = Sdp::new();
    let notes = |src: &str, o: &Options| -> String {
        let (_, d, _) = s.load(src, o);
        let d = d.iter().find(|d| d.code.id == "B0202").expect("B0202");
        d.notes.join("\n")
    };
    // The default path: under -r first, then QNX_TARGET, each labelled.
    let mut o = s.opts();
    o.root = Some(s.path("root"));
    o.env.insert("PROCESSOR".into(), "x86_64".into());
    let n = notes("nothere\n", &o);
    assert!(n.contains("never in the current directory"), "{n}");
    let root_bin = format!("{} (-r)", s.path("root/x86_64/bin").display());
    let target_bin = format!("{} (QNX_TARGET)", s.path("target/x86_64/bin").display());
    let (r, t) = (n.find(&root_bin), n.find(&target_bin));
    assert!(r.is_some() && t.is_some() && r < t, "{n}");
    assert!(
        n.contains("... and 4 more"),
        "16 directories, 12 shown: {n}"
    );
    // MKIFS_PATH replaces them, in its order, relative to the current directory.
    o.env.insert("MKIFS_PATH".into(), "one:../two".into());
    let n = notes("nothere\n", &o);
    assert!(
        n.ends_with("searched, in order:\n  one (MKIFS_PATH)\n  ../two (MKIFS_PATH)"),
        "{n}"
    );
    // A name with a slash is looked at from the current directory first.
    let n = notes("[search=lib] sub/nothere\n", &s.opts());
    assert!(
        n.starts_with("looked first at sub/nothere\nsearched, in order:\n  lib (search=)"),
        "{n}"
    );
    // Nothing to search at all.
    let mut o = s.opts();
    o.env.clear();
    let n = notes("nothere\n", &o);
    assert!(n.contains("the search path is empty"), "{n}");
}
