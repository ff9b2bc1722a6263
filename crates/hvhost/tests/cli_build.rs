//! `hvhost build`, run as a user runs it.

#![allow(
    unsafe_code,
    reason = "signals to the build's process group, as Ctrl-C sends them"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::*;

use std::path::Path;
use std::process::{Command, Output, Stdio};

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
    let o = hvhost_env(d.path(), &["build", "-nn", "host.build", "out.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_env(d.path(), &["dump", "-vv", "out.ifs"], &[]);
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
    let o = hvhost_env(d.path(), &["dump", "-x", "-d", "x", "out.ifs"], &[]);
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
            let o = hvhost_env(d.path(), &a, &env);
            assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
            images.push(std::fs::read(d.path().join(name)).unwrap());
        }
        assert_eq!(images[0], images[1], "{args:?} {env:?}");
    }
}

#[test]
fn output_option_and_stdout() {
    let d = setup();
    let o = hvhost_env(
        d.path(),
        &["build", "-nn", "host.build", "-o", "o.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o2 = hvhost_env(d.path(), &["build", "-nn", "host.build", "-"], &[]);
    assert_eq!(o2.status.code(), Some(0), "{}", text(&o2.stderr));
    assert_eq!(o2.stdout, std::fs::read(d.path().join("o.ifs")).unwrap());
    let o3 = hvhost_env(d.path(), &["build", "host.build"], &[]);
    assert_eq!(o3.status.code(), Some(2));
    assert!(text(&o3.stderr).contains("no output file"));
}

#[test]
fn verbose_prints_the_placement_table() {
    let d = setup();
    let o = hvhost_env(
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
    let o = hvhost_env(
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
    let o = hvhost_env(
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
    let o = hvhost_env(d.path(), &["build", "host.build", "no/such/dir/x.ifs"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("I0108"), "{}", text(&o.stderr));
}

#[test]
fn the_example_host_without_its_files_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("host.ifs");
    let o = hvhost_env(
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

fn sh(dir: &Path, cmd: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

/// A stand-in SDK under `p/target`: every program and library the example
/// host names (static executables and shared objects from the system's
/// `cc`/`ld`), and the SDK's multiboot.boot from the corpus.
fn stand_in_sdk(p: &Path) {
    let sys = p.join("target/x86_64/boot/sys");
    std::fs::create_dir_all(sys.join("pci")).unwrap();
    std::fs::copy(
        root().join("../shared/corpus/bootfiles/qnx700_x86_64_multiboot.boot"),
        sys.join("multiboot.boot"),
    )
    .unwrap();
    std::fs::write(
        p.join("start.S"),
        ".globl _start\n.text\n_start:\n hlt\n jmp _start\n.data\n.ascii \"ddpvbskr\"\n.space 248\n",
    )
    .unwrap();
    std::fs::write(p.join("lib.c"), "int lib_value(void) { return 42; }\n").unwrap();
    sh(p, "cc -c start.S -o start.o");
    // multiboot.boot: len=0x200, so the startup code is at 0x200000 + 0x200 + 0x100.
    sh(
        p,
        &format!(
            "ld -N -Ttext=0x200300 -e _start --no-warn-rwx-segments -o {}/startup-x86 start.o",
            sys.display()
        ),
    );
    sh(
        p,
        &format!(
            "ld -Ttext=0x400000 -e _start -o {}/procnto-smp-instr start.o",
            sys.display()
        ),
    );
    sh(p, "ld -e _start -o prog start.o");
    sh(p, "cc -shared -nostdlib -fPIC -o lib.so lib.c");
    for prog in [
        "devc-ser8250",
        "pci-server",
        "slogger2",
        "pipe",
        "random",
        "ksh",
        "qvm",
    ] {
        std::fs::copy(p.join("prog"), sys.join(prog)).unwrap();
    }
    for lib in [
        "libc.so",
        "ldqnx-64.so.2",
        "pci/pci_server-qvm_support.so",
        "vdev-8259.so",
        "vdev-ioapic.so",
        "vdev-timer8254.so",
        "vdev-mc146818.so",
        "vdev-pckeyboard.so",
        "vdev-ser8250.so",
        "vdev-progress.so",
        "vdev-hpet.so",
        "vdev-virtio-blk.so",
        "vdev-virtio-net.so",
        "vdev-shmem.so",
    ] {
        std::fs::copy(p.join("lib.so"), sys.join(lib)).unwrap();
    }
}

/// The example host's own files under `p`, as they are relative to the
/// repository root; returns their directory.
fn example_files(p: &Path) -> std::path::PathBuf {
    // The example's own files, relative to the repository root.
    let ex = p.join("examples/x86_64-host");
    std::fs::create_dir_all(ex.join("vm")).unwrap();
    std::fs::copy(
        root().join("examples/x86_64-host/host.build"),
        ex.join("host.build"),
    )
    .unwrap();
    for q in ["probe.qvmconf", "linux.qvmconf"] {
        let real = root().join("examples/x86_64-host/vm").join(q);
        match std::fs::read(&real) {
            Ok(b) => std::fs::write(ex.join("vm").join(q), b).unwrap(),
            Err(_) => std::fs::write(ex.join("vm").join(q), format!("# {q}\n")).unwrap(),
        }
    }
    std::fs::create_dir_all(ex.join("vm/images")).unwrap();
    std::fs::copy(
        root().join("examples/x86_64-host/vm/images/probe.elf"),
        ex.join("vm/images/probe.elf"),
    )
    .unwrap();
    ex
}

/// The example host against a stand-in SDK: every program and library it
/// names is made here (static executables and shared objects from the
/// system's `cc`/`ld`), the bootfile is the SDK's multiboot.boot from the
/// corpus, and the image is built, listed, verified and extracted.
#[test]
fn the_example_host_builds_against_a_stand_in_sdk() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    stand_in_sdk(p);
    let ex = example_files(p);
    let qt = p.join("target");
    let env = [("QNX_TARGET", qt.to_str().unwrap())];
    let o = hvhost_env(
        p,
        &[
            "build",
            "-nn",
            "--no-filter",
            "-v",
            "examples/x86_64-host/host.build",
            "host.ifs",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    assert!(table.contains("/usr/bin/qvm (page-aligned)"), "{table}");
    assert!(
        table.contains("image_paddr 0x200200, startup_vaddr 0x200300"),
        "{table}"
    );

    let o = hvhost_env(p, &["dump", "-vv", "host.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let l = text(&o.stdout);
    for want in [
        "      200      100  Startup-header flags1=0xd",
        "Compressed image (UCL)",
        "proc/boot/procnto-smp-instr",
        "proc/boot/pci-server",
        "bin/sh -> /bin/ksh",
        "vm/images",
        "vm/images/probe.elf",
        "    [sched_aps=guests] SYSNAME=nto TERM=qansi qvm @/vm/config/probe.qvmconf &",
        "    sched_aps guests 60 100",
        "    [+session] SYSNAME=nto TERM=qansi ksh &",
        "    reopen /dev/ser1 5",
        "    procmgr_symlink ../../proc/boot/libc.so /usr/lib/ldqnx-64.so.2",
    ] {
        assert!(l.contains(want), "missing {want:?} in\n{l}");
    }
    let o = hvhost_env(p, &["dump", "--verify", "host.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_env(p, &["dump", "-x", "-d", "out", "host.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(p.join("out/vm/config/probe.qvmconf")).unwrap(),
        std::fs::read(ex.join("vm/probe.qvmconf")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(p.join("out/etc/motd")).unwrap(),
        "hvhost example host: two guests, see /vm/config.\n"
    );
    // The image is an input as the buildfile is: it checks clean (with the
    // note that an image does not record `module=qvm`), and its probe VM
    // runs from the image's bytes (the guest ELF is stored `+raw`).
    let o = hvhost_env(p, &["check", "host.ifs"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("note[H0105]"), "{err}");
    assert!(!err.contains("H0101"), "{err}");
    assert!(text(&o.stdout).contains("clean"), "{}", text(&o.stdout));
    if kvm() {
        let o = hvhost_env(p, &["run", "host.ifs", "--vm", "probe"], &[]);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
        assert!(out.contains("probe: off: powering off"), "{out}\n{err}");
        assert!(err.contains("VM ended: powered off"), "{err}");
    }
    // The filter of multiboot.boot (mkifsf_elf) is not installed here: a
    // clear error, and no image.
    let o = hvhost_env(
        p,
        &["build", "examples/x86_64-host/host.build", "f.ifs"],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("I0105") && err.contains("`mkifsf_elf`"),
        "{err}"
    );
    assert!(!p.join("f.ifs").exists());
}

/// A guest packaged as an IFS image, as the VMM loads one: the startup
/// program is a flat binary (objcopy of a static executable linked at
/// 1 MiB, like guests/probe), the image base puts its first byte at 1 MiB,
/// and the startup header says: load at image_paddr, enter at startup_vaddr.
#[test]
fn a_flat_guest_binary_becomes_a_bootable_ifs() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(
        p.join("g.S"),
        ".globl _start\n.text\n_start:\n hlt\n jmp _start\n.data\n.ascii \"guest data\"\n",
    )
    .unwrap();
    sh(p, "cc -c g.S -o g.o");
    sh(
        p,
        "ld -N -Ttext=0x100000 -e _start --no-warn-rwx-segments -o guest.elf g.o",
    );
    sh(p, "objcopy -O binary guest.elf guest.bin");
    std::fs::write(
        p.join("guest.build"),
        "[image=0xfff00]\n[virtual=x86_64,raw] boot = {\n    ./guest.bin\n}\n",
    )
    .unwrap();
    let o = hvhost_env(
        p,
        &[
            "build",
            "--no-host-files",
            "-nn",
            "guest.build",
            "guest.ifs",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let img = std::fs::read(p.join("guest.ifs")).unwrap();
    let c = ifs::read::open(&img).unwrap();
    c.verify_outer().unwrap();
    let (at, h) = c.startup.clone().unwrap();
    assert_eq!(at, 0);
    assert_eq!(h.image_paddr, 0xfff00);
    assert_eq!(h.startup_vaddr, 0x100000);
    assert_eq!(h.machine, 62);
    assert_eq!(h.stored_size as usize, img.len());
    let bin = std::fs::read(p.join("guest.bin")).unwrap();
    assert_eq!(&img[256..256 + bin.len()], bin.as_slice());
    // Without image= a flat binary has no address: a clear error.
    std::fs::write(
        p.join("noaddr.build"),
        "[virtual=x86_64,raw] boot = {\n    ./guest.bin\n}\n",
    )
    .unwrap();
    let o = hvhost_env(
        p,
        &["build", "--no-host-files", "noaddr.build", "x.ifs"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("I0107") && err.contains("[image=ADDR]"),
        "{err}"
    );
}

/// End to end: the probe guest's flat binary packaged by `hvhost build` as
/// an IFS image boots on KVM through the VMM's IFS loader (load at
/// image_paddr, enter at startup_vaddr).
#[test]
fn the_probe_packaged_as_an_ifs_boots_on_kvm() {
    if !kvm() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(
        p.join("probe.build"),
        format!(
            "[image={:#x}]\n[virtual=x86_64,raw] boot = {{\n    {}\n}}\n",
            vmm::probe::BASE - 0x100,
            vmm::probe::BIN
        ),
    )
    .unwrap();
    let o = hvhost_env(
        p,
        &[
            "build",
            "--no-host-files",
            "-nn",
            "probe.build",
            "probe.ifs",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_env(p, &["dump", "-v", "probe.ifs"], &[]);
    assert!(
        text(&o.stdout).contains(&format!(
            "startup_vaddr={:#x} image_paddr={:#x}",
            vmm::probe::BASE,
            vmm::probe::BASE - 0x100
        )),
        "{}",
        text(&o.stdout)
    );
    std::fs::write(
        p.join("vm.qvmconf"),
        "system probe\nram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,31m\ncpu\n\
         load probe.ifs\ncmdline \"hello off\"\n\
         vdev ioapic loc 0xf8000000 intr apic name myioapic\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-\n\
         vdev timer8254 intr myioapic:0\nvdev mc146818\nvdev pckeyboard\nvdev progress\n\
         vdev 8259 loc 0x20\nvdev 8259 loc 0xa0\n",
    )
    .unwrap();
    let o = hvhost_env(p, &["qvm", "@vm.qvmconf"], &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("probe: hello: ok boot=multiboot"), "{out}");
}

/// The permission bits of `p` (not following a link).
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn build_then_extract_round_trips_modes() {
    use std::os::unix::fs::PermissionsExt;
    let d = setup();
    std::fs::write(
        d.path().join("modes.build"),
        "[search=.]\n\
         [type=dir dperms=0700] /emptydir\n\
         [type=dir dperms=0500] /ro\n\
         [type=dir dperms=0751] /ro/sub\n\
         [perms=0600] /ro/secret = hosts\n\
         [perms=0640] /ro/sub/f = hosts\n\
         [perms=0755] /bin/run.sh = run.sh\n\
         [perms=0444] /etc/hosts = hosts\n\
         [type=link] /l = /ro/secret\n",
    )
    .unwrap();
    let o = hvhost_env(d.path(), &["build", "modes.build", "m.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_env(d.path(), &["dump", "-x", "-d", "x", "m.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = hvhost_env(d.path(), &["dump", "--format", "json", "m.ifs"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut seen = 0;
    for e in v["entries"].as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        if path.is_empty() {
            continue;
        }
        let mode = u32::from_str_radix(e["mode"].as_str().unwrap(), 8).unwrap();
        let p = d.path().join("x").join(path);
        let m = std::fs::symlink_metadata(&p).unwrap();
        // The file type, and the permission bits with the sticky bit
        // (a symlink's own bits are always 0777 on Linux).
        assert_eq!(m.permissions().mode() & 0o170000, mode & 0o170000, "{path}");
        if m.file_type().is_symlink() {
            assert_eq!(m.permissions().mode() & 0o777, 0o777, "{path}");
        } else {
            assert_eq!(mode_of(&p), mode & 0o1777, "{path}: image mode {mode:o}");
        }
        seen += 1;
    }
    assert_eq!(seen, 8);
    assert_eq!(mode_of(&d.path().join("x/emptydir")), 0o700);
    assert_eq!(mode_of(&d.path().join("x/ro")), 0o500);
    assert_eq!(mode_of(&d.path().join("x/ro/sub")), 0o751);
    assert_eq!(mode_of(&d.path().join("x/ro/secret")), 0o600);
    // Extracting again over the read-only directory works.
    let o = hvhost_env(d.path(), &["dump", "-x", "-d", "x", "m.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(mode_of(&d.path().join("x/ro")), 0o500);
    // Let the temporary directory be removed.
    for p in ["x/ro", "x/ro/sub", "x/emptydir"] {
        std::fs::set_permissions(d.path().join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Runs `hvhost ARGS` under `umask MASK` (through the shell).
fn hvhost_umask(dir: &Path, mask: &str, args: &str) -> Output {
    let cmd = format!("umask {mask} && exec \"$HVHOST\" {args}");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .env("HVHOST", env!("CARGO_BIN_EXE_hvhost"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.output().unwrap()
}

#[test]
fn the_output_keeps_its_mode_and_a_new_one_follows_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = setup();
    let p = d.path();
    for (mask, want) in [("077", 0o600), ("022", 0o644), ("002", 0o664)] {
        let name = format!("new{mask}.ifs");
        let o = hvhost_umask(p, mask, &format!("build host.build {name}"));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(mode_of(&p.join(&name)), want, "umask {mask}");
    }
    // An existing output keeps its mode, whatever the umask.
    for mode in [0o600, 0o640, 0o755] {
        std::fs::write(p.join("old.ifs"), b"old").unwrap();
        std::fs::set_permissions(p.join("old.ifs"), std::fs::Permissions::from_mode(mode)).unwrap();
        let o = hvhost_umask(p, "022", "build host.build old.ifs");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(mode_of(&p.join("old.ifs")), mode);
        assert_ne!(std::fs::read(p.join("old.ifs")).unwrap(), b"old");
    }
}

#[test]
fn a_symlinked_output_is_written_through_to_its_target() {
    use std::os::unix::fs::PermissionsExt;
    let d = setup();
    let p = d.path();
    std::fs::create_dir(p.join("images")).unwrap();
    std::fs::write(p.join("images/real.ifs"), b"old").unwrap();
    std::fs::set_permissions(
        p.join("images/real.ifs"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("images/real.ifs", p.join("link.ifs")).unwrap();
    std::os::unix::fs::symlink("link.ifs", p.join("link2.ifs")).unwrap();
    let o = hvhost_env(p, &["build", "-nn", "host.build", "link2.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for l in ["link.ifs", "link2.ifs"] {
        assert!(
            std::fs::symlink_metadata(p.join(l))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    assert_eq!(mode_of(&p.join("images/real.ifs")), 0o640);
    let img = std::fs::read(p.join("images/real.ifs")).unwrap();
    assert!(img.starts_with(b"imagefs"));
    let o = hvhost_env(p, &["build", "-nn", "host.build", "plain.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(p.join("plain.ifs")).unwrap(), img);
    // No temporary file is left beside the link or the target.
    assert_eq!(dir_names(&p.join("images")), ["real.ifs"]);
    assert!(!dir_names(p).iter().any(|n| n.ends_with(".tmp")));
    // A dangling link: the image is created at its target.
    std::os::unix::fs::symlink("images/new.ifs", p.join("dangling.ifs")).unwrap();
    let o = hvhost_env(p, &["build", "-nn", "host.build", "dangling.ifs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(p.join("images/new.ifs")).unwrap(), img);
    assert!(
        std::fs::symlink_metadata(p.join("dangling.ifs"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A bootable host in `p` whose bootfile has `filter=FILTER`, against a
/// stand-in SDK: `g.build` and the environment that finds its bootfile.
fn filtered_host(p: &Path, filter: &str) -> [(&'static str, String); 2] {
    let sys = p.join("qt/x86_64/boot/sys");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(
        sys.join("fx.boot"),
        format!("[\nlen=0x100\n+rsvd_vaddr\nfilter=\"{filter}\"\n]\n"),
    )
    .unwrap();
    // A flat startup binary: hlt; jmp back.
    std::fs::write(p.join("guest.bin"), [0xf4u8, 0xeb, 0xfd]).unwrap();
    std::fs::write(
        p.join("g.build"),
        "[image=0x100000]\n[virtual=x86_64,fx] boot = {\n    ./guest.bin\n}\n",
    )
    .unwrap();
    [
        ("QNX_TARGET", p.join("qt").display().to_string()),
        ("PROCESSOR", "x86_64".to_string()),
    ]
}

/// The bootfile's `filter=` failing: the error points at the bootfile's
/// line and names the bootfile and the output as given.
#[test]
fn a_failing_bootfile_filter_points_at_the_bootfile() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let env = filtered_host(p, "hvhost-no-such-filter -x %a %s %i");
    let env = env.each_ref().map(|(k, v)| (*k, v.as_str()));
    let sys = p.join("qt/x86_64/boot/sys");
    std::fs::create_dir(p.join("out")).unwrap();
    let o = hvhost_env(p, &["build", "g.build", "out/g.ifs"], &env);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let bootfile = sys.join("fx.boot");
    for want in [
        "error[I0105]".to_string(),
        format!("of the bootfile `{}`", bootfile.display()),
        "on the image `out/g.ifs`".to_string(),
        "`hvhost-no-such-filter` is not installed".to_string(),
        format!("┌─ {}:4:1", bootfile.display()),
        "the filter is set here".to_string(),
        "┌─ g.build:2:".to_string(),
        "the bootfile is named here".to_string(),
    ] {
        assert!(err.contains(&want), "missing {want:?} in\n{err}");
    }
    assert!(!err.contains("g.build:1:1"), "{err}");
    assert!(dir_names(&p.join("out")).is_empty());
    // --no-filter keeps the raw image.
    let o = hvhost_env(p, &["build", "--no-filter", "g.build", "out/g.ifs"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(dir_names(&p.join("out")), ["g.ifs"]);
}

/// Ctrl-C while the bootfile's filter runs (the temporary image exists):
/// the temporary file is removed, the previous image is untouched, and
/// hvhost ends as SIGINT ends it.
#[test]
fn an_interrupted_build_leaves_no_temporary_and_keeps_the_old_image() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let env = filtered_host(p, "sleep 20");
    let out = p.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("g.ifs"), b"the previous image").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hvhost"))
        .args(["build", "g.build", "out/g.ifs"])
        .current_dir(p)
        .env_remove("MKIFS_PATH")
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while dir_names(&out).len() < 2 {
        assert!(start.elapsed().as_secs() < 60, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // As a terminal's Ctrl-C: SIGINT to the whole process group.
    // SAFETY: kill has no memory effects; the group is the child's own.
    assert_eq!(unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert_eq!(dir_names(&out), ["g.ifs"]);
    assert_eq!(
        std::fs::read(out.join("g.ifs")).unwrap(),
        b"the previous image"
    );
}
