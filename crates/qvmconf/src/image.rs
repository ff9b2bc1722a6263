//! Recognising what a loaded file is from its first bytes: ELF, Linux x86
//! bzImage, Linux arm64 Image, QNX IFS, or raw bytes. Every offset read is
//! bounds-checked: the file is not trusted.

use crate::config::{Arch, ImageType};
use object::elf::{FileHeader32, FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{LittleEndian, ReadRef};

/// How many bytes of a file [`detect`] needs at most.
pub const HEADER_BYTES: usize = 64 * 1024;

fn u16_le(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u64_le(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn machine_arch(machine: u16) -> Option<Arch> {
    match machine {
        62 => Some(Arch::X86_64),
        183 => Some(Arch::Aarch64),
        _ => None,
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        3 => "x86".into(),
        40 => "arm".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        m => format!("machine-{m}"),
    }
}

/// What `head` (the first bytes of a file, up to [`HEADER_BYTES`]) is, and
/// the architecture it implies.
pub fn detect(head: &[u8]) -> (ImageType, Option<Arch>) {
    if head.starts_with(b"\x7fELF") {
        if let Some(r) = elf(head) {
            return r;
        }
        return (ImageType::Raw, None);
    }
    // Linux x86 boot protocol: "HdrS" at 0x202, boot flag 0xaa55 at 0x1fe.
    if head.get(0x202..0x206) == Some(b"HdrS") && u16_le(head, 0x1fe) == Some(0xaa55) {
        let protocol = u16_le(head, 0x206).unwrap_or(0);
        return (ImageType::BzImage { protocol }, Some(Arch::X86_64));
    }
    // Linux arm64 Image: "ARM\x64" at 56, text_offset at 8.
    if head.get(56..60) == Some(b"ARM\x64") {
        let text_offset = u64_le(head, 8).unwrap_or(0);
        return (ImageType::Arm64Image { text_offset }, Some(Arch::Aarch64));
    }
    // QNX IFS: a startup header (signature 0x00ff7eeb, machine at 10) or a bare image header.
    if head.starts_with(&[0xeb, 0x7e, 0xff, 0x00]) {
        let arch = u16_le(head, 10).and_then(machine_arch);
        return (ImageType::Ifs, arch);
    }
    if head.starts_with(b"imagefs") {
        return (ImageType::Ifs, None);
    }
    (ImageType::Raw, None)
}

fn elf(b: &[u8]) -> Option<(ImageType, Option<Arch>)> {
    let class64 = match b.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    if *b.get(5)? != 1 {
        // Big-endian ELF: not a guest hvhost runs; still an ELF.
        return Some((
            ImageType::Elf {
                machine: "big-endian".into(),
                class64,
                entry: 0,
                load_addr: 0,
                mem_size: 0,
            },
            None,
        ));
    }
    // The header as it is, without `FileHeader::parse`'s identification
    // checks: an ELF with EI_VERSION 0 is still recognised as an ELF.
    let (machine, entry, extent) = if class64 {
        elf_facts(b.read_at::<FileHeader64<LittleEndian>>(0).ok()?, b)?
    } else {
        elf_facts(b.read_at::<FileHeader32<LittleEndian>>(0).ok()?, b)?
    };
    let (load_addr, mem_size) = extent.map_or((0, 0), |(lo, hi)| (lo, hi - lo));
    Some((
        ImageType::Elf {
            machine: machine_name(machine),
            class64,
            entry,
            load_addr,
            mem_size,
        },
        machine_arch(machine),
    ))
}

/// Lowest physical address and end of an ELF's loaded segments.
type Extent = (u64, u64);

/// The machine, the entry and the physical extent `(lowest, end)` of the
/// non-empty PT_LOAD segments of a little-endian ELF (None: the program
/// headers are not within `b`).
fn elf_facts<H: FileHeader<Endian = LittleEndian>>(
    h: &H,
    b: &[u8],
) -> Option<(u16, u64, Option<Extent>)> {
    let e = LittleEndian;
    let mut extent: Option<Extent> = None;
    for ph in h.program_headers(e, b).ok()? {
        let memsz: u64 = ph.p_memsz(e).into();
        if ph.p_type(e) == PT_LOAD && memsz > 0 {
            let lo: u64 = ph.p_paddr(e).into();
            let hi = lo.saturating_add(memsz);
            extent = Some(extent.map_or((lo, hi), |(a, z)| (a.min(lo), z.max(hi))));
        }
    }
    Some((h.e_machine(e).0, h.e_entry(e).into(), extent))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian ELF with one PT_LOAD at `paddr`.
    pub(crate) fn tiny_elf(machine: u16, entry: u64, paddr: u64, memsz: u64) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[24..32].copy_from_slice(&entry.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let p = 64;
        b[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
        b[p + 24..p + 32].copy_from_slice(&paddr.to_le_bytes());
        b[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
        b
    }

    #[test]
    fn elf_is_recognised_with_its_load_address() {
        let (t, a) = detect(&tiny_elf(62, 0x10_0010, 0x10_0000, 0x2000));
        assert_eq!(a, Some(Arch::X86_64));
        assert_eq!(
            t,
            ImageType::Elf {
                machine: "x86_64".into(),
                class64: true,
                entry: 0x10_0010,
                load_addr: 0x10_0000,
                mem_size: 0x2000
            }
        );
    }

    #[test]
    fn elf32_segments_give_the_extent() {
        // ELF32, i386, entry 0x100c, PT_LOADs at 0x1000 (0x800) and 0x3000 (0x100)
        let mut b = vec![0u8; 52 + 2 * 32];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 1;
        b[5] = 1;
        b[6] = 1;
        b[18..20].copy_from_slice(&3u16.to_le_bytes());
        b[24..28].copy_from_slice(&0x100cu32.to_le_bytes());
        b[28..32].copy_from_slice(&52u32.to_le_bytes());
        b[42..44].copy_from_slice(&32u16.to_le_bytes());
        b[44..46].copy_from_slice(&2u16.to_le_bytes());
        for (i, (paddr, memsz)) in [(0x3000u32, 0x100u32), (0x1000, 0x800)].iter().enumerate() {
            let p = 52 + i * 32;
            b[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
            b[p + 12..p + 16].copy_from_slice(&paddr.to_le_bytes());
            b[p + 20..p + 24].copy_from_slice(&memsz.to_le_bytes());
        }
        assert_eq!(
            detect(&b),
            (
                ImageType::Elf {
                    machine: "x86".into(),
                    class64: false,
                    entry: 0x100c,
                    load_addr: 0x1000,
                    mem_size: 0x2100
                },
                None
            )
        );
    }

    #[test]
    fn truncated_elf_is_raw_not_a_panic() {
        let b = tiny_elf(62, 0, 0, 0);
        for n in 0..b.len() {
            let _ = detect(&b[..n]);
        }
        let mut bad = b.clone();
        bad[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(detect(&bad).0, ImageType::Raw);
    }

    #[test]
    fn kernels_and_ifs() {
        let mut bz = vec![0u8; 0x300];
        bz[0x1fe] = 0x55;
        bz[0x1ff] = 0xaa;
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        bz[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        assert_eq!(
            detect(&bz),
            (ImageType::BzImage { protocol: 0x20f }, Some(Arch::X86_64))
        );
        let mut arm = vec![0u8; 64];
        arm[8..16].copy_from_slice(&0x80000u64.to_le_bytes());
        arm[56..60].copy_from_slice(b"ARM\x64");
        assert_eq!(
            detect(&arm),
            (
                ImageType::Arm64Image {
                    text_offset: 0x80000
                },
                Some(Arch::Aarch64)
            )
        );
        let mut ifs = vec![0u8; 256];
        ifs[..4].copy_from_slice(&[0xeb, 0x7e, 0xff, 0]);
        ifs[10..12].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(detect(&ifs), (ImageType::Ifs, Some(Arch::Aarch64)));
        assert_eq!(detect(b"hello"), (ImageType::Raw, None));
    }
}
