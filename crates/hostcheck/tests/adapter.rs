//! `load_vms`: qvmconf files found through the Manifest, parsed, reduced to VmFacts.

mod common;
use common::{found, manifest, manifest_reading_host};
use hostcheck::{HostLoc, SafetyLevel, load_vms};

const BOOT: &str = "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -v\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";

fn build(script: &str, files: &str) -> String {
    format!("{BOOT}[+script] .script = {{\n{script}}}\n/usr/bin/qvm = qvm\n{files}")
}

const VM: &str = "system guest
ram 0,0xa0000
rom 0xc0000,0x40000
ram 1m,63m
cpu partition guests
cpu
load /vm/images/guest.ifs
vdev ioapic loc 0xf8000000 intr apic name myioapic
safety warn
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
safety required
vdev timer8254 intr myioapic:0
pass loc mem:0xd0000000,0x1000,rw=0xe0000000 intr myioapic:9=21
pass loc io:0x2e8,8
pass loc pci:0:3.0=pci:0x8086/0x10d3
pass loc pci:0:4.0
";

#[test]
fn facts_from_a_real_configuration() {
    let mut map = diag::SourceMap::new();
    let src = build(
        "    qvm @/vm/a.qvmconf &\n",
        &format!("/vm/a.qvmconf = {{\n{VM}}}\n"),
    );
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert!(
        l.diagnostics.is_empty(),
        "{}",
        diag::render::human_to_string(&map, &l.diagnostics)
    );
    let [vm] = l.vms.as_slice() else {
        panic!("{:?}", l.vms)
    };
    assert_eq!(vm.name, "guest");
    assert_eq!(vm.configs, ["/vm/a.qvmconf"]);
    assert_eq!(vm.start, Some(0));
    let vdevs: Vec<(&str, Option<SafetyLevel>, String)> = vm
        .vdevs
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.safety.map(|s| s.level),
                map.location(v.span),
            )
        })
        .collect();
    assert_eq!(
        vdevs,
        [
            ("ioapic", None, "host.build:17:1".to_string()),
            (
                "ser8250",
                Some(SafetyLevel::Warn),
                "host.build:19:1".to_string()
            ),
            (
                "timer8254",
                Some(SafetyLevel::Required),
                "host.build:21:1".to_string()
            ),
        ]
    );
    // The last `safety` line, and where it is.
    let last = vm.last_safety.expect("last safety");
    assert_eq!(last.level, SafetyLevel::Required);
    assert_eq!(map.location(last.span), "host.build:20:1");
    // Host sides of pass-through.
    let pass: Vec<(Option<HostLoc>, Option<u32>)> =
        vm.pass.iter().map(|p| (p.loc, p.intr)).collect();
    assert_eq!(
        pass,
        [
            (
                Some(HostLoc::Mem {
                    start: 0xe000_0000,
                    len: 0x1000
                }),
                Some(21)
            ),
            (
                Some(HostLoc::Io {
                    start: 0x2e8,
                    len: 8
                }),
                None
            ),
            (
                Some(HostLoc::PciId {
                    vendor: 0x8086,
                    device: 0x10d3
                }),
                None
            ),
            (
                Some(HostLoc::PciAddr {
                    bus: 0,
                    dev: 4,
                    func: Some(0)
                }),
                None
            ),
        ]
    );
    assert_eq!(map.location(vm.pass[0].span), "host.build:22:1");
    assert_eq!(vm.partitions.len(), 1);
    assert_eq!(vm.partitions[0].name, "guests");
    assert_eq!(map.location(vm.partitions[0].span), "host.build:14:15");
    assert_eq!(vm.loads.len(), 1);
    assert_eq!(vm.loads[0].path, "/vm/images/guest.ifs");
    assert_eq!(
        vm.arch.as_ref().map(|a| a.arch),
        Some(hostcheck::Arch::X86_64)
    );
}

#[test]
fn a_host_file_is_read_from_where_the_manifest_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("guest.qvmconf");
    std::fs::write(&conf, VM).unwrap();
    let mut map = diag::SourceMap::new();
    let src = build(
        "    qvm @/vm/config/g.qvmconf &\n",
        &format!("/vm/config/g.qvmconf = {}\n", conf.display()),
    );
    let m = manifest_reading_host(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert!(l.diagnostics.is_empty());
    assert_eq!(l.vms.len(), 1);
    assert_eq!(
        map.location(l.vms[0].vdevs[0].span),
        format!("{}:8:1", conf.display())
    );
}

#[test]
fn h0204_errors_in_the_configuration() {
    let mut map = diag::SourceMap::new();
    let bad = VM.replace("intr myioapic:4", "intr nopic:4");
    let src = build(
        "    qvm @/vm/a.qvmconf &\n",
        &format!("/vm/a.qvmconf = {{\n{bad}}}\n"),
    );
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert!(l.vms.is_empty());
    let f = found(&map, &l.diagnostics);
    assert_eq!(f[0], "H0204 host.build:6:5");
    assert!(f[1..].iter().all(|s| s.starts_with('Q')), "{f:?}");
    assert!(
        // In the inline text, at its line in the buildfile.
        f[1..].iter().any(|s| s.ends_with(" host.build:19:29")),
        "{f:?}"
    );
}

#[test]
fn h0206_what_cannot_be_read() {
    let mut map = diag::SourceMap::new();
    // Assumed under --no-host-files, and a qvm with two files.
    let src = build(
        "    qvm @/vm/a.qvmconf &\n    qvm @/vm/b.qvmconf @/vm/b.qvmconf &\n",
        "/vm/a.qvmconf = /nonexistent/a.qvmconf\n/vm/b.qvmconf = {\nsystem b\n}\n",
    );
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert!(l.vms.is_empty());
    assert_eq!(
        found(&map, &l.diagnostics),
        ["H0206 host.build:6:5", "H0206 host.build:7:5"]
    );
    // Rules that need every VM stay silent: vdev-hpet.so is not called unused.
    let src = build(
        "    qvm @/vm/a.qvmconf &\n",
        "/vm/a.qvmconf = /nonexistent/a.qvmconf\n/lib/dll/vdev-hpet.so = vdev-hpet.so\n",
    );
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    let r = hostcheck::check(&m, &l.vms, &hostcheck::Options::default());
    assert!(r.diagnostics.is_empty());
}

#[test]
fn the_safety_default_follows_the_host() {
    let safe_boot = BOOT.replace("[module=qvm]", "[module=qvm-safety]");
    let conf =
        "system s\nram 0,0xa0000\nram 1m,63m\nvdev ioapic loc 0xf8000000 intr apic name myioapic\n";
    let src = format!(
        "{safe_boot}[+script] .script = {{\n    qvm @/vm/a.qvmconf &\n}}\n/usr/bin/qvm = qvm\n/lib/dll/vdev-ioapic.so = vdev-ioapic.so\n/vm/a.qvmconf = {{\n{conf}}}\n"
    );
    let mut map = diag::SourceMap::new();
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert_eq!(
        l.vms.len(),
        1,
        "{}",
        diag::render::human_to_string(&map, &l.diagnostics)
    );
    let r = hostcheck::check(&m, &l.vms, &hostcheck::Options::default());
    // No `safety` line: `required` by default on this host.
    let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.id).collect();
    assert!(codes.contains(&"H0505"), "{codes:?}");
    assert!(codes.contains(&"H0501"), "{codes:?}");
}

#[test]
fn several_files_and_options_form_one_vm() {
    let dir = tempfile::tempdir().unwrap();
    let common = dir.path().join("common.qvmconf");
    let own = dir.path().join("own.qvmconf");
    std::fs::write(&common, "ram 0,0xa0000\nrom 0xc0000,0x40000\nram 1m,63m\n").unwrap();
    std::fs::write(
        &own,
        "vdev ioapic loc 0xf8000000 intr apic name myioapic\nvdev ser8250 loc 0x3f8 intr myioapic:4\n",
    )
    .unwrap();
    let mut map = diag::SourceMap::new();
    let src = build(
        "    qvm @/vm/common.qvmconf @/vm/own.qvmconf system both &\n",
        &format!(
            "/vm/common.qvmconf = {}\n/vm/own.qvmconf = {}\n",
            common.display(),
            own.display()
        ),
    );
    let m = manifest_reading_host(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    assert!(
        l.diagnostics.is_empty(),
        "{}",
        diag::render::human_to_string(&map, &l.diagnostics)
    );
    let [vm] = l.vms.as_slice() else { panic!() };
    assert_eq!(vm.name, "both");
    assert_eq!(vm.configs, ["/vm/common.qvmconf", "/vm/own.qvmconf"]);
    assert_eq!(
        map.location(vm.vdevs[1].span),
        format!("{}:2:1", own.display())
    );
}

#[test]
fn a_safety_line_after_the_last_vdev_still_governs_the_kernel() {
    let conf = "system s\nram 0,0xa0000\nram 1m,63m\nvdev ioapic loc 0xf8000000 intr apic name myioapic\nsafety required\n";
    let src = build(
        "    qvm @/vm/a.qvmconf &\n",
        &format!("/lib/dll/vdev-ioapic.so = vdev-ioapic.so\n/vm/a.qvmconf = {{\n{conf}}}\n"),
    );
    let mut map = diag::SourceMap::new();
    let m = manifest(&mut map, &src);
    let l = load_vms(&mut map, &m, &hostcheck::Options::default());
    let [vm] = l.vms.as_slice() else { panic!() };
    let last = vm.last_safety.expect("last safety");
    assert_eq!(last.level, SafetyLevel::Required);
    // The end of the inline text: the `}` line in the buildfile.
    assert_eq!(map.location(last.span), "host.build:16:1");
    let r = hostcheck::check(&m, &l.vms, &hostcheck::Options::default());
    // The kernel is not a safety kernel; the vdev (before the line) is not judged.
    assert_eq!(found(&map, &r.diagnostics), ["H0505 host.build:16:1"]);
}
