//! Image detection and loading on the probe guest and on hostile input.

use super::detect::{
    IFS_SIGNATURE, MULTIBOOT_MAGIC, detect, has_pvh_note, ifs_header, is_bzimage, multiboot_header,
};
use super::*;
use crate::spec::ImageFormat;

fn probe() -> Vec<u8> {
    std::fs::read(crate::probe::ELF).expect("the probe ELF")
}

#[test]
fn probe_elf_has_every_entry() {
    let elf = probe();
    assert!(has_pvh_note(&elf));
    let (off, w) = multiboot_header(&elf).expect("multiboot header");
    assert_eq!(off % 4, 0);
    assert_ne!(w[0] & (1 << 16), 0, "address fields");
    let load = Load::image(ImageFormat::Auto, None, "probe");
    assert_eq!(detect(&load, &elf), ImageFormat::Pvh);
    let mut bin = std::fs::read(crate::probe::BIN).expect("the probe binary");
    assert_eq!(
        detect(&load, &bin),
        ImageFormat::Multiboot,
        "header with address fields"
    );
    bin[8] ^= 0xff;
    assert_eq!(detect(&load, &bin), ImageFormat::Raw);
}

#[test]
fn multiboot_checksum_must_match() {
    let mut b = vec![0u8; 64];
    b[16..20].copy_from_slice(&MULTIBOOT_MAGIC.to_le_bytes());
    b[20..24].copy_from_slice(&3u32.to_le_bytes());
    b[24..28].copy_from_slice(
        &(MULTIBOOT_MAGIC.wrapping_add(3))
            .wrapping_neg()
            .to_le_bytes(),
    );
    assert_eq!(multiboot_header(&b).map(|h| h.0), Some(16));
    b[24] ^= 1;
    assert!(multiboot_header(&b).is_none());
    // a header cut off by the end of the file
    assert!(multiboot_header(&b[..22]).is_none());
}

#[test]
fn ifs_header_needs_version_size_and_zero() {
    let mut b = vec![0u8; 600];
    b[8..12].copy_from_slice(&IFS_SIGNATURE.to_le_bytes());
    b[12..14].copy_from_slice(&1u16.to_le_bytes());
    b[16..18].copy_from_slice(&256u16.to_le_bytes());
    assert_eq!(ifs_header(&b), Some(8));
    b[58] = 1; // zero0 at +50
    assert_eq!(ifs_header(&b), None);
    b[58] = 0;
    b[17] = 0; // header_size 256 -> 0
    assert_eq!(ifs_header(&b), None);
    assert_eq!(ifs_header(&b[..10]), None);
}

#[test]
fn bzimage_signature() {
    let mut b = vec![0u8; 0x300];
    assert!(!is_bzimage(&b));
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    assert!(is_bzimage(&b));
    assert!(!is_bzimage(&b[..0x204]));
}

#[test]
fn truncated_elf_notes_do_not_panic() {
    let elf = probe();
    for n in [0, 4, 63, 64, 100, 200, 0x1000] {
        let _ = has_pvh_note(&elf[..n.min(elf.len())]);
    }
    let mut bad = elf.clone();
    bad[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff
    assert!(!has_pvh_note(&bad));
}

fn memory() -> Memory {
    use crate::spec::{MemKind, MemRegion};
    Memory::new(&[
        MemRegion {
            kind: MemKind::Ram,
            start: 0,
            size: 0xa0000,
        },
        MemRegion {
            kind: MemKind::Ram,
            start: 0x10_0000,
            size: 4 << 20,
        },
    ])
    .expect("memory")
}

fn try_load(format: ImageFormat, addr: Option<u64>, data: &[u8]) -> Result<Entry, Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("image");
    std::fs::write(&path, data).expect("write");
    let spec = VmSpec {
        loads: vec![Load::image(format, addr, path)],
        ..Default::default()
    };
    load(&spec, &memory(), &super::Platform::default())
}

#[test]
fn hostile_images_are_errors_not_panics() {
    let elf = probe();
    let formats = [
        ImageFormat::Auto,
        ImageFormat::Pvh,
        ImageFormat::Multiboot,
        ImageFormat::Elf64,
        ImageFormat::Bzimage,
        ImageFormat::Ifs,
        ImageFormat::Raw,
    ];
    let mut cuts: Vec<usize> = (0..200).step_by(7).collect();
    cuts.extend([0x1000, 0x1010, 0x1100, elf.len() - 1]);
    for format in formats {
        for &n in &cuts {
            let _ = try_load(format, Some(0x10_0000), &elf[..n.min(elf.len())]);
        }
    }
    // a multiboot header whose bss reaches 4 GiB
    let mut mb = vec![0u8; 64];
    let words = [
        MULTIBOOT_MAGIC,
        0x1_0000,
        0,
        0x10_0000,
        0x10_0000,
        0,
        0xffff_f000,
        0x10_0000,
    ];
    for (i, w) in words.iter().enumerate() {
        mb[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    let sum = MULTIBOOT_MAGIC.wrapping_add(0x1_0000).wrapping_neg();
    mb[8..12].copy_from_slice(&sum.to_le_bytes());
    let e = try_load(ImageFormat::Auto, None, &mb).expect_err("bss beyond memory");
    assert!(
        e.to_string().contains("bss_end_addr beyond guest memory"),
        "{e}"
    );
    // header_addr below load_addr
    mb[12..16].copy_from_slice(&0x1000u32.to_le_bytes());
    let e = try_load(ImageFormat::Multiboot, None, &mb).expect_err("bad address fields");
    assert!(e.to_string().contains("header below load_addr"), "{e}");
    // an IFS image whose image_paddr is outside RAM
    let mut ifs = vec![0u8; 512];
    ifs[0..4].copy_from_slice(&IFS_SIGNATURE.to_le_bytes());
    ifs[4] = 1;
    ifs[8..10].copy_from_slice(&256u16.to_le_bytes());
    ifs[10] = 62;
    ifs[20..24].copy_from_slice(&0xe000_0000u32.to_le_bytes());
    ifs[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = try_load(ImageFormat::Auto, None, &ifs).expect_err("outside RAM");
    assert!(e.to_string().contains("not inside guest ram/rom"), "{e}");
    // the probe loads in every mode
    for format in [ImageFormat::Pvh, ImageFormat::Multiboot, ImageFormat::Elf64] {
        let entry = try_load(format, None, &elf).expect("probe loads");
        assert!(
            entry.rip >= 0x10_0000 && entry.rip < 0x11_0000,
            "{format:?} {entry:?}"
        );
    }
}

#[test]
fn acpi_and_fdt_loads_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("table");
    std::fs::write(&table, [0u8; 64]).expect("write");
    for kind in [LoadKind::Acpi, LoadKind::Fdt] {
        let spec = VmSpec {
            loads: vec![
                Load::image(ImageFormat::Auto, None, crate::probe::ELF),
                Load::other(kind, Some(0x20_0000), &table),
            ],
            ..Default::default()
        };
        let e = load(&spec, &memory(), &super::Platform::default()).expect_err("refused");
        assert!(e.to_string().contains("not supported"), "{kind:?}: {e}");
    }
}
