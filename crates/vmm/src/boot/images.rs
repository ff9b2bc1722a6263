//! Loading each kind of image into guest memory: ELF64 (PVH or plain) and
//! bzImage through `linux-loader`, ELF32 through `object`, multiboot's
//! address fields, IFS and raw images by their headers.

use std::io::Cursor;

use linux_loader::loader::{BzImage, Elf, KernelLoader, PvhBootCapability};

use super::detect::{ifs_header, is_bzimage, multiboot_header, u16_at, u32_at};
use super::img;
use crate::Error;
use crate::memory::Memory;
use crate::spec::{ImageFormat, Load};

/// The boot protocol an image is entered with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    Pvh,
    Multiboot,
    Elf64,
    Linux,
    Entry32,
}

/// A loaded image.
pub(super) struct Kernel {
    pub proto: Proto,
    pub entry: u64,
    /// The end of what it occupies.
    pub end: u64,
    /// Linux: the setup header bytes (from 0x1f1).
    pub setup: Vec<u8>,
    pub name: &'static str,
}

impl Kernel {
    fn new(proto: Proto, entry: u64, end: u64, name: &'static str) -> Kernel {
        Kernel {
            proto,
            entry,
            end,
            setup: vec![],
            name,
        }
    }
}

/// Load `data` (in `format`, already detected) into `mem`.
pub(super) fn load_image(
    load: &Load,
    format: ImageFormat,
    data: &[u8],
    mem: &Memory,
) -> Result<Kernel, Error> {
    match format {
        ImageFormat::Pvh | ImageFormat::Elf64 => load_elf64(load, format, data, mem),
        ImageFormat::Multiboot => load_multiboot(load, data, mem),
        ImageFormat::Bzimage => load_bzimage(load, data, mem),
        ImageFormat::Ifs => load_ifs(load, data, mem),
        ImageFormat::Raw => {
            let addr = load
                .addr
                .ok_or_else(|| img(load, "a raw binary needs an address: `load ADDR,FILE`"))?;
            mem.write(addr, data, &load.path.display().to_string())?;
            Ok(Kernel::new(
                Proto::Entry32,
                addr,
                addr + data.len() as u64,
                "raw",
            ))
        }
        ImageFormat::Auto => unreachable!("resolved by the caller"),
    }
}

fn is_elf(data: &[u8], class: u8) -> bool {
    data.starts_with(b"\x7fELF") && data.get(4) == Some(&class)
}

/// linux-loader's ELF64 loader: (load result, entry, end).
fn elf64(load: &Load, data: &[u8], mem: &Memory) -> Result<(Option<u64>, u64, u64), Error> {
    let r = Elf::load(&mem.mem, None, &mut Cursor::new(data), None)
        .map_err(|e| img(load, format!("ELF: {e}")))?;
    let pvh = match r.pvh_boot_cap {
        PvhBootCapability::PvhEntryPresent(at) => Some(at.0),
        _ => None,
    };
    Ok((pvh, r.kernel_load.0, r.kernel_end))
}

fn load_elf64(
    load: &Load,
    format: ImageFormat,
    data: &[u8],
    mem: &Memory,
) -> Result<Kernel, Error> {
    if !is_elf(data, 2) {
        return Err(img(load, "not an ELF64 file"));
    }
    let (pvh, entry, end) = elf64(load, data, mem)?;
    if format != ImageFormat::Pvh {
        return Ok(Kernel::new(Proto::Elf64, entry, end, "elf64"));
    }
    let at = pvh.ok_or_else(|| img(load, "no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"))?;
    Ok(Kernel::new(Proto::Pvh, at, end, "pvh"))
}

fn load_multiboot(load: &Load, data: &[u8], mem: &Memory) -> Result<Kernel, Error> {
    let (off, w) = multiboot_header(data)
        .ok_or_else(|| img(load, "no multiboot v1 header in the first 8 KiB"))?;
    let (entry, end) = if w[0] & (1 << 16) != 0 {
        load_address_fields(load, data, mem, off, &w)?
    } else if is_elf(data, 1) {
        load_elf32(load, data, mem)?
    } else if is_elf(data, 2) {
        let (_, entry, end) = elf64(load, data, mem)?;
        (entry, end)
    } else {
        return Err(img(
            load,
            "multiboot image that is neither ELF nor has address fields",
        ));
    };
    Ok(Kernel::new(Proto::Multiboot, entry, end, "multiboot"))
}

/// A multiboot image placed by its header's address fields (flag 16);
/// returns (entry, end).
fn load_address_fields(
    load: &Load,
    data: &[u8],
    mem: &Memory,
    off: usize,
    w: &[u32; 8],
) -> Result<(u64, u64), Error> {
    let path = load.path.display().to_string();
    let [_, _, header_addr, load_addr, load_end, bss_end, entry, _] = *w;
    let bad = |m: &str| img(load, format!("multiboot address fields: {m}"));
    let delta = header_addr
        .checked_sub(load_addr)
        .ok_or_else(|| bad("header below load_addr"))?;
    let file_off = (off as u64)
        .checked_sub(u64::from(delta))
        .ok_or_else(|| bad("load_addr before the file"))?;
    let len = if load_end == 0 {
        data.len() as u64 - file_off
    } else {
        u64::from(
            load_end
                .checked_sub(load_addr)
                .ok_or_else(|| bad("load_end_addr < load_addr"))?,
        )
    };
    let bytes = data
        .get(file_off as usize..(file_off + len) as usize)
        .ok_or_else(|| bad("load range beyond the end of the file"))?;
    mem.write(u64::from(load_addr), bytes, &path)?;
    let text_end = u64::from(load_addr) + len;
    if u64::from(bss_end) > text_end {
        let bss = u64::from(bss_end) - text_end;
        if !mem.contains(text_end, bss) {
            return Err(bad("bss_end_addr beyond guest memory"));
        }
        mem.write(text_end, &vec![0; bss as usize], &path)?;
    }
    Ok((u64::from(entry), text_end.max(u64::from(bss_end))))
}

/// ELF32 (multiboot kernels are often 32-bit ELF), read with `object`: copy
/// the PT_LOAD segments to their physical addresses; returns (entry, end).
fn load_elf32(load: &Load, data: &[u8], mem: &Memory) -> Result<(u64, u64), Error> {
    use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
    let bad = |m: String| img(load, format!("ELF32: {m}"));
    let file = ElfFile32::<object::Endianness>::parse(data).map_err(|e| bad(e.to_string()))?;
    let endian = file.endian();
    let mut end = 0u64;
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != object::elf::PT_LOAD {
            continue;
        }
        let bytes = ph
            .data(endian, data)
            .map_err(|_| bad("segment beyond the end of the file".into()))?;
        let paddr = u64::from(ph.p_paddr(endian));
        mem.write(paddr, bytes, &load.path.display().to_string())?;
        let size = u64::from(ph.p_memsz(endian)).max(bytes.len() as u64);
        end = end.max(paddr + size);
    }
    Ok((u64::from(file.elf_header().e_entry(endian)), end))
}

fn load_bzimage(load: &Load, data: &[u8], mem: &Memory) -> Result<Kernel, Error> {
    if !is_bzimage(data) {
        return Err(img(load, "not a bzImage (no HdrS setup header)"));
    }
    let version = u16_at(data, 0x206).unwrap_or(0);
    let xload = u16_at(data, 0x236).unwrap_or(0);
    if version < 0x20c || xload & 1 == 0 {
        return Err(img(
            load,
            "the kernel has no 64-bit entry (boot protocol 2.12, XLF_KERNEL_64)",
        ));
    }
    let r = BzImage::load(
        &mem.mem,
        load.addr.map(vm_memory::GuestAddress),
        &mut Cursor::new(data),
        None,
    )
    .map_err(|e| img(load, format!("bzImage: {e}")))?;
    let hdr_end = (0x202 + usize::from(data[0x201]))
        .clamp(0x268, 0x290)
        .min(data.len());
    Ok(Kernel {
        setup: data[0x1f1..hdr_end].to_vec(),
        ..Kernel::new(Proto::Linux, r.kernel_load.0 + 0x200, r.kernel_end, "linux")
    })
}

fn load_ifs(load: &Load, data: &[u8], mem: &Memory) -> Result<Kernel, Error> {
    let at = ifs_header(data).ok_or_else(|| img(load, "no IFS startup header"))?;
    let flags1 = data[at + 6];
    if flags1 & 2 != 0 {
        return Err(img(load, "big-endian IFS image on x86"));
    }
    let machine = u16_at(data, at + 10).unwrap_or(0);
    if machine != 62 && machine != 3 {
        return Err(img(
            load,
            format!("IFS startup is for machine {machine}, not x86"),
        ));
    }
    let field = |o| u32_at(data, at + o).map(u64::from).unwrap_or(0);
    let (startup_vaddr, image_paddr, stored) = (field(12), field(20), field(36));
    let end = (at as u64)
        .saturating_add(stored.max(256))
        .min(data.len() as u64) as usize;
    let dest = load.addr.unwrap_or(image_paddr);
    mem.write(dest, &data[at..end], &load.path.display().to_string())?;
    Ok(Kernel::new(
        Proto::Entry32,
        startup_vaddr,
        dest + (end - at) as u64,
        "ifs",
    ))
}
