//! Loading guest images and building the boot protocols' structures.
//!
//! `detect` recognises an image, `images` loads each kind, `params` writes
//! the boot protocols' information structures, `tables` the GDT and the
//! page tables; this module places them and works out the entry.
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

mod detect;
mod images;
mod params;
mod tables;
#[cfg(test)]
mod tests;

use crate::Error;
use crate::memory::Memory;
use crate::spec::{Load, LoadKind, VmSpec};

use images::{Kernel, Proto};

pub(crate) const GDT: u64 = 0x500;
pub(crate) const INFO: u64 = 0x6000;
pub(crate) const MEMMAP: u64 = 0x6100;
pub(crate) const MODULES: u64 = 0x6e00;
pub(crate) const LOADER_NAME: u64 = 0x6f00;
pub(crate) const ZERO_PAGE: u64 = 0x7000;
pub(crate) const PML4: u64 = 0x9000;
pub(crate) const PDPT: u64 = 0xa000;
pub(crate) const PD: u64 = 0xb000;
pub(crate) const CMDLINE: u64 = 0x2_0000;
const CMDLINE_MAX: usize = 0x1_0000;
const LOW_END: u64 = 0x3_0000;
pub(crate) const MEMMAP_MAX: usize = (MODULES - MEMMAP) as usize / 24;

/// Multiboot's magic in `eax`.
pub(crate) const MULTIBOOT_EAX: u32 = 0x2bad_b002;

/// The CPU state the guest starts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
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
pub(crate) struct Entry {
    /// The first instruction.
    pub rip: u64,
    /// Mode and registers.
    pub mode: Mode,
    /// Human-readable protocol name.
    pub protocol: &'static str,
}

fn img(load: &Load, msg: impl Into<String>) -> Error {
    Error::Image {
        path: load.path.display().to_string(),
        msg: msg.into(),
    }
}

/// What [`load`] says when no `load` line is an image to boot.
pub(crate) const NO_IMAGE: &str = "no bootable image: add a `load` line";

/// The boot structures need RAM at 0–[`LOW_END`]: the message when the
/// regions do not give it.
pub(crate) fn low_ram_missing(regions: &[crate::spec::MemRegion]) -> Option<String> {
    (!crate::memory::covers(regions, 0, LOW_END))
        .then(|| format!("the boot structures need RAM at 0x0-{LOW_END:#x} (e.g. `ram 0,0xa0000`)"))
}

/// The command line must fit its page and hold no NUL: the message when not.
pub(crate) fn cmdline_problem(spec: &VmSpec) -> Option<String> {
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
pub(crate) fn has_image(spec: &VmSpec) -> bool {
    spec.loads.iter().any(|l| l.kind == LoadKind::Image)
}

/// Load every `load` of the spec and prepare the boot protocol; returns the
/// boot vCPU's entry.
pub(crate) fn load(spec: &VmSpec, mem: &Memory, platform: &Platform) -> Result<Entry, Error> {
    if let Some(msg) = low_ram_missing(&mem.regions) {
        return Err(Error::Config(msg));
    }
    if !has_image(spec) {
        return Err(Error::Config(NO_IMAGE.into()));
    }
    let (kernel, initrds) = load_files(spec, mem)?;
    let cmdline = spec.cmdline.as_deref().unwrap_or("");
    if let Some(msg) = cmdline_problem(spec) {
        return Err(Error::Config(msg));
    }
    let mut c = cmdline.as_bytes().to_vec();
    c.push(0);
    mem.write(CMDLINE, &c, "cmdline")?;
    let modules = place_initrds(&kernel, initrds, mem)?;
    tables::write_gdt(mem)?;
    enter(&kernel, mem, &modules, cmdline.len(), platform)
}

/// What the machine adds to the boot information: address ranges the
/// memory map marks reserved (the ECAM window, firmware tables in RAM) and
/// where the ACPI RSDP is.
#[derive(Clone, Debug, Default)]
pub(crate) struct Platform {
    /// (start, size) of each reserved range.
    pub reserved: Vec<(u64, u64)>,
    /// The RSDP, when the VM has ACPI tables.
    pub rsdp: Option<u64>,
}

/// The memory map with `reserved` cut out of RAM and listed as reserved.
fn with_reserved(map: Vec<(u64, u64, u32)>, reserved: &[(u64, u64)]) -> Vec<(u64, u64, u32)> {
    let mut out = Vec::new();
    for (start, size, ty) in map {
        let mut pieces = vec![(start, start + size)];
        if ty == 1 {
            for &(r, len) in reserved {
                pieces = pieces
                    .into_iter()
                    .flat_map(|(a, b)| {
                        let (c, d) = (r.max(a), (r + len).min(b));
                        if c >= d {
                            vec![(a, b)]
                        } else {
                            vec![(a, c), (d, b)]
                        }
                    })
                    .filter(|(a, b)| a < b)
                    .collect();
            }
        }
        out.extend(pieces.into_iter().map(|(a, b)| (a, b - a, ty)));
    }
    out.extend(reserved.iter().map(|&(a, len)| (a, len, 2)));
    out.sort_unstable();
    out
}

/// An initrd's `load` line and its bytes.
type Initrd<'a> = (&'a Load, Vec<u8>);

/// Read every `load` file: images are loaded (the first is the one booted),
/// data is copied to its address, initrds are returned to be placed.
fn load_files<'a>(spec: &'a VmSpec, mem: &Memory) -> Result<(Kernel, Vec<Initrd<'a>>), Error> {
    let ram_total: u64 = mem.map().iter().filter(|r| r.2 == 1).map(|r| r.1).sum();
    let mut kernel: Option<Kernel> = None;
    let mut initrds = Vec::new();
    for load in &spec.loads {
        let path = load.path.display().to_string();
        let file_err = |source| Error::File {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&load.path).map_err(file_err)?;
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
        let data = std::fs::read(&load.path).map_err(file_err)?;
        match load.kind {
            LoadKind::Data => {
                let addr = load
                    .addr
                    .ok_or_else(|| img(load, "`data load` needs an address: ADDR,FILE"))?;
                mem.write(addr, &data, &path)?;
            }
            LoadKind::Initrd => initrds.push((load, data)),
            LoadKind::Acpi | LoadKind::Fdt => {
                return Err(img(
                    load,
                    "`acpi load` and `fdt load` are not supported by this VMM",
                ));
            }
            LoadKind::Image => {
                let format = detect::detect(load, &data);
                let k = images::load_image(load, format, &data, mem)?;
                if kernel.is_none() {
                    kernel = Some(k);
                }
            }
        }
    }
    let kernel = kernel.ok_or_else(|| Error::Config(NO_IMAGE.into()))?;
    Ok((kernel, initrds))
}

/// Copy the initrds (modules) above the kernel, below 4 GiB and the
/// kernel's `initrd_addr_max`, unless their `load` line gives an address;
/// returns (address, size) of each.
fn place_initrds(
    kernel: &Kernel,
    initrds: Vec<Initrd<'_>>,
    mem: &Memory,
) -> Result<Vec<(u64, u64)>, Error> {
    let mut modules = Vec::new();
    let mut floor = kernel.end.max(0x10_0000);
    let initrd_max = if kernel.proto == Proto::Linux {
        u64::from(detect::u32_at(&kernel.setup, 0x22c - 0x1f1).unwrap_or(0x37ff_ffff)).max(0xfff)
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
    Ok(modules)
}

/// Write the kernel's boot protocol structures; returns its entry.
fn enter(
    kernel: &Kernel,
    mem: &Memory,
    modules: &[(u64, u64)],
    cmdline_len: usize,
    platform: &Platform,
) -> Result<Entry, Error> {
    let map = with_reserved(mem.map(), &platform.reserved);
    let rsdp = platform.rsdp.unwrap_or(0);
    let (rip, protocol) = (kernel.entry, kernel.name);
    let mode = match kernel.proto {
        Proto::Pvh => {
            params::write_start_info(mem, &map, modules, rsdp)?;
            Mode::Protected32 {
                eax: 0,
                ebx: INFO as u32,
            }
        }
        Proto::Elf64 => {
            params::write_start_info(mem, &map, modules, rsdp)?;
            tables::write_page_tables(mem)?;
            Mode::Long64 { rbx: INFO, rsi: 0 }
        }
        Proto::Multiboot | Proto::Entry32 => {
            params::write_multiboot_info(mem, &map, modules)?;
            Mode::Protected32 {
                eax: MULTIBOOT_EAX,
                ebx: INFO as u32,
            }
        }
        Proto::Linux => {
            params::write_zero_page(
                mem,
                &kernel.setup,
                &map,
                modules.first().copied(),
                cmdline_len,
                rsdp,
            )?;
            tables::write_page_tables(mem)?;
            Mode::Long64 {
                rbx: 0,
                rsi: ZERO_PAGE,
            }
        }
    };
    Ok(Entry {
        rip,
        mode,
        protocol,
    })
}
