//! Guest memory: RAM and ROM regions backed by anonymous mappings, given to
//! KVM as memory slots (ROM read-only), and the guest's memory map; and the
//! shared-memory regions devices attach while the guest runs ([`Mapper`]),
//! each a file mapping in a slot of its own after those of RAM and ROM.

#![allow(unsafe_code, reason = "guest memory mapped into the VMM")]

use std::sync::{Arc, Mutex};

use kvm_bindings::{KVM_MEM_READONLY, kvm_userspace_memory_region};
use kvm_ioctls::VmFd;
use vm_memory::{
    FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MmapRegion,
};

use crate::spec::{MemKind, MemRegion};
use crate::{Error, kvm_err};

/// e820 / PVH / multiboot memory type of usable RAM.
pub(crate) const TYPE_RAM: u32 = 1;
/// ... of reserved ranges.
pub(crate) const TYPE_RESERVED: u32 = 2;

/// The guest's memory.
pub(crate) struct Memory {
    /// RAM and ROM, as one collection of mappings.
    pub mem: GuestMemoryMmap,
    /// The regions of the spec, sorted by address.
    pub regions: Vec<MemRegion>,
    /// Regions attached while the guest runs: (guest address, mapping).
    attached: Mutex<Vec<(u64, MmapRegion)>>,
}

/// Mappings a VM can attach at run time.
pub(crate) const MAX_ATTACHED: usize = 32;
/// The guest addresses attached regions may use: below 512 GiB, which
/// every x86_64 host's physical address width covers.
pub(crate) const ATTACH_LIMIT: u64 = 1 << 39;

fn meets(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    a < b.saturating_add(blen) && b < a.saturating_add(alen)
}

/// True if `[addr, addr+len)` is RAM or ROM of `regions` (possibly several
/// adjacent regions).
pub(crate) fn covers(regions: &[MemRegion], addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    let mut at = addr;
    loop {
        let Some(r) = regions.iter().find(|r| {
            r.kind != MemKind::Reserve && r.start <= at && at < r.start.saturating_add(r.size)
        }) else {
            return false;
        };
        at = r.start.saturating_add(r.size);
        if at >= end {
            return true;
        }
    }
}

/// The rules of a memory layout, before anything is mapped: no region
/// beyond the 64-bit address space, no overlaps, RAM and ROM in whole 4 KiB
/// pages, some RAM. On error: the index in `spec` of the region at fault
/// (none for a VM without RAM) and the message.
pub(crate) fn check_layout(spec: &[MemRegion]) -> Result<(), (Option<usize>, String)> {
    if let Some((i, r)) = spec
        .iter()
        .enumerate()
        .find(|(_, r)| r.size > 0 && r.start.checked_add(r.size).is_none())
    {
        return Err((
            Some(i),
            format!(
                "{:?} {:#x},{:#x} reaches beyond the 64-bit address space",
                r.kind, r.start, r.size
            ),
        ));
    }
    let mut order: Vec<usize> = (0..spec.len()).filter(|&i| spec[i].size > 0).collect();
    order.sort_by_key(|&i| spec[i].start);
    for w in order.windows(2) {
        let (a, b) = (&spec[w[0]], &spec[w[1]]);
        if a.start.checked_add(a.size).is_none_or(|e| e > b.start) {
            return Err((
                Some(w[1]),
                format!(
                    "memory regions overlap: {:?} {:#x},{:#x} and {:?} {:#x},{:#x}",
                    a.kind, a.start, a.size, b.kind, b.start, b.size
                ),
            ));
        }
    }
    for &i in &order {
        let r = &spec[i];
        if r.kind == MemKind::Reserve {
            continue;
        }
        if !r.start.is_multiple_of(4096) || !r.size.is_multiple_of(4096) {
            return Err((
                Some(i),
                format!(
                    "{:?} {:#x},{:#x}: start and size must be multiples of 4 KiB",
                    r.kind, r.start, r.size
                ),
            ));
        }
        if usize::try_from(r.size).is_err() {
            return Err((
                Some(i),
                format!("region of {:#x} bytes is too large", r.size),
            ));
        }
    }
    if !spec.iter().any(|r| r.kind == MemKind::Ram && r.size > 0) {
        return Err((None, "the VM has no `ram`".into()));
    }
    Ok(())
}

impl Memory {
    /// Check the layout ([`check_layout`]) and map RAM and ROM.
    pub(crate) fn new(spec: &[MemRegion]) -> Result<Memory, Error> {
        check_layout(spec).map_err(|(_, msg)| Error::Config(msg))?;
        let mut regions: Vec<MemRegion> = spec.iter().copied().filter(|r| r.size > 0).collect();
        regions.sort_by_key(|r| r.start);
        let mut ranges: Vec<(GuestAddress, usize)> = Vec::new();
        let mut prev_ram_end: Option<u64> = None;
        for r in &regions {
            if r.kind == MemKind::Reserve {
                continue;
            }
            let size = usize::try_from(r.size).map_err(|_| {
                Error::Config(format!("region of {:#x} bytes is too large", r.size))
            })?;
            // Adjacent RAM regions share one mapping and one KVM slot: each
            // slot costs an SRCU grace period (milliseconds in a nested VM).
            if r.kind == MemKind::Ram
                && prev_ram_end == Some(r.start)
                && let Some((_, len)) = ranges.last_mut()
            {
                *len = len
                    .checked_add(size)
                    .ok_or_else(|| Error::Config("guest memory too large".into()))?;
                prev_ram_end = r.start.checked_add(r.size);
                continue;
            }
            prev_ram_end = if r.kind == MemKind::Ram {
                r.start.checked_add(r.size)
            } else {
                None
            };
            ranges.push((GuestAddress(r.start), size));
        }
        let mem = GuestMemoryMmap::from_ranges(&ranges)
            .map_err(|e| Error::Host(format!("cannot map guest memory: {e}")))?;
        Ok(Memory {
            mem,
            regions,
            attached: Mutex::default(),
        })
    }

    /// Map `len` bytes of `file` read-write at `gpa` in a memory slot of
    /// its own; `busy` are the device ranges it must not cover.
    pub(crate) fn attach(
        &self,
        vm: &VmFd,
        gpa: u64,
        len: u64,
        file: &std::fs::File,
        busy: &[(u64, u64)],
    ) -> Result<(), String> {
        if !gpa.is_multiple_of(4096) || len == 0 || !len.is_multiple_of(4096) {
            return Err(format!("{gpa:#x}+{len:#x} is not in whole 4 KiB pages"));
        }
        if gpa.checked_add(len).is_none_or(|end| end > ATTACH_LIMIT) {
            return Err(format!("{gpa:#x}+{len:#x} goes beyond {ATTACH_LIMIT:#x}"));
        }
        let mut attached = self.attached.lock().map_err(|_| "poisoned".to_string())?;
        if attached.len() >= MAX_ATTACHED {
            return Err(format!("{MAX_ATTACHED} regions are attached already"));
        }
        if let Some(r) = self
            .regions
            .iter()
            .find(|r| meets(gpa, len, r.start, r.size))
        {
            return Err(format!(
                "it meets {:?} {:#x}+{:#x}",
                r.kind, r.start, r.size
            ));
        }
        let taken = attached.iter().map(|(a, m)| (*a, m.size() as u64));
        if let Some((b, blen)) = taken
            .chain(busy.iter().copied())
            .find(|&(b, blen)| meets(gpa, len, b, blen))
        {
            return Err(format!("it meets {b:#x}+{blen:#x}, taken"));
        }
        let size = usize::try_from(len).map_err(|_| "too large".to_string())?;
        let file = file.try_clone().map_err(|e| e.to_string())?;
        let map = MmapRegion::<()>::from_file(FileOffset::new(file, 0), size)
            .map_err(|e| format!("mmap: {e}"))?;
        let slot = u32::try_from(self.mem.num_regions() + attached.len())
            .map_err(|_| "no slot".to_string())?;
        let desc = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: gpa,
            memory_size: len,
            userspace_addr: map.as_ptr() as u64,
        };
        // SAFETY: the mapping lives in `self.attached` for as long as the
        // memory, which outlives the VM's vCPUs; the range meets no other
        // slot (checked above against RAM, ROM and the attached regions).
        unsafe { vm.set_user_memory_region(desc) }.map_err(|e| format!("memory slot: {e}"))?;
        attached.push((gpa, map));
        Ok(())
    }

    /// Hand the regions to KVM.
    pub(crate) fn register(&self, vm: &VmFd) -> Result<(), Error> {
        for (slot, region) in self.mem.iter().enumerate() {
            let start = region.start_addr().0;
            let rom = self
                .regions
                .iter()
                .any(|r| r.kind == MemKind::Rom && r.start == start);
            let host = self
                .mem
                .get_host_address(region.start_addr())
                .map_err(|e| Error::Host(format!("guest memory: {e}")))?;
            let slot_desc = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: if rom { KVM_MEM_READONLY } else { 0 },
                guest_phys_addr: start,
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: the mapping behind `host` lives in `self.mem` for as
            // long as the VM (both are owned by `Vm`, memory dropped last),
            // and the slots do not overlap (checked in `new`).
            unsafe { vm.set_user_memory_region(slot_desc) }.map_err(kvm_err("memory slot"))?;
        }
        Ok(())
    }

    /// (guest start, length, host address) of each mapped region.
    pub(crate) fn host_ranges(&self) -> Vec<(u64, u64, u64)> {
        self.mem
            .iter()
            .filter_map(|r| {
                let host = self.mem.get_host_address(r.start_addr()).ok()?;
                Some((r.start_addr().0, r.len(), host as u64))
            })
            .collect()
    }

    /// True if `[addr, addr+len)` is RAM or ROM (possibly several adjacent regions).
    pub(crate) fn contains(&self, addr: u64, len: u64) -> bool {
        covers(&self.regions, addr, len)
    }

    /// Copy bytes into guest memory (RAM or ROM), bounds-checked.
    pub(crate) fn write(&self, addr: u64, data: &[u8], what: &str) -> Result<(), Error> {
        if !self.contains(addr, data.len() as u64) {
            return Err(Error::Config(format!(
                "{what}: {:#x}..{:#x} is not inside guest ram/rom",
                addr,
                addr.saturating_add(data.len() as u64)
            )));
        }
        vm_memory::Bytes::write_slice(&self.mem, data, GuestAddress(addr))
            .map_err(|e| Error::Host(format!("{what}: {e}")))
    }

    /// The guest's memory map: RAM usable, `reserve` reserved, ROM left out;
    /// (start, size, type), sorted.
    pub(crate) fn map(&self) -> Vec<(u64, u64, u32)> {
        self.regions
            .iter()
            .filter_map(|r| match r.kind {
                MemKind::Ram => Some((r.start, r.size, TYPE_RAM)),
                MemKind::Reserve => Some((r.start, r.size, TYPE_RESERVED)),
                MemKind::Rom => None,
            })
            .collect()
    }

    /// KiB of RAM from 0 (max 640) and contiguous from 1 MiB (multiboot's
    /// mem_lower / mem_upper).
    pub(crate) fn lower_upper_kib(&self) -> (u32, u32) {
        let ram = |at: u64| {
            self.regions
                .iter()
                .find(|r| r.kind == MemKind::Ram && r.start <= at && at < r.start + r.size)
                .map(|r| r.start + r.size - at)
                .unwrap_or(0)
        };
        let lower = ram(0).min(640 * 1024) / 1024;
        let upper = (ram(0x10_0000) / 1024).min(u64::from(u32::MAX));
        (lower as u32, upper as u32)
    }

    /// The highest RAM region end below `limit` with at least `size` bytes
    /// free above `floor`: an address for an initrd.
    pub(crate) fn high_slot(&self, size: u64, floor: u64, limit: u64) -> Option<u64> {
        let mut best = None;
        for r in self.regions.iter().filter(|r| r.kind == MemKind::Ram) {
            let end = (r.start + r.size).min(limit);
            let Some(at) = end.checked_sub(size) else {
                continue;
            };
            let at = at & !0xfff;
            if at >= r.start && at >= floor && best.is_none_or(|b| at > b) {
                best = Some(at);
            }
        }
        best
    }
}

/// What devices map guest memory through ([`vdev::GuestMapper`]): the VM,
/// its memory, and the device ranges a mapping must leave alone.
pub(crate) struct Mapper {
    vm: Arc<VmFd>,
    memory: Arc<Memory>,
    busy: Mutex<Vec<(u64, u64)>>,
}

impl Mapper {
    /// The guest's memory, for devices that read and write it (virtio).
    pub(crate) fn guest_memory(&self) -> vm_memory::GuestMemoryMmap {
        self.memory.mem.clone()
    }

    /// A mapper for `vm`'s `memory`.
    pub(crate) fn new(vm: Arc<VmFd>, memory: Arc<Memory>) -> Mapper {
        Mapper {
            vm,
            memory,
            busy: Mutex::default(),
        }
    }

    /// Keep mappings off `[base, base+len)` (an MMIO device).
    pub(crate) fn reserve(&self, base: u64, len: u64) {
        if let Ok(mut b) = self.busy.lock() {
            b.push((base, len));
        }
    }
}

impl vdev::GuestMapper for Mapper {
    fn map(&self, gpa: u64, len: u64, file: &std::fs::File) -> Result<(), String> {
        let busy = self
            .busy
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .clone();
        self.memory.attach(&self.vm, gpa, len, file, &busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: MemKind, start: u64, size: u64) -> MemRegion {
        MemRegion { kind, start, size }
    }

    #[test]
    fn adjacent_ram_shares_a_slot_rom_does_not() {
        let m = Memory::new(&[
            r(MemKind::Ram, 0x10_0000, 0x10_0000),
            r(MemKind::Ram, 0, 0xa0000),
            r(MemKind::Ram, 0xa0000, 0x20000),
            r(MemKind::Rom, 0xc0000, 0x40000),
            r(MemKind::Ram, 0x20_0000, 0x1000),
        ])
        .expect("memory");
        assert_eq!(m.mem.num_regions(), 3, "0-0xc0000 | rom | 1M-2M+4K");
        assert_eq!(
            m.map().len(),
            4,
            "the guest's map keeps the regions as configured"
        );
        assert!(m.contains(0x9f000, 0x2000));
        assert!(
            m.contains(0xbf000, 0x2000),
            "RAM running into ROM is one range for loads"
        );
        assert!(!m.contains(0x20_1000, 1));
        m.write(0x9fff0, &[1; 32], "test")
            .expect("write across the merged regions");
    }

    #[test]
    fn overlaps_and_alignment_are_config_errors() {
        let e = Memory::new(&[r(MemKind::Ram, 0, 0x2000), r(MemKind::Rom, 0x1000, 0x1000)]);
        assert!(matches!(e, Err(Error::Config(m)) if m.contains("overlap")));
        let e = Memory::new(&[r(MemKind::Ram, 0x800, 0x1000)]);
        assert!(matches!(e, Err(Error::Config(m)) if m.contains("4 KiB")));
        let e = Memory::new(&[r(MemKind::Rom, 0, 0x1000)]);
        assert!(matches!(e, Err(Error::Config(m)) if m.contains("no `ram`")));
        let e = Memory::new(&[r(MemKind::Ram, u64::MAX - 0xfff, 0x2000)]);
        assert!(matches!(e, Err(Error::Config(_))));
    }
}
