//! One test per rule: a configuration that breaks it (the code, and where it
//! points) and one that keeps it.

use diag::{Diagnostic, SourceMap};
use qvmconf::*;

fn opts() -> Options {
    Options {
        host_files: false,
        ..Options::default()
    }
}

fn run(text: &str) -> (SourceMap, Option<VmConfig>, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let (vm, d) = load_source(&mut map, "t.qvmconf", text.as_bytes().to_vec(), &opts());
    (map, vm, d)
}

/// The codes reported, in order.
fn codes(text: &str) -> Vec<&'static str> {
    run(text).2.iter().map(|d| d.code.id).collect()
}

/// The VM of a configuration that must be clean.
fn ok(text: &str) -> VmConfig {
    let (map, vm, d) = run(text);
    assert!(d.is_empty(), "{}", diag::render::human_to_string(&map, &d));
    vm.expect("no VM without errors")
}

/// The one diagnostic of `code`, with its primary and secondary snippets.
fn one(text: &str, code: &str) -> (String, Vec<String>, Diagnostic) {
    let (map, _, d) = run(text);
    let found: Vec<&Diagnostic> = d.iter().filter(|x| x.code.id == code).collect();
    assert_eq!(
        found.len(),
        1,
        "want one {code}:\n{}",
        diag::render::human_to_string(&map, &d)
    );
    let x = found[0].clone();
    let prim = map.snippet(x.span().expect("a location")).to_string();
    let sec = x
        .secondary
        .iter()
        .map(|l| map.snippet(l.span).to_string())
        .collect();
    (prim, sec, x)
}

const ARM: &str = "ram 0x80000000,128M\n";
const X86: &str = "ram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,63m\nvdev ioapic loc 0xf8000000 intr apic name myioapic\n";

#[test]
fn q0101_unterminated_quote() {
    let (p, _, _) = one("cmdline \"console=ttyS0\nvdev pl011", "Q0101");
    assert_eq!(p, "\"");
    let vm = ok("cmdline \"console=ttyS0\n root=/dev/vda\"\n");
    assert_eq!(vm.cmdline.unwrap().value, "console=ttyS0\n root=/dev/vda");
}

#[test]
fn q0102_unknown_option_with_suggestion() {
    let (p, _, d) = one(
        &format!("{ARM}vdev pl011 loc 0x1c090000 intr gic:37 hostdv >-\n"),
        "Q0102",
    );
    assert_eq!(p, "hostdv");
    assert_eq!(d.help.as_deref(), Some("did you mean `hostdev`?"));
    let (p, _, d) = one("rma 0x80000000,128M\n", "Q0102");
    assert_eq!(p, "rma");
    assert_eq!(d.help.as_deref(), Some("did you mean `ram`?"));
    // An option of another vdev says whose it is.
    let (_, _, d) = one(
        &format!("{ARM}vdev pl011 loc 0x1c090000 intr gic:37 mac 52:54:00:00:00:01\n"),
        "Q0102",
    );
    assert_eq!(d.notes, ["`mac` is an option of: vdev virtio-net"]);
    // The value after an unknown option is skipped, not reported again.
    assert_eq!(codes("rma 0x80000000,128M\n"), ["Q0102"]);
    ok(&format!(
        "{ARM}vdev pl011 loc 0x1c090000 intr gic:37 hostdev >-\n"
    ));
}

#[test]
fn q0103_missing_value() {
    let (p, _, _) = one(
        &format!("{ARM}vdev virtio-blk hostdev\nvdev pl011 loc 0x1c090000 intr gic:37\n"),
        "Q0103",
    );
    assert_eq!(p, "hostdev");
    let (p, _, _) = one("system", "Q0103");
    assert_eq!(p, "system");
    let (p, s, _) = one("vdev\ndryrun\n", "Q0103");
    assert_eq!((p.as_str(), s[0].as_str()), ("vdev", "dryrun"));
    // A quoted word is a value even when it reads `vdev`.
    let vm = ok("system \"vdev\"\n");
    assert_eq!(vm.system.unwrap().value, "vdev");
}

#[test]
fn q0104_bad_values() {
    let (p, _, _) = one("ram 0x80000000,512Q\n", "Q0104");
    assert_eq!(p, "0x80000000,512Q");
    let (p, _, _) = one(
        &format!("{ARM}vdev virtio-blk hostdev d threads 64\n"),
        "Q0104",
    );
    assert_eq!(p, "64");
    let (p, _, _) = one(&format!("{ARM}vdev gic version 4\n"), "Q0104");
    assert_eq!(p, "4");
    let (p, _, _) = one(
        &format!("{X86}vdev ser8250 loc 0xfffff intr myioapic:4\n"),
        "Q0104",
    );
    assert_eq!(p, "0xfffff");
    let (p, _, _) = one(
        &format!("{X86}vdev ser8250 loc pci:0:3 intr myioapic:4\n"),
        "Q0104",
    );
    assert_eq!(p, "pci:0:3");
    let (p, _, _) = one("safety maybe\n", "Q0104");
    assert_eq!(p, "maybe");
    let vm = ok(&format!(
        "{ARM}vdev virtio-blk loc 0x1c0d0000 intr gic:41 hostdev <d threads 32 dio disable\nvdev gic version 3\n"
    ));
    let o = &vm.vdevs[0].options;
    assert_eq!(o.get("threads"), Some(&vdev::Value::Number(32)));
    assert_eq!(o.get("dio"), Some(&vdev::Value::Toggle(false)));
    assert!(
        matches!(o.hostdev(), Some((h, _)) if h.direction == Some(Direction::Input) && h.path == "d")
    );
}

#[test]
fn q0105_unknown_vdev_and_the_accepted_forms() {
    let (p, _, d) = one(&format!("{X86}vdev ser8205 loc 0x3f8\n"), "Q0105");
    assert_eq!(p, "ser8205");
    assert_eq!(d.help.as_deref(), Some("did you mean `ser8250`?"));
    // Its options are skipped with it: one diagnostic only.
    assert_eq!(
        codes(&format!("{X86}vdev ser8205 loc 0x3f8 speed 3\n")),
        ["Q0105"]
    );
    let vm = ok(&format!(
        "{X86}vdev vdev-ser8250.so loc 0x3f8 intr myioapic:4\nvdev vdev-ser8250 loc 0x2f8 intr myioapic:3\n"
    ));
    assert_eq!(vm.vdevs[1].kind, VdevKind::Ser8250);
    assert_eq!(vm.vdevs[2].kind, VdevKind::Ser8250);
    assert_eq!(vm.vdevs[1].shared_object(), "vdev-ser8250.so");
}

/// A name close to no known vdev is a vendor's own: a warning, the VM is
/// kept with the device's words as written, up to the next top-level option.
#[test]
fn q0112_a_vendors_vdev_is_kept_unchecked() {
    let text = format!(
        "{X86}vdev vdev-acme-can.so loc 0xe0000000 bitrate 500000 intr myioapic:5\n\
         vdev ser8250 loc 0x3f8 intr myioapic:4\n"
    );
    let (p, _, d) = one(&text, "Q0112");
    assert_eq!(p, "vdev-acme-can.so");
    assert_eq!(d.severity, diag::Severity::Warning);
    assert_eq!(codes(&text), ["Q0112"]);
    let (_, vm, _) = run(&text);
    let vm = vm.expect("a warning keeps the VM");
    let [f] = vm.foreign_vdevs.as_slice() else {
        panic!("{:?}", vm.foreign_vdevs)
    };
    assert_eq!(f.name, "acme-can");
    assert_eq!(f.shared_object(), "vdev-acme-can.so");
    let words: Vec<&str> = f.words.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(
        words,
        [
            "loc",
            "0xe0000000",
            "bitrate",
            "500000",
            "intr",
            "myioapic:5"
        ]
    );
    // The known vdevs are as without it; the ser8250 after it is its own.
    assert_eq!(vm.vdevs.len(), 2);
    assert_eq!(vm.vdevs[1].kind, VdevKind::Ser8250);
}

/// `vdev smmu` (the guest's view of the SMMU manager) is known: `loc` (its
/// request page) and `intr` only, any architecture.
#[test]
fn smmu_is_a_known_vdev_with_the_common_options() {
    let vm = ok(&format!(
        "{ARM}vdev gic\nvdev smmu loc 0x1c0f0000 intr gic:50\n"
    ));
    assert_eq!(vm.vdevs[1].kind, VdevKind::Smmu);
    assert!(matches!(
        vm.vdevs[1].attach,
        Attach::Region {
            start: 0x1c0f_0000,
            len: 0x1000,
            ..
        }
    ));
    let vm = ok(&format!("{X86}vdev smmu\n"));
    assert_eq!(vm.vdevs[1].shared_object(), "vdev-smmu.so");
    let (p, _, _) = one(&format!("{X86}vdev smmu pagesize 4k\n"), "Q0102");
    assert_eq!(p, "pagesize");
}

#[test]
fn q0106_option_before_its_context() {
    let (p, _, _) = one(
        &format!("{ARM}loc 0x1c090000\nvdev pl011 loc 0x1c090000 intr gic:37\n"),
        "Q0106",
    );
    assert_eq!(p, "loc");
    let (p, _, _) = one("runmask 0\ncpu\n", "Q0106");
    assert_eq!(p, "runmask");
    let vm = ok("cpu runmask 0,1 sched 12r cluster big partition guests\n");
    let c = &vm.cpus[0];
    assert_eq!(c.runmask, [0, 1]);
    assert_eq!(c.sched.as_ref().unwrap().value.priority, 12);
    assert_eq!(
        c.sched.as_ref().unwrap().value.policy,
        Some(SchedPolicy::RoundRobin)
    );
    assert_eq!(c.cluster.as_ref().unwrap().value, "big");
    assert_eq!(c.partition.as_ref().unwrap().value, "guests");
}

#[test]
fn q0107_template_placeholders() {
    let (map, vm, d) = run("system @NAME@\nram @ADDR@,@SIZE@\n");
    assert!(vm.is_none());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code.id, "Q0107");
    assert_eq!(map.snippet(d[0].span().unwrap()), "@NAME@");
    assert_eq!(d[0].notes, ["2 words hold placeholders"]);
    ok("system user@host\n");
}

#[test]
fn q0108_q0109_includes() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        host_files: false,
        cwd: dir.path().to_path_buf(),
        ..Options::default()
    };
    std::fs::write(dir.path().join("mem.qvmconf"), "ram 0x80000000,128M\n").unwrap();
    std::fs::write(dir.path().join("loop.qvmconf"), "cpu\n@loop.qvmconf\n").unwrap();
    let mut map = SourceMap::new();
    let (vm, d) = load_source(&mut map, "main", b"@mem.qvmconf\ncpu\n".to_vec(), &o);
    assert!(d.is_empty(), "{d:?}");
    let vm = vm.unwrap();
    assert_eq!(map.file(vm.memory[0].span.file).name(), "mem.qvmconf");
    let (_, d) = load_source(&mut map, "main", b"@missing.qvmconf\n".to_vec(), &o);
    assert_eq!(d.iter().map(|d| d.code.id).collect::<Vec<_>>(), ["Q0108"]);
    let (_, d) = load_source(&mut map, "main", b"@loop.qvmconf\n".to_vec(), &o);
    assert_eq!(d.iter().map(|d| d.code.id).collect::<Vec<_>>(), ["Q0109"]);
}

#[test]
fn q0110_repeated_option() {
    let (p, s, _) = one(
        &format!("{X86}vdev ser8250 loc 0x3f8 intr myioapic:4\n  loc 0x2f8\n"),
        "Q0110",
    );
    assert_eq!(p, "loc");
    assert_eq!(s, ["0x3f8"]);
    ok(&format!(
        "{X86}vdev ser8250 loc 0x3f8 intr myioapic:4\nvdev ser8250 loc 0x2f8 intr myioapic:3\n"
    ));
}

#[test]
fn q0111_load_type_without_load() {
    let (p, s, _) = one(&format!("{ARM}fdt generate\n"), "Q0111");
    assert_eq!(p, "fdt");
    assert_eq!(s, ["generate"]);
    let vm = ok(&format!(
        "{ARM}load 0x80000000,a.ifs\nfdt load 0x87000000,b.dtb\ninitrd load c.img\n"
    ));
    assert_eq!(vm.loads[1].kind, LoadKind::Fdt);
    assert_eq!(vm.loads[1].placed_at, Some(0x8700_0000));
    assert_eq!(vm.loads[2].kind, LoadKind::Initrd);
}

#[test]
fn q0201_overlaps_show_both_regions() {
    // ram / device
    let (p, s, _) = one(
        &format!("{ARM}vdev pl011 loc 0x80001000 intr gic:37\n"),
        "Q0201",
    );
    assert_eq!(p, "0x80001000");
    assert_eq!(s, ["ram 0x80000000,128M"]);
    // ram / rom
    let (_, s, _) = one("ram 0,1m\nrom 0xc0000,0x40000\n", "Q0201");
    assert_eq!(s, ["ram 0,1m"]);
    // reserve / pass
    let (p, s, _) = one(
        &format!("{ARM}reserve loc 0x10000000,0x2000\npass loc mem:0x10001000,0x1000,rw\n"),
        "Q0201",
    );
    assert_eq!(p, "mem:0x10001000,0x1000,rw");
    assert_eq!(s, ["0x10000000,0x2000"]);
    // I/O ports: a default location counts.
    let (p, s, _) = one(
        &format!("{X86}vdev ser8250 intr myioapic:4\nvdev ser8250 loc 0x3f8 intr myioapic:3\n"),
        "Q0201",
    );
    assert_eq!(p, "0x3f8");
    assert_eq!(s, ["vdev ser8250"]);
    // The recommended x86 layout is clean; the same numbers in io and mem do not clash.
    ok(
        "ram 0,0xa0000\nreserve loc 0xa0000,0x20000\nrom 0xc0000,0x40000\nram 1m,1023m\nvdev 8259 loc 0x20\nreserve loc 0x50000000,0x1000\n",
    );
}

#[test]
fn q0201_loads_overlapping_each_other() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), [0u8; 0x2000]).unwrap();
    std::fs::write(dir.path().join("b.bin"), [0u8; 0x100]).unwrap();
    let o = Options {
        host_files: true,
        cwd: dir.path().to_path_buf(),
        ..Options::default()
    };
    let mut map = SourceMap::new();
    let text = format!("{ARM}load 0x80000000,a.bin\ndata load 0x80001000,b.bin\n");
    let (_, d) = load_source(&mut map, "t", text.into_bytes(), &o);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code.id, "Q0201");
    assert_eq!(
        map.snippet(d[0].span().unwrap()),
        "data load 0x80001000,b.bin"
    );
    assert_eq!(map.snippet(d[0].secondary[0].span), "load 0x80000000,a.bin");
    let text = format!("{ARM}load 0x80000000,a.bin\ndata load 0x80002000,b.bin\n");
    let (vm, d) = load_source(&mut map, "t", text.into_bytes(), &o);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(vm.unwrap().loads[1].size, Some(0x100));
}

#[test]
fn memory_map_default_placement_and_rom() {
    let vm = ok("ram 0xa0000\nrom 0xc0000,0x40000\nram 512M\n");
    assert_eq!(
        vm.memory
            .iter()
            .map(|m| (m.kind, m.start, m.len, m.explicit_start))
            .collect::<Vec<_>>(),
        [
            (MemKind::Ram, 0, 0xa0000, false),
            (MemKind::Rom, 0xc0000, 0x40000, true),
            (MemKind::Ram, 0x10_0000, 512 << 20, false),
        ]
    );
    // ROM is not in the guest's memory map.
    assert_eq!(
        vm.ram().map(|r| r.start).collect::<Vec<_>>(),
        [0, 0x10_0000]
    );
}

#[test]
fn q0202_load_before_ram() {
    let (p, s, _) = one("load a.elf\nram 0x80000000,128M\n", "Q0202");
    assert_eq!(p, "load a.elf");
    assert_eq!(s, ["ram 0x80000000,128M"]);
    ok("ram 0x80000000,128M\nload a.elf\n");
}

#[test]
fn q0203_no_ram() {
    let (p, _, _) = one("cpu\nload a.elf\n", "Q0203");
    assert_eq!(p, "load a.elf");
    ok("cpu\n");
}

#[test]
fn q0204_unknown_pic() {
    let (p, _, d) = one(&format!("{X86}vdev ser8250 intr myioapc:4\n"), "Q0204");
    assert_eq!(p, "myioapc:4");
    assert_eq!(d.help.as_deref(), Some("did you mean `myioapic`?"));
    // On ARM the GIC is implicit; on x86 it is not there.
    ok(&format!("{ARM}vdev pl011 loc 0x1c090000 intr gic:37\n"));
    assert_eq!(codes(&format!("{X86}vdev ser8250 intr gic:4\n")), ["Q0204"]);
    // An unnamed PIC is known by its kind.
    ok(&format!(
        "{X86}vdev 8259 loc 0x20\nvdev ser8250 intr 8259:4\n"
    ));
}

#[test]
fn q0205_line_used_twice_and_the_hpet_exception() {
    let (p, s, _) = one(
        &format!(
            "{X86}vdev ser8250 loc 0x3f8 intr myioapic:4\nvdev ser8250 loc 0x2f8 intr myioapic:4\n"
        ),
        "Q0205",
    );
    assert_eq!(p, "myioapic:4");
    assert_eq!(s, ["myioapic:4"]);
    let (_, _, _) = one(
        &format!(
            "{ARM}vdev pl011 loc 0x1c090000 intr gic:37\npass loc mem:0x1000,0x1000 intr gic:37=150\n"
        ),
        "Q0205",
    );
    ok(&format!(
        "{X86}vdev timer8254 intr myioapic:0\nvdev hpet intr myioapic:0,myioapic:8\nvdev mc146818\n"
    ));
    // The hpet's timer 2 has no legacy device to stand in for.
    assert_eq!(
        codes(&format!(
            "{X86}vdev ser8250 intr myioapic:10\nvdev hpet intr myioapic:0,myioapic:8,myioapic:10\n"
        )),
        ["Q0205"]
    );
}

#[test]
fn q0206_pci_bus_not_zero() {
    let (p, _, _) = one(
        &format!("{X86}pass loc pci:1:12.0=pci:0x8086/0x1234\n"),
        "Q0206",
    );
    assert_eq!(p, "pci:1:12.0=pci:0x8086/0x1234");
    ok(&format!("{X86}pass loc pci:0:12.0=pci:1:0.0\n"));
}

#[test]
fn q0207_pci_conflict_and_automatic_allocation() {
    let (p, s, _) = one(
        &format!("{X86}pass loc pci:0:3.0=pci:0:2.0\nvdev virtio-blk loc pci:0:3 hostdev d\n"),
        "Q0207",
    );
    assert_eq!(p, "pci:0:3");
    assert_eq!(s, ["pci:0:3.0=pci:0:2.0"]);
    let (_, _, _) = one(
        &format!("{X86}reserve loc pci:0:4\nvdev shmem loc pci:0:4.0\n"),
        "Q0207",
    );
    // Allocation skips reserved, passed-through and explicit slots.
    let vm = ok(&format!(
        "{X86}reserve loc pci:0:1\npass loc pci:0:2.0=pci:0:9.0\nvdev virtio-net loc pci:0:3 name a\nvdev virtio-blk hostdev d\nvdev shmem\n"
    ));
    let slots: Vec<String> = vm
        .vdevs
        .iter()
        .filter_map(|v| match v.attach {
            Attach::Pci { addr, explicit } => {
                Some(format!("{addr}{}", if explicit { "" } else { "*" }))
            }
            _ => None,
        })
        .collect();
    assert_eq!(slots, ["0:3.0", "0:4.0*", "0:5.0*"]);
}

#[test]
fn q0208_pci_slots_exhausted() {
    let many: String = (0..31).map(|_| "vdev virtio-entropy\n").collect();
    ok(&format!("{X86}{many}"));
    let (p, _, _) = one(&format!("{X86}{many}vdev virtio-entropy\n"), "Q0208");
    assert_eq!(p, "vdev virtio-entropy");
}

#[test]
fn q0209_architecture_mix() {
    let (p, s, d) = one(
        &format!("{ARM}vdev gic version 3\nvdev ser8250 loc 0x3f8\n"),
        "Q0209",
    );
    assert_eq!(p, "vdev ser8250");
    assert_eq!(s, ["vdev gic"]);
    assert!(
        d.message
            .contains("x86_64 (vdev ser8250) and aarch64 (vdev gic)"),
        "{}",
        d.message
    );
    let vm = ok(&format!(
        "{ARM}vdev gic version 3\nvdev pl011 loc 0x1c090000 intr gic:37\n"
    ));
    assert_eq!(vm.arch.unwrap().arch, Arch::Aarch64);
}

#[test]
fn q0209_image_architecture_against_devices() {
    let dir = tempfile::tempdir().unwrap();
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2;
    elf[5] = 1;
    elf[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(dir.path().join("arm.elf"), &elf).unwrap();
    let o = Options {
        host_files: true,
        cwd: dir.path().to_path_buf(),
        ..Options::default()
    };
    let mut map = SourceMap::new();
    let text = format!("{X86}load arm.elf\n");
    let (_, d) = load_source(&mut map, "t", text.into_bytes(), &o);
    let ids: Vec<_> = d.iter().map(|d| d.code.id).collect();
    assert!(ids.contains(&"Q0209"), "{ids:?}");
    let mix = d.iter().find(|d| d.code.id == "Q0209").unwrap();
    assert_eq!(map.snippet(mix.span().unwrap()), "arm.elf");
}

#[test]
fn q0210_duplicate_names() {
    let (p, s, _) = one(
        &format!("{X86}vdev virtio-net peer /dev/a name n\nvdev virtio-net peer /dev/b name n\n"),
        "Q0210",
    );
    assert_eq!((p.as_str(), s[0].as_str()), ("n", "n"));
    ok(&format!(
        "{X86}vdev virtio-net peer /dev/a name n0\nvdev virtio-net peer /dev/b name n1\n"
    ));
}

#[test]
fn q0211_host_files_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        host_files: true,
        cwd: dir.path().to_path_buf(),
        ..Options::default()
    };
    let text = format!(
        "{ARM}load g.bin\nvdev virtio-blk loc 0x1c0d0000 intr gic:41 hostdev disk.img\nvdev pl011 loc 0x1c090000 intr gic:37 hostdev >out.log\n"
    );
    let mut map = SourceMap::new();
    let (_, d) = load_source(&mut map, "t", text.clone().into_bytes(), &o);
    let missing: Vec<&str> = d
        .iter()
        .filter(|d| d.code.id == "Q0211")
        .map(|d| map.snippet(d.span().unwrap()))
        .collect();
    // `>out.log` is an output qvm creates: it need not exist.
    assert_eq!(missing, ["g.bin", "disk.img"]);
    std::fs::write(dir.path().join("g.bin"), b"raw bytes").unwrap();
    std::fs::write(dir.path().join("disk.img"), [0u8; 512]).unwrap();
    let (vm, d) = load_source(&mut map, "t", text.into_bytes(), &o);
    assert!(d.is_empty(), "{d:?}");
    let vm = vm.unwrap();
    assert_eq!(vm.loads[0].detected, ImageType::Raw);
    assert_eq!(vm.loads[0].size, Some(9));
    // A raw image starts at the first byte of RAM.
    assert_eq!(vm.loads[0].placed_at, Some(0x8000_0000));
    assert_eq!(vm.loads[0].entry, Some(0x8000_0000));
    assert_eq!(vm.entry_point(), Some(0x8000_0000));
    assert_eq!(vm.ram_size(), 128 << 20);
}

#[test]
fn q0212_load_outside_ram() {
    let (p, _, _) = one(&format!("{ARM}load 0x1000,g.bin\n"), "Q0212");
    assert_eq!(p, "load 0x1000,g.bin");
    let vm = ok(&format!("{ARM}load 0x80000000,g.bin\n"));
    assert_eq!(vm.loads[0].path.value, "g.bin");
    assert_eq!(vm.loads[0].addr, Some(0x8000_0000));
}

#[test]
fn q0213_missing_required_option() {
    let (p, _, _) = one(&format!("{ARM}vdev pl011 intr gic:37\n"), "Q0213");
    assert_eq!(p, "vdev pl011");
    let (p, s, _) = one(
        &format!("{ARM}vdev virtio-console loc 0x20000000\n"),
        "Q0213",
    );
    assert_eq!(p, "0x20000000");
    assert_eq!(s, ["vdev virtio-console"]);
    ok(&format!(
        "{ARM}vdev virtio-console loc 0x20000000 intr gic:42\n"
    ));
}

#[test]
fn q0214_empty_or_wrapping_region() {
    let (p, _, _) = one("ram 0x80000000,0\n", "Q0214");
    assert_eq!(p, "0x80000000,0");
    assert_eq!(codes("ram 0xffffffffffff0000,1m\n"), ["Q0214"]);
    ok("ram 0xfffffffffff00000,1m\n");
}

#[test]
fn q0215_repeated_top_level_option_is_a_warning() {
    let (p, s, d) = one("cmdline \"a\"\ncmdline \"b\"\n", "Q0215");
    assert_eq!((p.as_str(), s[0].as_str()), ("cmdline", "cmdline"));
    assert_eq!(d.severity, diag::Severity::Warning);
    let (_, vm, _) = run("cmdline \"a\"\ncmdline \"b\"\n");
    assert_eq!(vm.unwrap().cmdline.unwrap().value, "b");
}

#[test]
fn safety_level_in_force_per_vdev() {
    let vm = ok(&format!(
        "{ARM}vdev pl011 loc 0x1c090000 intr gic:37\nsafety warn\nvdev virtio-console loc 0x20000000 intr gic:42\nsafety required\nvdev wdt-sp805 loc 0x1c0f0000\nsafety none\n"
    ));
    let levels: Vec<SafetyLevel> = vm.vdevs.iter().map(|v| v.safety).collect();
    assert_eq!(
        levels,
        [SafetyLevel::None, SafetyLevel::Warn, SafetyLevel::Required]
    );
    assert_eq!(vm.safety, SafetyLevel::None);
    assert!(vm.safety_span.is_some());
    assert!(SafetyLevel::Required > SafetyLevel::Warn);
    assert_eq!(vm.vdevs[2].safety_object(), "vdev-wdt-sp805-safety.so");
    // The default level comes from the options (the certified hypervisor: required).
    let mut map = SourceMap::new();
    let o = Options {
        default_safety: SafetyLevel::Required,
        ..opts()
    };
    let (vm, _) = load_source(&mut map, "t", b"vdev virtio-entropy\n".to_vec(), &o);
    assert_eq!(vm.unwrap().vdevs[0].safety, SafetyLevel::Required);
}

#[test]
fn gic_interfaces_with_or_without_an_address() {
    let vm = ok(&format!(
        "{ARM}vdev gic version 3 its gicr 0x2f100000\nvdev pl011 loc 0x1c090000 intr gic:37\n"
    ));
    let o = &vm.vdevs[0].options;
    assert_eq!(o.get("version"), Some(&vdev::Value::Number(3)));
    assert_eq!(o.get("its"), Some(&vdev::Value::OptionalNumber(None)));
    assert_eq!(
        o.get("gicr"),
        Some(&vdev::Value::OptionalNumber(Some(0x2f10_0000)))
    );
    assert_eq!(o.get("gicc"), None);
}

#[test]
fn default_locations() {
    let vm = ok(&format!(
        "{X86}vdev progress\nvdev ser8250 intr myioapic:4\nvdev 8259\nvdev 8259\n"
    ));
    let at: Vec<(Space, u64, u64, bool)> = vm.vdevs[1..]
        .iter()
        .map(|v| match v.attach {
            Attach::Region {
                space,
                start,
                len,
                explicit,
            } => (space, start, len, explicit),
            _ => panic!("{:?}", v.attach),
        })
        .collect();
    assert_eq!(
        at,
        [
            (Space::Io, 0xef0, 16, false),
            (Space::Io, 0x3f8, 8, false),
            (Space::Io, 0x20, 2, false),
            (Space::Io, 0xa0, 2, false),
        ]
    );
}

#[test]
fn vcpus_default_to_one() {
    let vm = ok(ARM);
    assert_eq!(vm.cpus.len(), 1);
    assert!(vm.cpus[0].implicit);
    let vm = ok(&format!("{ARM}cpu\ncpu sched 20\n"));
    assert_eq!(vm.cpus.len(), 2);
    assert_eq!(vm.cpus[1].index, 1);
    assert!(!vm.cpus[0].implicit);
}

#[test]
fn other_top_level_options() {
    let vm = ok(
        "unsupported reference abort\ntolerance 500\nlogger error,warn stdout\ndump /tmp/dumps\nset exit-on-halt 1\nset fdt-dump-file /tmp/x.dtb\ndryrun\n",
    );
    assert_eq!(vm.unsupported.reference, UnsupportedAction::Abort);
    assert_eq!(vm.unsupported.instruction, UnsupportedAction::Fail);
    assert_eq!(vm.tolerance_us.as_ref().unwrap().value, 500);
    assert_eq!(vm.logger.filters, ["error", "warn"]);
    assert_eq!(vm.logger.dest, "stdout");
    assert_eq!(vm.dump.as_ref().unwrap().value, "/tmp/dumps");
    assert_eq!(vm.setting("exit-on-halt"), Some("1"));
    assert!(vm.dryrun);
    assert_eq!(codes("logger eror stdout\n"), ["Q0104"]);
    assert_eq!(codes("unsupported opcode abort\n"), ["Q0104"]);
}

#[test]
fn command_line_words_follow_the_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.qvmconf"),
        "ram 0x80000000,128M\nvdev pl011 loc 0x1c090000\n",
    )
    .unwrap();
    let o = Options {
        host_files: false,
        cwd: dir.path().to_path_buf(),
        ..Options::default()
    };
    let words: Vec<String> = ["@a.qvmconf", "intr", "gic:37", "cpu", "sched", "30"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut map = SourceMap::new();
    let (vm, d) = load(&mut map, &words, &o);
    assert!(d.is_empty(), "{d:?}");
    let vm = vm.unwrap();
    let intr = &vm.vdevs[0].intr[0];
    assert_eq!(map.file(intr.span.file).name(), "<command line>");
    assert_eq!(map.snippet(intr.span), "gic:37");
    assert_eq!(map.file(vm.vdevs[0].span.file).name(), "a.qvmconf");
    assert_eq!(vm.cpus[0].sched.as_ref().unwrap().value.priority, 30);
}

#[test]
fn q0201_names_the_overlap_in_ports_or_addresses() {
    let base = "system t\nram 0,1m\ncpu\n";
    let (_, _, d) = run(&format!(
        "{base}vdev ser8250 loc 0x3f8\nvdev ser8250 loc 0x3fc\n"
    ));
    let d = d.iter().find(|d| d.code.id == "Q0201").expect("Q0201");
    assert!(d.message.ends_with("at ports 0x3fc-0x3ff"), "{}", d.message);
    let (_, _, d) = run(&format!(
        "{base}vdev ser8250 loc 0x3f8\nvdev progress loc io:0x3ff,1\n"
    ));
    let d = d.iter().find(|d| d.code.id == "Q0201").expect("Q0201");
    assert!(d.message.ends_with("at port 0x3ff-0x3ff"), "{}", d.message);
    let (_, _, d) = run(&format!("{base}reserve loc 0x80000,0x100000\n"));
    let d = d.iter().find(|d| d.code.id == "Q0201").expect("Q0201");
    assert!(
        d.message.contains("at addresses 0x80000-0xfffff"),
        "{}",
        d.message
    );
}

#[test]
fn a_misspelt_cpu_option_gets_a_suggestion() {
    let (p, _, d) = one(&format!("{ARM}cpu partion 3\n"), "Q0102");
    assert_eq!(p, "partion");
    assert_eq!(d.help.as_deref(), Some("did you mean `partition`?"));
    let (_, _, d) = one(&format!("{ARM}cpu runmsk 1\n"), "Q0102");
    assert_eq!(d.help.as_deref(), Some("did you mean `runmask`?"));
    // a word far from every option gets the list, not a guess
    let (_, _, d) = one(&format!("{ARM}cpu frobnicate 3\n"), "Q0102");
    assert_eq!(
        d.help.as_deref(),
        Some("an option of `cpu` is one of: sched, runmask, partition, cluster")
    );
}

#[test]
fn a_bad_ram_line_is_one_error_not_also_no_ram() {
    // the `ram` was written: its error is the one to fix, not a missing RAM
    assert_eq!(codes("ram 0,0xa0000x\nload a.elf\n"), ["Q0104"]);
    assert_eq!(codes("ram 0,0\nload a.elf\n"), ["Q0214"]);
    assert_eq!(codes("ram 0x80000000,128M,1\nload a.elf\n"), ["Q0104"]);
    // and a load after it is not "before any ram"
    assert_eq!(codes("ram 0,0xa0000x\nload a.elf\nram 1m,63m\n"), ["Q0104"]);
}
