//! The GDT and the identity-mapped page tables (first 4 GiB, 2 MiB pages)
//! a 64-bit entry needs.

use super::{GDT, PD, PDPT, PML4};
use crate::Error;
use crate::memory::Memory;

pub(super) fn write_gdt(mem: &Memory) -> Result<(), Error> {
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

pub(super) fn write_page_tables(mem: &Memory) -> Result<(), Error> {
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
