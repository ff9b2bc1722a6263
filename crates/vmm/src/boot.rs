//! Loading guest images and building the boot protocols' structures.
//!
//! Boot structures live in low RAM (which the VM must have, 0–0x30000):
//! GDT 0x500, PVH start info / multiboot info 0x6000 (memory map from 0x6100,
//! modules from 0x6e00), Linux zero page 0x7000, page tables 0x9000–0xefff
//! (identity map of the first 4 GiB in 2 MiB pages), command line 0x20000.
//!
//! How each kind of image is entered (`rip`; registers):
//! - PVH ELF: 32-bit protected mode, paging off, at the note's entry;
//!   `ebx` = hvm_start_info.
//! - multiboot v1 (ELF32/ELF64, or the header's address fields), IFS, raw:
//!   32-bit protected mode, paging off; `eax` = 0x2badb002, `ebx` = multiboot info.
//! - ELF64 without PVH note or multiboot header: 64-bit mode with the
//!   identity map; `rbx` = `rdi` = hvm_start_info.
//! - Linux bzImage: 64-bit mode at load address + 0x200; `rsi` = zero page.

use std::io::Cursor;

use linux_loader::loader::{BzImage, Elf, KernelLoader, PvhBootCapability};

use crate::Error;
use crate::memory::Memory;
use crate::spec::{Load, LoadKind, VmSpec};

pub const GDT: u64 = 0x500;
pub const INFO: u64 = 0x6000;
const MEMMAP: u64 = 0x6100;
const MODULES: u64 = 0x6e00;
const LOADER_NAME: u64 = 0x6f00;
pub const ZERO_PAGE: u64 = 0x7000;
pub const PML4: u64 = 0x9000;
const PDPT: u64 = 0xa000;
const PD: u64 = 0xb000;
pub const CMDLINE: u64 = 0x2_0000;
const CMDLINE_MAX: usize = 0x1_0000;
const LOW_END: u64 = 0x3_0000;
const MEMMAP_MAX: usize = (MODULES - MEMMAP) as usize / 24;

/// Multiboot's magic in `eax`.
pub const MULTIBOOT_EAX: u32 = 0x2bad_b002;
const MULTIBOOT_MAGIC: u32 = 0x1bad_b002;
const PVH_MAGIC: u32 = 0x336e_c578;
const IFS_SIGNATURE: u32 = 0x00ff_7eeb;

/// The CPU state the guest starts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 32-bit protected mode, paging off.
    Protected32 {
        /// `eax`.
        eax: u32,
        /// `ebx`.
        ebx: u32,
    },
    /// 64-bit long mode with the identity map.
    Long64 {
        /// `rbx` and `rdi`.
        rbx: u64,
        /// `rsi`.
        rsi: u64,
    },
}

/// Where and how the boot vCPU starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The first instruction.
    pub rip: u64,
    /// Mode and registers.
    pub mode: Mode,
    /// Human-readable protocol name.
    pub protocol: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Pvh,
    Multiboot,
    Elf64,
    Linux,
    Entry32,
}

struct Kernel {
    proto: Proto,
    entry: u64,
    end: u64,
    /// Linux: the setup header bytes (from 0x1f1).
    setup: Vec<u8>,
    name: &'static str,
}

fn img(load: &Load, msg: impl Into<String>) -> Error {
    Error::Image {
        path: load.path.display().to_string(),
        msg: msg.into(),
    }
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The multiboot v1 header: offset in the file and its words.
fn multiboot_header(data: &[u8]) -> Option<(usize, [u32; 8])> {
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
fn ifs_header(data: &[u8]) -> Option<usize> {
    let limit = data.len().min(0x1_0000);
    (0..limit).step_by(4).find(|&o| {
        u32_at(data, o) == Some(IFS_SIGNATURE)
            && u16_at(data, o + 4) == Some(1)
            && u16_at(data, o + 8) == Some(256)
            && u16_at(data, o + 50) == Some(0)
    })
}

fn is_bzimage(data: &[u8]) -> bool {
    data.get(0x202..0x206) == Some(b"HdrS") && data.get(0x1fe..0x200) == Some(&[0x55, 0xaa])
}

fn detect(load: &Load, data: &[u8]) -> LoadKind {
    if load.kind != LoadKind::Auto {
        return load.kind;
    }
    if is_bzimage(data) {
        return LoadKind::Bzimage;
    }
    if data.starts_with(b"\x7fELF") {
        if data.get(4) == Some(&2) && has_pvh_note(data) {
            return LoadKind::Pvh;
        }
        if multiboot_header(data).is_some() {
            return LoadKind::Multiboot;
        }
        return LoadKind::Elf64;
    }
    if multiboot_header(data).is_some_and(|(_, w)| w[0] & (1 << 16) != 0) {
        return LoadKind::Multiboot;
    }
    if ifs_header(data).is_some() {
        return LoadKind::Ifs;
    }
    LoadKind::Raw
}

fn has_pvh_note(data: &[u8]) -> bool {
    let (Some(phoff), Some(phnum)) = (u64_at(data, 32), u16_at(data, 56)) else {
        return false;
    };
    (0..usize::from(phnum)).any(|i| {
        let p = (phoff as usize).saturating_add(i * 56);
        if u32_at(data, p) != Some(4) {
            return false;
        }
        let (Some(off), Some(size)) = (u64_at(data, p + 8), u64_at(data, p + 32)) else {
            return false;
        };
        let (off, end) = (off as usize, (off as usize).saturating_add(size as usize));
        let mut n = off;
        while n + 12 <= end.min(data.len()) {
            let (namesz, descsz, ty) = (
                u32_at(data, n).unwrap_or(0),
                u32_at(data, n + 4).unwrap_or(0),
                u32_at(data, n + 8),
            );
            if ty == Some(18) && data.get(n + 12..n + 15) == Some(b"Xen") {
                return true;
            }
            let step = 12 + (namesz as usize).div_ceil(4) * 4 + (descsz as usize).div_ceil(4) * 4;
            n = n.saturating_add(step);
        }
        false
    })
}

/// ELF32 loader (multiboot kernels are often 32-bit ELF): copy PT_LOAD
/// segments to their physical addresses; returns (entry, end).
fn load_elf32(load: &Load, data: &[u8], mem: &Memory) -> Result<(u64, u64), Error> {
    let bad = |m: &str| img(load, format!("ELF32: {m}"));
    let entry = u32_at(data, 24).ok_or_else(|| bad("truncated header"))?;
    let phoff = u32_at(data, 28).ok_or_else(|| bad("truncated header"))? as usize;
    let phentsize = usize::from(u16_at(data, 42).ok_or_else(|| bad("truncated header"))?);
    let phnum = usize::from(u16_at(data, 44).ok_or_else(|| bad("truncated header"))?);
    if phentsize < 32 {
        return Err(bad("program header size below 32"));
    }
    let mut end = 0u64;
    for i in 0..phnum {
        let p = phoff.saturating_add(i * phentsize);
        let word =
            |k: usize| u32_at(data, p + 4 * k).ok_or_else(|| bad("truncated program header"));
        if word(0)? != 1 {
            continue;
        }
        let (off, paddr, filesz, memsz) =
            (word(1)? as usize, word(3)?, word(4)? as usize, word(5)?);
        let bytes = data
            .get(off..off.saturating_add(filesz))
            .ok_or_else(|| bad("segment beyond the end of the file"))?;
        mem.write(u64::from(paddr), bytes, &load.path.display().to_string())?;
        end = end.max(u64::from(paddr) + u64::from(memsz.max(filesz as u32)));
    }
    Ok((u64::from(entry), end))
}

fn load_image(load: &Load, kind: LoadKind, data: &[u8], mem: &Memory) -> Result<Kernel, Error> {
    let path = load.path.display().to_string();
    match kind {
        LoadKind::Pvh | LoadKind::Elf64 => {
            if !data.starts_with(b"\x7fELF") || data.get(4) != Some(&2) {
                return Err(img(load, "not an ELF64 file"));
            }
            let r = Elf::load(&mem.mem, None, &mut Cursor::new(data), None)
                .map_err(|e| img(load, format!("ELF: {e}")))?;
            if kind == LoadKind::Pvh {
                let PvhBootCapability::PvhEntryPresent(at) = r.pvh_boot_cap else {
                    return Err(img(
                        load,
                        "no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)",
                    ));
                };
                Ok(Kernel {
                    proto: Proto::Pvh,
                    entry: at.0,
                    end: r.kernel_end,
                    setup: vec![],
                    name: "pvh",
                })
            } else {
                Ok(Kernel {
                    proto: Proto::Elf64,
                    entry: r.kernel_load.0,
                    end: r.kernel_end,
                    setup: vec![],
                    name: "elf64",
                })
            }
        }
        LoadKind::Multiboot => {
            let (off, w) = multiboot_header(data)
                .ok_or_else(|| img(load, "no multiboot v1 header in the first 8 KiB"))?;
            let flags = w[0];
            let (entry, end) = if flags & (1 << 16) != 0 {
                let [_, _, header_addr, load_addr, load_end, bss_end, entry] = w[..7] else {
                    unreachable!("seven words")
                };
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
                (u64::from(entry), text_end.max(u64::from(bss_end)))
            } else if data.starts_with(b"\x7fELF") && data.get(4) == Some(&1) {
                load_elf32(load, data, mem)?
            } else if data.starts_with(b"\x7fELF") && data.get(4) == Some(&2) {
                let r = Elf::load(&mem.mem, None, &mut Cursor::new(data), None)
                    .map_err(|e| img(load, format!("ELF: {e}")))?;
                (r.kernel_load.0, r.kernel_end)
            } else {
                return Err(img(
                    load,
                    "multiboot image that is neither ELF nor has address fields",
                ));
            };
            Ok(Kernel {
                proto: Proto::Multiboot,
                entry,
                end,
                setup: vec![],
                name: "multiboot",
            })
        }
        LoadKind::Bzimage => {
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
                proto: Proto::Linux,
                entry: r.kernel_load.0 + 0x200,
                end: r.kernel_end,
                setup: data[0x1f1..hdr_end].to_vec(),
                name: "linux",
            })
        }
        LoadKind::Ifs => {
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
            mem.write(dest, &data[at..end], &path)?;
            Ok(Kernel {
                proto: Proto::Entry32,
                entry: startup_vaddr,
                end: dest + (end - at) as u64,
                setup: vec![],
                name: "ifs",
            })
        }
        LoadKind::Raw => {
            let addr = load
                .addr
                .ok_or_else(|| img(load, "a raw binary needs an address: `load ADDR,FILE`"))?;
            mem.write(addr, data, &path)?;
            Ok(Kernel {
                proto: Proto::Entry32,
                entry: addr,
                end: addr + data.len() as u64,
                setup: vec![],
                name: "raw",
            })
        }
        LoadKind::Auto | LoadKind::Data | LoadKind::Initrd => {
            unreachable!("resolved by the caller")
        }
    }
}

/// What [`load`] says when no `load` line is an image to boot.
pub const NO_IMAGE: &str = "no bootable image: add a `load` line";

/// The boot structures need RAM at 0–[`LOW_END`]: the message when the
/// regions do not give it.
pub fn low_ram_missing(regions: &[crate::spec::MemRegion]) -> Option<String> {
    (!crate::memory::covers(regions, 0, LOW_END))
        .then(|| format!("the boot structures need RAM at 0x0-{LOW_END:#x} (e.g. `ram 0,0xa0000`)"))
}

/// The command line must fit its page and hold no NUL: the message when not.
pub fn cmdline_problem(spec: &VmSpec) -> Option<String> {
    let cmdline = spec.cmdline.as_deref().unwrap_or("");
    (cmdline.len() >= CMDLINE_MAX || cmdline.contains('\0')).then(|| {
        format!(
            "cmdline: {} bytes or a NUL (max {})",
            cmdline.len(),
            CMDLINE_MAX - 1
        )
    })
}

/// True when a `load` line is an image to boot (not `data`, not `initrd`);
/// without one [`load`] fails with [`NO_IMAGE`].
pub fn has_image(spec: &VmSpec) -> bool {
    spec.loads
        .iter()
        .any(|l| !matches!(l.kind, LoadKind::Data | LoadKind::Initrd))
}

/// Load every `load` of the spec and prepare the boot protocol; returns the
/// boot vCPU's entry.
pub fn load(spec: &VmSpec, mem: &Memory) -> Result<Entry, Error> {
    if let Some(msg) = low_ram_missing(&mem.regions) {
        return Err(Error::Config(msg));
    }
    if !has_image(spec) {
        return Err(Error::Config(NO_IMAGE.into()));
    }
    let ram_total: u64 = mem.map().iter().filter(|r| r.2 == 1).map(|r| r.1).sum();
    let mut kernel: Option<Kernel> = None;
    let mut initrds = Vec::new();
    for load in &spec.loads {
        let path = load.path.display().to_string();
        let meta = std::fs::metadata(&load.path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        if meta.len() > ram_total {
            return Err(img(
                load,
                format!(
                    "{} bytes do not fit in {} bytes of RAM",
                    meta.len(),
                    ram_total
                ),
            ));
        }
        let data = std::fs::read(&load.path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        match detect(load, &data) {
            LoadKind::Data => {
                let addr = load
                    .addr
                    .ok_or_else(|| img(load, "`data load` needs an address: ADDR,FILE"))?;
                mem.write(addr, &data, &path)?;
            }
            LoadKind::Initrd => initrds.push((load, data)),
            kind => {
                let k = load_image(load, kind, &data, mem)?;
                if kernel.is_none() {
                    kernel = Some(k);
                }
            }
        }
    }
    let kernel = kernel.ok_or_else(|| Error::Config(NO_IMAGE.into()))?;

    let cmdline = spec.cmdline.as_deref().unwrap_or("");
    if let Some(msg) = cmdline_problem(spec) {
        return Err(Error::Config(msg));
    }
    let mut c = cmdline.as_bytes().to_vec();
    c.push(0);
    mem.write(CMDLINE, &c, "cmdline")?;

    // initrds / modules
    let mut modules = Vec::new();
    let mut floor = kernel.end.max(0x10_0000);
    let initrd_max = if kernel.proto == Proto::Linux {
        u64::from(u32_at(&kernel.setup, 0x22c - 0x1f1).unwrap_or(0x37ff_ffff)).max(0xfff)
    } else {
        0xffff_ffff
    };
    for (load, data) in initrds {
        let addr = match load.addr {
            Some(a) => a,
            None => mem
                .high_slot(
                    data.len() as u64,
                    floor,
                    initrd_max.saturating_add(1).min(1 << 32),
                )
                .ok_or_else(|| img(load, "no room for the initrd below 4 GiB above the kernel"))?,
        };
        mem.write(addr, &data, &load.path.display().to_string())?;
        floor = floor.max(addr + data.len() as u64);
        modules.push((addr, data.len() as u64));
    }

    write_gdt(mem)?;
    let map = mem.map();
    let entry = match kernel.proto {
        Proto::Pvh | Proto::Elf64 => {
            write_start_info(mem, &map, &modules)?;
            if kernel.proto == Proto::Pvh {
                Entry {
                    rip: kernel.entry,
                    mode: Mode::Protected32 {
                        eax: 0,
                        ebx: INFO as u32,
                    },
                    protocol: kernel.name,
                }
            } else {
                write_page_tables(mem)?;
                Entry {
                    rip: kernel.entry,
                    mode: Mode::Long64 { rbx: INFO, rsi: 0 },
                    protocol: kernel.name,
                }
            }
        }
        Proto::Multiboot | Proto::Entry32 => {
            write_multiboot_info(mem, &map, &modules)?;
            Entry {
                rip: kernel.entry,
                mode: Mode::Protected32 {
                    eax: MULTIBOOT_EAX,
                    ebx: INFO as u32,
                },
                protocol: kernel.name,
            }
        }
        Proto::Linux => {
            write_zero_page(
                mem,
                &kernel.setup,
                &map,
                modules.first().copied(),
                cmdline.len(),
            )?;
            write_page_tables(mem)?;
            Entry {
                rip: kernel.entry,
                mode: Mode::Long64 {
                    rbx: 0,
                    rsi: ZERO_PAGE,
                },
                protocol: kernel.name,
            }
        }
    };
    Ok(entry)
}

fn write_gdt(mem: &Memory) -> Result<(), Error> {
    let gdt: [u64; 6] = [
        0,
        0,
        0x00af_9b00_0000_ffff, // 0x10: 64-bit code
        0x00cf_9300_0000_ffff, // 0x18: flat data
        0x00cf_9b00_0000_ffff, // 0x20: flat 32-bit code
        0x0000_8b00_0000_0067, // 0x28: busy TSS
    ];
    let bytes: Vec<u8> = gdt.iter().flat_map(|g| g.to_le_bytes()).collect();
    mem.write(GDT, &bytes, "GDT")
}

fn write_page_tables(mem: &Memory) -> Result<(), Error> {
    mem.write(PML4, &(PDPT | 3).to_le_bytes(), "page tables")?;
    let mut pdpt = Vec::new();
    for i in 0..4u64 {
        pdpt.extend_from_slice(&((PD + i * 0x1000) | 3).to_le_bytes());
    }
    mem.write(PDPT, &pdpt, "page tables")?;
    let pd: Vec<u8> = (0..2048u64)
        .flat_map(|j| ((j << 21) | 0x83).to_le_bytes())
        .collect();
    mem.write(PD, &pd, "page tables")
}

fn write_start_info(
    mem: &Memory,
    map: &[(u64, u64, u32)],
    modules: &[(u64, u64)],
) -> Result<(), Error> {
    if map.len() > MEMMAP_MAX {
        return Err(Error::Config(format!(
            "more than {MEMMAP_MAX} memory regions"
        )));
    }
    let mut mm = Vec::new();
    for &(a, s, t) in map {
        mm.extend_from_slice(&a.to_le_bytes());
        mm.extend_from_slice(&s.to_le_bytes());
        mm.extend_from_slice(&t.to_le_bytes());
        mm.extend_from_slice(&0u32.to_le_bytes());
    }
    mem.write(MEMMAP, &mm, "PVH memory map")?;
    let mut ml = Vec::new();
    for &(a, s) in modules.iter().take(4) {
        for v in [a, s, 0, 0] {
            ml.extend_from_slice(&v.to_le_bytes());
        }
    }
    mem.write(MODULES, &ml, "PVH modules")?;
    let mut si = Vec::new();
    si.extend_from_slice(&PVH_MAGIC.to_le_bytes());
    si.extend_from_slice(&1u32.to_le_bytes());
    si.extend_from_slice(&0u32.to_le_bytes());
    si.extend_from_slice(&(modules.len().min(4) as u32).to_le_bytes());
    si.extend_from_slice(&(if modules.is_empty() { 0 } else { MODULES }).to_le_bytes());
    si.extend_from_slice(&CMDLINE.to_le_bytes());
    si.extend_from_slice(&0u64.to_le_bytes());
    si.extend_from_slice(&MEMMAP.to_le_bytes());
    si.extend_from_slice(&(map.len() as u32).to_le_bytes());
    si.extend_from_slice(&0u32.to_le_bytes());
    mem.write(INFO, &si, "PVH start info")
}

fn write_multiboot_info(
    mem: &Memory,
    map: &[(u64, u64, u32)],
    modules: &[(u64, u64)],
) -> Result<(), Error> {
    if map.len() > MEMMAP_MAX {
        return Err(Error::Config(format!(
            "more than {MEMMAP_MAX} memory regions"
        )));
    }
    let mut mm = Vec::new();
    for &(a, s, t) in map {
        mm.extend_from_slice(&20u32.to_le_bytes());
        mm.extend_from_slice(&a.to_le_bytes());
        mm.extend_from_slice(&s.to_le_bytes());
        mm.extend_from_slice(&t.to_le_bytes());
    }
    mem.write(MEMMAP, &mm, "multiboot memory map")?;
    let mut ml = Vec::new();
    for &(a, s) in modules.iter().take(8) {
        for v in [a as u32, (a + s) as u32, 0, 0] {
            ml.extend_from_slice(&v.to_le_bytes());
        }
    }
    mem.write(MODULES, &ml, "multiboot modules")?;
    mem.write(LOADER_NAME, b"hvhost\0", "multiboot loader name")?;
    let (lower, upper) = mem.lower_upper_kib();
    let mut flags = 1 | 4 | 0x40 | 0x200;
    if !modules.is_empty() {
        flags |= 8;
    }
    let mut mbi = [0u32; 22];
    mbi[0] = flags;
    mbi[1] = lower;
    mbi[2] = upper;
    mbi[4] = CMDLINE as u32;
    mbi[5] = modules.len().min(8) as u32;
    mbi[6] = MODULES as u32;
    mbi[11] = mm.len() as u32;
    mbi[12] = MEMMAP as u32;
    mbi[16] = LOADER_NAME as u32;
    let bytes: Vec<u8> = mbi.iter().flat_map(|v| v.to_le_bytes()).collect();
    mem.write(INFO, &bytes, "multiboot info")
}

fn write_zero_page(
    mem: &Memory,
    setup: &[u8],
    map: &[(u64, u64, u32)],
    initrd: Option<(u64, u64)>,
    cmdline_len: usize,
) -> Result<(), Error> {
    let mut zp = vec![0u8; 4096];
    zp[0x1f1..0x1f1 + setup.len()].copy_from_slice(setup);
    let put32 = |zp: &mut Vec<u8>, o: usize, v: u32| zp[o..o + 4].copy_from_slice(&v.to_le_bytes());
    zp[0x210] = 0xff; // type_of_loader: undefined
    zp[0x211] |= 0x80; // loadflags: CAN_USE_HEAP
    zp[0x224..0x226].copy_from_slice(&0xfe00u16.to_le_bytes()); // heap_end_ptr
    put32(&mut zp, 0x228, CMDLINE as u32);
    let cmdline_size = u32_at(&zp, 0x238).unwrap_or(0);
    if cmdline_size != 0 && cmdline_len as u64 > u64::from(cmdline_size) {
        return Err(Error::Config(format!(
            "cmdline longer than the kernel's {cmdline_size} bytes"
        )));
    }
    if let Some((a, s)) = initrd {
        put32(&mut zp, 0x218, a as u32);
        put32(&mut zp, 0x21c, s as u32);
    }
    let n = map.len().min(128);
    zp[0x1e8] = n as u8;
    for (i, &(a, s, t)) in map.iter().take(n).enumerate() {
        let o = 0x2d0 + i * 20;
        zp[o..o + 8].copy_from_slice(&a.to_le_bytes());
        zp[o + 8..o + 16].copy_from_slice(&s.to_le_bytes());
        zp[o + 16..o + 20].copy_from_slice(&t.to_le_bytes());
    }
    mem.write(ZERO_PAGE, &zp, "zero page")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let load = Load {
            kind: LoadKind::Auto,
            addr: None,
            path: "probe".into(),
        };
        assert_eq!(detect(&load, &elf), LoadKind::Pvh);
        let mut bin = std::fs::read(crate::probe::BIN).expect("the probe binary");
        assert_eq!(
            detect(&load, &bin),
            LoadKind::Multiboot,
            "header with address fields"
        );
        bin[8] ^= 0xff;
        assert_eq!(detect(&load, &bin), LoadKind::Raw);
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

    fn try_load(kind: LoadKind, addr: Option<u64>, data: &[u8]) -> Result<Entry, Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("image");
        std::fs::write(&path, data).expect("write");
        let spec = VmSpec {
            loads: vec![Load { kind, addr, path }],
            ..Default::default()
        };
        load(&spec, &memory())
    }

    #[test]
    fn hostile_images_are_errors_not_panics() {
        let elf = probe();
        let kinds = [
            LoadKind::Auto,
            LoadKind::Pvh,
            LoadKind::Multiboot,
            LoadKind::Elf64,
            LoadKind::Bzimage,
            LoadKind::Ifs,
            LoadKind::Raw,
        ];
        let mut cuts: Vec<usize> = (0..200).step_by(7).collect();
        cuts.extend([0x1000, 0x1010, 0x1100, elf.len() - 1]);
        for kind in kinds {
            for &n in &cuts {
                let _ = try_load(kind, Some(0x10_0000), &elf[..n.min(elf.len())]);
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
        let e = try_load(LoadKind::Auto, None, &mb).expect_err("bss beyond memory");
        assert!(
            e.to_string().contains("bss_end_addr beyond guest memory"),
            "{e}"
        );
        // header_addr below load_addr
        mb[12..16].copy_from_slice(&0x1000u32.to_le_bytes());
        let e = try_load(LoadKind::Multiboot, None, &mb).expect_err("bad address fields");
        assert!(e.to_string().contains("header below load_addr"), "{e}");
        // an IFS image whose image_paddr is outside RAM
        let mut ifs = vec![0u8; 512];
        ifs[0..4].copy_from_slice(&IFS_SIGNATURE.to_le_bytes());
        ifs[4] = 1;
        ifs[8..10].copy_from_slice(&256u16.to_le_bytes());
        ifs[10] = 62;
        ifs[20..24].copy_from_slice(&0xe000_0000u32.to_le_bytes());
        ifs[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = try_load(LoadKind::Auto, None, &ifs).expect_err("outside RAM");
        assert!(e.to_string().contains("not inside guest ram/rom"), "{e}");
        // the probe loads in every mode
        for kind in [LoadKind::Pvh, LoadKind::Multiboot, LoadKind::Elf64] {
            let entry = try_load(kind, None, &elf).expect("probe loads");
            assert!(
                entry.rip >= 0x10_0000 && entry.rip < 0x11_0000,
                "{kind:?} {entry:?}"
            );
        }
    }
}
