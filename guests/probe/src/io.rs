//! Port I/O and memory-mapped accesses of every width, for every check.
//! Addresses are guest-physical: the probe identity-maps the first 4 GiB.

use core::arch::asm;

pub(crate) fn outb(port: u16, v: u8) {
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("out dx, al", in("dx") port, in("al") v, options(nostack, preserves_flags)) }
}
pub(crate) fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nostack, preserves_flags)) }
    v
}
pub(crate) fn outw(port: u16, v: u16) {
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") v, options(nostack, preserves_flags)) }
}
pub(crate) fn inw(port: u16) -> u16 {
    let v: u16;
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("in ax, dx", in("dx") port, out("ax") v, options(nostack, preserves_flags)) }
    v
}
pub(crate) fn outl(port: u16, v: u32) {
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nostack, preserves_flags)) }
}
pub(crate) fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: port I/O in ring 0 of our own guest.
    unsafe { asm!("in eax, dx", in("dx") port, out("eax") v, options(nostack, preserves_flags)) }
    v
}
pub(crate) fn rd8(addr: u64) -> u8 {
    // SAFETY: an identity-mapped guest-physical address (RAM, a device window
    // or an unbacked address the VMM answers).
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}
pub(crate) fn wr8(addr: u64, v: u8) {
    // SAFETY: as rd8.
    unsafe { core::ptr::write_volatile(addr as *mut u8, v) }
}
pub(crate) fn rd16(addr: u64) -> u16 {
    // SAFETY: as rd8.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}
pub(crate) fn wr16(addr: u64, v: u16) {
    // SAFETY: as rd8.
    unsafe { core::ptr::write_volatile(addr as *mut u16, v) }
}
pub(crate) fn rd32(addr: u64) -> u32 {
    // SAFETY: as rd8.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}
pub(crate) fn wr32(addr: u64, v: u32) {
    // SAFETY: as rd8.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}
pub(crate) fn rd64(addr: u64) -> u64 {
    // SAFETY: as rd8.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}
pub(crate) fn wr64(addr: u64, v: u64) {
    // SAFETY: as rd8.
    unsafe { core::ptr::write_volatile(addr as *mut u64, v) }
}
