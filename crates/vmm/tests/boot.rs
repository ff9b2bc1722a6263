//! Every load format, booting the probe guest on real KVM.

mod common;

use common::{kvm, probe_spec, run};
use vmm::{ImageFormat, Load, LoadKind};

const CHECKS: &str = "hello mem progress";

fn expect_map(r: &common::Run) {
    let mem = r.report("mem");
    assert_eq!(
        mem,
        vec![
            "ok 0-9ffff type 1",
            "ok a0000-bffff type 2",
            "ok 100000-10fffff type 1",
            "ok e0000000-e00fffff type 2"
        ],
        "memory map (ROM left out, reserve and the PCI ECAM window reserved)\n{}",
        r.out
    );
}

fn boot(format: ImageFormat, path: &str, addr: Option<u64>, extra: Vec<Load>) -> common::Run {
    let mut spec = probe_spec(CHECKS);
    spec.loads = vec![Load::image(format, addr, path)];
    spec.loads.extend(extra);
    let r = run(&spec);
    assert_eq!(r.code, 0, "exit code\n{}\n{}", r.out, r.err);
    r.done();
    assert!(
        r.out.contains(&format!("probe: start '{CHECKS}'")),
        "cmdline reached the guest\n{}",
        r.out
    );
    assert!(
        r.err.contains("progress: milestone 1"),
        "progress milestone logged\n{}",
        r.err
    );
    r
}

#[test]
fn pvh_elf_auto_detected() {
    if !kvm() {
        return;
    }
    let r = boot(ImageFormat::Auto, vmm::probe::ELF, None, vec![]);
    assert_eq!(r.ok("hello"), "boot=pvh");
    expect_map(&r);
}

#[test]
fn multiboot_elf() {
    if !kvm() {
        return;
    }
    let r = boot(ImageFormat::Multiboot, vmm::probe::ELF, None, vec![]);
    assert_eq!(r.ok("hello"), "boot=multiboot");
    expect_map(&r);
}

#[test]
fn elf64_entry() {
    if !kvm() {
        return;
    }
    let r = boot(ImageFormat::Elf64, vmm::probe::ELF, None, vec![]);
    assert_eq!(r.ok("hello"), "boot=elf64");
    expect_map(&r);
}

#[test]
fn raw_binary_starts_at_first_byte() {
    if !kvm() {
        return;
    }
    // the flat probe without its multiboot magic: neither ELF, bzImage, IFS
    // nor multiboot, so an untyped load is raw
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bin = std::fs::read(vmm::probe::BIN).expect("probe.bin");
    assert_eq!(&bin[8..12], &0x1bad_b002u32.to_le_bytes());
    bin[8..12].fill(0);
    let p = dir.path().join("probe.raw");
    std::fs::write(&p, bin).expect("write");
    let r = boot(
        ImageFormat::Auto,
        p.to_str().expect("utf-8"),
        Some(vmm::probe::BASE),
        vec![],
    );
    // the raw entry gets the multiboot registers
    assert_eq!(r.ok("hello"), "boot=multiboot");
    expect_map(&r);
}

#[test]
fn multiboot_flat_binary_with_address_fields() {
    if !kvm() {
        return;
    }
    // untyped, no address: the header's address fields say where it goes
    let r = boot(ImageFormat::Auto, vmm::probe::BIN, None, vec![]);
    assert_eq!(r.ok("hello"), "boot=multiboot");
    expect_map(&r);
}

#[test]
fn raw_without_address_is_a_config_error() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec(CHECKS);
    spec.loads = vec![Load::image(ImageFormat::Raw, None, vmm::probe::BIN)];
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("needs an address"), "{}", r.err);
}

/// An IFS image: a 256-byte startup header in front of the probe's flat
/// binary, image_paddr just below 1 MiB, startup_vaddr at the probe's raw entry.
fn ifs_image(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = std::fs::read(vmm::probe::BIN).expect("probe.bin");
    let mut h = vec![0u8; 256];
    let total = (256 + bin.len()) as u32;
    h[0..4].copy_from_slice(&0x00ff_7eebu32.to_le_bytes());
    h[4..6].copy_from_slice(&1u16.to_le_bytes());
    h[8..10].copy_from_slice(&256u16.to_le_bytes());
    h[10..12].copy_from_slice(&62u16.to_le_bytes());
    h[12..16].copy_from_slice(&(vmm::probe::BASE as u32).to_le_bytes());
    h[20..24].copy_from_slice(&(vmm::probe::BASE as u32 - 256).to_le_bytes());
    h[24..28].copy_from_slice(&(vmm::probe::BASE as u32 - 256).to_le_bytes());
    h[28..32].copy_from_slice(&total.to_le_bytes());
    h[32..36].copy_from_slice(&total.to_le_bytes());
    h[36..40].copy_from_slice(&total.to_le_bytes());
    h.extend_from_slice(&bin);
    let p = dir.join("probe.ifs");
    std::fs::write(&p, h).expect("write ifs");
    p
}

#[test]
fn ifs_image_loaded_at_image_paddr() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = ifs_image(dir.path());
    let r = boot(
        ImageFormat::Auto,
        p.to_str().expect("utf-8 path"),
        None,
        vec![],
    );
    assert_eq!(r.ok("hello"), "boot=multiboot");
}

#[test]
fn ifs_for_another_machine_is_rejected() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = ifs_image(dir.path());
    let mut b = std::fs::read(&p).expect("read");
    b[10..12].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(&p, b).expect("write");
    let mut spec = probe_spec(CHECKS);
    spec.loads = vec![Load::image(ImageFormat::Ifs, None, p)];
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("machine 183"), "{}", r.err);
}

/// A bzImage: one setup sector after the boot sector, then the probe's flat
/// binary as the protected-mode kernel (its 64-bit entry is at +0x200).
fn bzimage(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = std::fs::read(vmm::probe::BIN).expect("probe.bin");
    let mut b = vec![0u8; 1024];
    b[0x1f1] = 1;
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    b[0x201] = 0x66;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x211] = 1;
    b[0x214..0x218].copy_from_slice(&(vmm::probe::BASE as u32).to_le_bytes());
    b[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    b[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
    b[0x238..0x23c].copy_from_slice(&2048u32.to_le_bytes());
    b.extend_from_slice(&bin);
    let p = dir.join("bzImage");
    std::fs::write(&p, b).expect("write bzImage");
    p
}

fn initrd(dir: &std::path::Path) -> Load {
    let p = dir.join("initrd.img");
    std::fs::write(&p, b"INITRD-CONTENT-0123456789").expect("write initrd");
    Load::other(LoadKind::Initrd, None, p)
}

#[test]
fn bzimage_64bit_protocol_with_initrd_and_e820() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = bzimage(dir.path());
    let mut spec = probe_spec("hello mem initrd");
    spec.loads = vec![Load::image(ImageFormat::Auto, None, p), initrd(dir.path())];
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    r.done();
    assert_eq!(r.ok("hello"), "boot=linux");
    expect_map(&r);
    let i = r.ok("initrd");
    assert!(
        i.starts_with("25 bytes at ") && i.ends_with("'INITRD-CONTENT-0'"),
        "{i}"
    );
}

#[test]
fn initrd_as_pvh_and_multiboot_module() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, boot) in [
        (ImageFormat::Pvh, "boot=pvh"),
        (ImageFormat::Multiboot, "boot=multiboot"),
    ] {
        let mut spec = probe_spec("hello initrd");
        spec.loads = vec![
            Load::image(format, None, vmm::probe::ELF),
            initrd(dir.path()),
        ];
        let r = run(&spec);
        assert_eq!(r.code, 0, "{}", r.err);
        assert_eq!(r.ok("hello"), boot);
        let i = r.ok("initrd");
        assert!(i.ends_with("'INITRD-CONTENT-0'"), "{boot}: {i}");
    }
}

#[test]
fn data_load_at_address() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("blob");
    std::fs::write(&p, b"DATA-BLOCK-ABCDEFGHIJ").expect("write");
    let mut spec = probe_spec("peek=300000");
    spec.loads
        .push(Load::other(LoadKind::Data, Some(0x30_0000), p));
    let r = run(&spec);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.ok("peek"), "300000 'DATA-BLOCK-ABCDE'");
}

#[test]
fn data_outside_memory_is_a_config_error() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.loads.push(Load::other(
        LoadKind::Data,
        Some(0x4000_0000),
        vmm::probe::BIN,
    ));
    let r = run(&spec);
    assert_eq!(r.code, 65, "{}", r.err);
    assert!(r.err.contains("not inside guest ram/rom"), "{}", r.err);
}

#[test]
fn missing_image_fails_before_start() {
    if !kvm() {
        return;
    }
    let mut spec = probe_spec("hello");
    spec.loads = vec![Load::image(
        ImageFormat::Auto,
        None,
        "/nonexistent/guest.elf",
    )];
    let r = run(&spec);
    assert_eq!(r.code, 64, "{}", r.err);
    assert!(r.err.contains("/nonexistent/guest.elf"), "{}", r.err);
}
