//! Recognising an image: bzImage setup header, ELF (PVH note, multiboot
//! header), multiboot header with address fields, IFS startup header, raw.

use crate::spec::{ImageFormat, Load};

pub(super) const MULTIBOOT_MAGIC: u32 = 0x1bad_b002;
pub(super) const IFS_SIGNATURE: u32 = 0x00ff_7eeb;
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

pub(super) fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(super) fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
/// The multiboot v1 header: offset in the file and its words.
pub(super) fn multiboot_header(data: &[u8]) -> Option<(usize, [u32; 8])> {
    let limit = data.len().min(8192);
    let mut off = 0;
    while off + 12 <= limit {
        if u32_at(data, off) == Some(MULTIBOOT_MAGIC) {
            let flags = u32_at(data, off + 4)?;
            let sum = u32_at(data, off + 8)?;
            if MULTIBOOT_MAGIC.wrapping_add(flags).wrapping_add(sum) == 0 {
                let mut w = [0u32; 8];
                for (i, v) in w.iter_mut().enumerate() {
                    *v = u32_at(data, off + 4 + 4 * i).unwrap_or(0);
                }
                return Some((off, w));
            }
        }
        off += 4;
    }
    None
}

/// The IFS startup header's offset, when the file is an IFS image.
pub(super) fn ifs_header(data: &[u8]) -> Option<usize> {
    let limit = data.len().min(0x1_0000);
    (0..limit).step_by(4).find(|&o| {
        u32_at(data, o) == Some(IFS_SIGNATURE)
            && u16_at(data, o + 4) == Some(1)
            && u16_at(data, o + 8) == Some(256)
            && u16_at(data, o + 50) == Some(0)
    })
}

pub(super) fn is_bzimage(data: &[u8]) -> bool {
    data.get(0x202..0x206) == Some(b"HdrS") && data.get(0x1fe..0x200) == Some(&[0x55, 0xaa])
}

pub(super) fn detect(load: &Load, data: &[u8]) -> ImageFormat {
    if load.format != ImageFormat::Auto {
        return load.format;
    }
    if is_bzimage(data) {
        return ImageFormat::Bzimage;
    }
    if data.starts_with(b"\x7fELF") {
        if data.get(4) == Some(&2) && has_pvh_note(data) {
            return ImageFormat::Pvh;
        }
        if multiboot_header(data).is_some() {
            return ImageFormat::Multiboot;
        }
        return ImageFormat::Elf64;
    }
    if multiboot_header(data).is_some_and(|(_, w)| w[0] & (1 << 16) != 0) {
        return ImageFormat::Multiboot;
    }
    if ifs_header(data).is_some() {
        return ImageFormat::Ifs;
    }
    ImageFormat::Raw
}

/// True when the ELF64 file has a Xen `PHYS32_ENTRY` note (the PVH entry),
/// read with `object`; a file too broken to say has none.
pub(super) fn has_pvh_note(data: &[u8]) -> bool {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let Ok(file) = ElfFile64::<object::Endianness>::parse(data) else {
        return false;
    };
    let endian = file.endian();
    file.elf_program_headers().iter().any(|ph| {
        let Ok(Some(mut notes)) = ph.notes(endian, data) else {
            return false;
        };
        while let Ok(Some(note)) = notes.next() {
            if note.name() == b"Xen" && note.n_type(endian).0 == XEN_ELFNOTE_PHYS32_ENTRY {
                return true;
            }
        }
        false
    })
}
