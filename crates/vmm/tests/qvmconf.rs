//! A qvmconf file read by the qvmconf crate, converted to a VmSpec and run.

mod common;

use common::{kvm, run};
use vmm::{ImageFormat, LoadKind};

fn spec_from(text: &str, dir: &std::path::Path) -> vmm::VmSpec {
    common::spec_from_qvmconf(text, dir)
}

const PROBE_VM: &str = "system probe
ram 0,0xa0000
rom 0xc0000,0x40000
ram 1m,31m
cpu
load PROBE
cmdline \"hello mem rtc pit=0 uartirq=4 kbd progress\"
vdev ioapic loc 0xf8000000 intr apic name myioapic
vdev ser8250 loc 0x3f8 intr myioapic:4 hostdev >-
vdev timer8254 intr myioapic:0
vdev mc146818
vdev pckeyboard
vdev progress
vdev 8259 loc 0x20
vdev 8259 loc 0xa0
set exit-on-halt 1
";

#[test]
fn the_probe_vm_from_its_qvmconf() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let text = PROBE_VM
        .replace("PROBE", vmm::probe::ELF)
        .replace("hello mem", "ioapic=f8000000 hello mem");
    let spec = spec_from(&text, dir.path());
    assert_eq!(spec.name, "probe");
    assert!(spec.exit_on_halt);
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    r.done();
    assert_eq!(r.ok("hello"), "boot=pvh");
    r.pit_ok(0);
    assert!(
        r.ok("uartirq").starts_with("1 irqs via ioapic pin 4"),
        "{}",
        r.out
    );
    assert_eq!(r.ok("kbd"), "selftest=55");
    assert_eq!(
        r.report("mem"),
        vec![
            "ok 0-9ffff type 1",
            "ok 100000-1ffffff type 1",
            "ok e0000000-e00fffff type 2"
        ]
    );
}

#[test]
fn unsupported_vdevs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = PROBE_VM.replace("PROBE", vmm::probe::ELF) + "vdev vgpu-gvtg\n";
    let mut map = diag::SourceMap::new();
    let opts = qvmconf::Options {
        cwd: dir.path().to_path_buf(),
        ..Default::default()
    };
    let (vm, diags) = qvmconf::load_source(&mut map, "p.qvmconf", text.into_bytes(), &opts);
    let vm = vm.unwrap_or_else(|| panic!("{diags:?}"));
    let e = vmm::spec_from_config(&vm, dir.path()).expect_err("vgpu-gvtg refused");
    assert!(e.to_string().contains("vgpu-gvtg is not provided"), "{e}");
    assert_eq!(e.exit_code(), vmm::ExitCode::Config);
}

#[test]
fn the_example_hosts_probe_vm_boots() {
    if !kvm() {
        return;
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/x86_64-host/vm/probe.qvmconf"
    );
    let text = std::fs::read_to_string(path).expect("the example's probe.qvmconf");
    assert!(
        text.contains("load /vm/images/probe.elf"),
        "the example loads the probe from the image"
    );
    // on Linux the probe comes from the build, with a command line of checks
    let text = text.replace("/vm/images/probe.elf", vmm::probe::ELF)
        + "cmdline \"hello rtc pit=0 kbd progress\"\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_from(&text, dir.path());
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    r.done();
    r.pit_ok(0);
    assert_eq!(r.ok("kbd"), "selftest=55");
    assert_eq!(r.ok("progress"), "id=53475250");
}

#[test]
fn the_vmspec_json_of_the_docs_is_the_one_the_vmm_reads() {
    let doc = include_str!("../../../docs/vmm.md");
    let start = doc
        .find("A `VmSpec` as JSON")
        .expect("the example's heading");
    let json = doc[start..]
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a json block");
    let spec: vmm::VmSpec = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<_> = spec.loads.iter().map(|l| (l.kind, l.format)).collect();
    assert_eq!(
        kinds,
        [
            (LoadKind::Image, ImageFormat::Auto),
            (LoadKind::Initrd, ImageFormat::Auto),
            (LoadKind::Data, ImageFormat::Auto)
        ]
    );
    let uart = &spec.vdevs[1];
    assert_eq!(uart.kind, vdev::VdevKind::Ser8250);
    assert_eq!(uart.intr, Some(vdev::Intr::line("myioapic", 4)));
    let hostdev = vdev::ser8250::HOSTDEV;
    assert!(
        matches!(uart.value(&hostdev), Some(vdev::Value::HostDev(h)) if h.is_stdio()),
        "{uart:?}"
    );
    let rtc = &spec.vdevs[3];
    let reg = vdev::mc146818::REG;
    assert_eq!(rtc.values(&reg).count(), 1);
    // what vmm-run checks first: every vdev's kind, loc and options
    for v in &spec.vdevs {
        vdev::layout(v).unwrap_or_else(|e| panic!("{}: {e}", v.kind.name()));
    }
}

fn load_json(json: &str) -> Result<vmm::Load, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[test]
fn a_load_reads_its_kind_and_format_and_the_older_form() {
    fn read(json: &str) -> vmm::Load {
        load_json(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }
    let l = read(r#"{"path": "k"}"#);
    assert_eq!((l.kind, l.format), (LoadKind::Image, ImageFormat::Auto));
    let l = read(r#"{"kind": "image", "format": "bzimage", "addr": 4096, "path": "k"}"#);
    assert_eq!(l, vmm::Load::image(ImageFormat::Bzimage, Some(4096), "k"));
    // the older form: an image format as the kind
    let l = read(r#"{"kind": "pvh", "path": "k"}"#);
    assert_eq!(l, vmm::Load::image(ImageFormat::Pvh, None, "k"));
    let l = read(r#"{"kind": "initrd", "path": "i"}"#);
    assert_eq!(l, vmm::Load::other(LoadKind::Initrd, None, "i"));
    // what the VMM writes, it reads back
    for l in [
        vmm::Load::image(ImageFormat::Multiboot, None, "k"),
        vmm::Load::other(LoadKind::Data, Some(0x30_0000), "d"),
    ] {
        let json = serde_json::to_string(&l).expect("serialise");
        assert_eq!(read(&json), l, "{json}");
    }
}

#[test]
fn a_load_with_two_formats_or_a_format_off_an_image_is_refused() {
    for (json, says) in [
        (
            r#"{"kind": "ifs", "format": "raw", "path": "k"}"#,
            "another",
        ),
        (
            r#"{"kind": "data", "format": "pvh", "addr": 0, "path": "d"}"#,
            "image loads only",
        ),
        (r#"{"kind": "elf32", "path": "k"}"#, "variant"),
    ] {
        let e = load_json(json).expect_err(json);
        assert!(e.contains(says), "{json}: {e}");
    }
}

#[test]
fn the_timer_and_shared_memory_vdevs_from_qvmconf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = PROBE_VM.replace("PROBE", vmm::probe::ELF).replace(
        "hello mem rtc pit=0 uartirq=4 kbd progress",
        "ioapic=f8000000 progress hpet-legacy=0",
    ) + "vdev hpet intr myioapic:20,myioapic:21,myioapic:22 frequency 14318180\n\
           vdev wdt-ib700\n\
           vdev shmem loc mem:0xfe000000 intr myioapic:10 create ipc,0x2000 allow ipc*\n";
    let spec = spec_from(&text, dir.path());
    let kind = |k| spec.vdevs.iter().find(|v| v.kind == k).expect("converted");
    let hpet = kind(vdev::VdevKind::Hpet);
    assert_eq!(hpet.intr, Some(vdev::Intr::line("myioapic", 20)));
    assert_eq!(
        hpet.more_intr,
        [
            vdev::Intr::line("myioapic", 21),
            vdev::Intr::line("myioapic", 22)
        ]
    );
    assert_eq!(
        hpet.value(&vdev::hpet::FREQUENCY),
        Some(&vdev::Value::Number(14_318_180))
    );
    let shmem = kind(vdev::VdevKind::Shmem);
    assert_eq!(shmem.values(&vdev::shmem::CREATE).count(), 1);
    assert_eq!(
        shmem.value(&vdev::shmem::ALLOW),
        Some(&vdev::Value::Text("ipc*".into()))
    );
    kind(vdev::VdevKind::WdtIb700);
    if !kvm() {
        return;
    }
    // the VM's timer8254 is on pin 0: legacy replacement puts timer 0 there
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(
        r.ok("hpet-legacy").starts_with("20 irqs via ioapic pin 0 "),
        "{}",
        r.out
    );
}
