//! Recognising what a loaded file is from its first bytes: ELF, Linux x86
//! bzImage, Linux arm64 Image, QNX IFS, or raw bytes. Every offset read is
//! bounds-checked: the file is not trusted.

use crate::config::{Arch, ImageType};

/// How many bytes of a file [`detect`] needs at most.
pub const HEADER_BYTES: usize = 64 * 1024;

fn u16_le(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_le(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
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
    let machine = u16_le(b, 18)?;
    let (entry, phoff, phentsize, phnum) = if class64 {
        (
            u64_le(b, 24)?,
            u64_le(b, 32)?,
            u16_le(b, 54)?,
            u16_le(b, 56)?,
        )
    } else {
        (
            u64::from(u32_le(b, 24)?),
            u64::from(u32_le(b, 28)?),
            u16_le(b, 42)?,
            u16_le(b, 44)?,
        )
    };
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for i in 0..u64::from(phnum) {
        let off = phoff.checked_add(i.checked_mul(u64::from(phentsize))?)?;
        let off = usize::try_from(off).ok()?;
        let (ptype, paddr, memsz) = if class64 {
            (
                u32_le(b, off)?,
                u64_le(b, off.checked_add(24)?)?,
                u64_le(b, off.checked_add(40)?)?,
            )
        } else {
            (
                u32_le(b, off)?,
                u64::from(u32_le(b, off.checked_add(12)?)?),
                u64::from(u32_le(b, off.checked_add(20)?)?),
            )
        };
        if ptype == 1 && memsz > 0 {
            lo = lo.min(paddr);
            hi = hi.max(paddr.saturating_add(memsz));
        }
    }
    let (load_addr, mem_size) = if lo == u64::MAX {
        (0, 0)
    } else {
        (lo, hi - lo)
    };
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
