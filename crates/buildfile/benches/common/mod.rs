//! The generated buildfile of the `parse_resolve` bench, shared with
//! `examples/load.rs` (`load --write-generated FILE`) so that the profiled
//! workload is the benched one.

use std::fmt::Write;

/// Lines of the generated buildfile.
pub(crate) const LINES: usize = 120_000;

/// A buildfile of [`LINES`] lines with every kind of line (entries, links,
/// directories, attribute lines, inline files, a boot block, a long boot
/// script).
pub(crate) fn generate() -> String {
    let mut s = String::with_capacity(LINES * 40);
    s.push_str("[-optional]\n[image=0x80000 +compress]\n");
    s.push_str("[virtual=aarch64le,raw] boot = {\n    startup-bcm2711-rpi4 -v -D miniuart\n");
    s.push_str("    [+keeplinked module=qvm module=aps] PATH=/proc/boot:/sbin:/bin\n");
    s.push_str("    LD_LIBRARY_PATH=/proc/boot:/lib procnto-smp-instr -ae -v\n}\n");
    s.push_str("[+script] .script = {\n");
    for i in 0..2000 {
        match i % 5 {
            0 => writeln!(s, "    display_msg \"Starting service {i}\"").unwrap(),
            1 => writeln!(s, "    [pri=10f] devc-svc{i} -e -b115200 &").unwrap(),
            2 => writeln!(s, "    waitfor /dev/svc{i} 4").unwrap(),
            3 => writeln!(s, "    PATH=/proc/boot:/bin svc{i} -v").unwrap(),
            _ => writeln!(
                s,
                "    procmgr_symlink ../../proc/boot/lib{i}.so /usr/lib/lib{i}.so"
            )
            .unwrap(),
        }
    }
    s.push_str("}\n");
    let mut lines = s.bytes().filter(|&b| b == b'\n').count();
    let mut i = 0;
    while lines < LINES {
        let before = s.len();
        match i % 10 {
            0 => writeln!(s, "[uid=0 gid=0 perms=0755]").unwrap(),
            1..=4 => writeln!(s, "/usr/bin/tool{i}=tool{i}").unwrap(),
            5 => writeln!(s, "[type=link] /bin/alias{i}=/usr/bin/toybox").unwrap(),
            6 => writeln!(s, "[type=dir dperms=0755] /var/dir{i}").unwrap(),
            7 => writeln!(
                s,
                "/lib/dll/mod{i}.so = ${{QNX_TARGET}}/${{PROCESSOR}}/lib/dll/mod{i}.so"
            )
            .unwrap(),
            8 => writeln!(
                s,
                "[perms=0644] /etc/conf{i} = {{\nkey{i}=value\nother=\"quoted {i}\"\n}}"
            )
            .unwrap(),
            _ => writeln!(s, "lib{i}.so  # a comment after the name").unwrap(),
        }
        lines += s[before..].bytes().filter(|&b| b == b'\n').count();
        i += 1;
    }
    s
}
