//! The boot protocols' information structures: PVH's hvm_start_info,
//! multiboot v1's info, Linux's zero page (boot_params).

use super::detect::u32_at;
use super::{CMDLINE, INFO, LOADER_NAME, MEMMAP, MEMMAP_MAX, MODULES, ZERO_PAGE};
use crate::Error;
use crate::memory::Memory;

const PVH_MAGIC: u32 = 0x336e_c578;

/// A memory map (address, size, E820 type) as the guest sees it.
type Map = [(u64, u64, u32)];

/// Write the memory map at MEMMAP (it must fit below MODULES), each entry
/// as `entry` lays it out; returns its size in bytes.
fn write_map(
    mem: &Memory,
    map: &Map,
    what: &str,
    entry: impl Fn(u64, u64, u32) -> Vec<u8>,
) -> Result<usize, Error> {
    if map.len() > MEMMAP_MAX {
        return Err(Error::Config(format!(
            "more than {MEMMAP_MAX} memory regions"
        )));
    }
    let mut mm = Vec::new();
    for &(a, s, t) in map {
        mm.extend(entry(a, s, t));
    }
    mem.write(MEMMAP, &mm, what)?;
    Ok(mm.len())
}

/// PVH's hvm_start_info at INFO, its memory map and module list.
pub(super) fn write_start_info(
    mem: &Memory,
    map: &Map,
    modules: &[(u64, u64)],
    rsdp: u64,
) -> Result<(), Error> {
    // hvm_memmap_table_entry: addr, size, type, reserved (u32)
    write_map(mem, map, "PVH memory map", |a, s, t| {
        [
            &a.to_le_bytes()[..],
            &s.to_le_bytes(),
            &t.to_le_bytes(),
            &[0; 4],
        ]
        .concat()
    })?;
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
    si.extend_from_slice(&rsdp.to_le_bytes());
    si.extend_from_slice(&MEMMAP.to_le_bytes());
    si.extend_from_slice(&(map.len() as u32).to_le_bytes());
    si.extend_from_slice(&0u32.to_le_bytes());
    mem.write(INFO, &si, "PVH start info")
}

/// Multiboot v1's information structure at INFO, its memory map, modules
/// and loader name.
pub(super) fn write_multiboot_info(
    mem: &Memory,
    map: &Map,
    modules: &[(u64, u64)],
) -> Result<(), Error> {
    // entry: size (20, not counting itself), base, length, type
    let mm_len = write_map(mem, map, "multiboot memory map", |a, s, t| {
        [
            &20u32.to_le_bytes()[..],
            &a.to_le_bytes(),
            &s.to_le_bytes(),
            &t.to_le_bytes(),
        ]
        .concat()
    })?;
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
    mbi[11] = mm_len as u32;
    mbi[12] = MEMMAP as u32;
    mbi[16] = LOADER_NAME as u32;
    let bytes: Vec<u8> = mbi.iter().flat_map(|v| v.to_le_bytes()).collect();
    mem.write(INFO, &bytes, "multiboot info")
}

/// Linux's zero page: the kernel's setup header, the command line, the
/// initrd and the E820 map.
pub(super) fn write_zero_page(
    mem: &Memory,
    setup: &[u8],
    map: &Map,
    initrd: Option<(u64, u64)>,
    cmdline_len: usize,
    rsdp: u64,
) -> Result<(), Error> {
    let mut zp = vec![0u8; 4096];
    zp[0x70..0x78].copy_from_slice(&rsdp.to_le_bytes()); // acpi_rsdp_addr
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
