//! Just enough ELF for mkifs's processing: the header, the program headers,
//! loading the loadable segments, and rewriting `p_paddr`. Every offset is
//! checked against the file.

use crate::endian::{Endian, Fields};

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `ET_REL`.
pub const ET_REL: u16 = 1;
/// `ET_EXEC`.
pub const ET_EXEC: u16 = 2;

/// An ELF file's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elf {
    /// ELFCLASS64.
    pub is64: bool,
    /// Byte order.
    pub endian: Endian,
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub machine: u16,
    /// `e_entry`.
    pub entry: u64,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
}

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// `p_type`.
    pub p_type: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_paddr`.
    pub paddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// Offset of this program header in the file.
    pub header_at: usize,
}

impl Elf {
    /// Parses the ELF header of `b`; `Err` says what is wrong.
    pub fn parse(b: &[u8]) -> Result<Elf, String> {
        if !b.starts_with(b"\x7fELF") {
            return Err("not an ELF file".into());
        }
        let is64 = match b.u8_at(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err("unknown ELF class".into()),
        };
        let endian = match b.u8_at(5) {
            Some(1) => Endian::Little,
            Some(2) => Endian::Big,
            _ => return Err("unknown ELF byte order".into()),
        };
        let short = || "the ELF header is truncated".to_string();
        let e = endian;
        let (entry, phoff, phentsize, phnum) = if is64 {
            (
                word(b, e, 24, true).ok_or_else(short)?,
                word(b, e, 32, true).ok_or_else(short)?,
                b.u16_at(e, 54).ok_or_else(short)?,
                b.u16_at(e, 56).ok_or_else(short)?,
            )
        } else {
            (
                word(b, e, 24, false).ok_or_else(short)?,
                word(b, e, 28, false).ok_or_else(short)?,
                b.u16_at(e, 42).ok_or_else(short)?,
                b.u16_at(e, 44).ok_or_else(short)?,
            )
        };
        Ok(Elf {
            is64,
            endian,
            e_type: b.u16_at(e, 16).ok_or_else(short)?,
            machine: b.u16_at(e, 18).ok_or_else(short)?,
            entry,
            phoff,
            phentsize,
            phnum,
        })
    }

    /// The program headers.
    pub fn segments(&self, b: &[u8]) -> Result<Vec<Segment>, String> {
        let min = if self.is64 { 56 } else { 32 };
        if self.phnum > 0 && (self.phentsize as usize) < min {
            return Err(format!(
                "program header size {} is too small",
                self.phentsize
            ));
        }
        let mut out = Vec::with_capacity(self.phnum as usize);
        for i in 0..self.phnum as u64 {
            let at = self
                .phoff
                .checked_add(i * self.phentsize as u64)
                .and_then(|a| usize::try_from(a).ok())
                .ok_or("program header offset overflows")?;
            let bad = || format!("program header {i} lies outside the file");
            let h = b.get(at..).ok_or_else(bad)?;
            let e = self.endian;
            let s = if self.is64 {
                Segment {
                    p_type: h.u32_at(e, 0).ok_or_else(bad)?,
                    offset: word(h, e, 8, true).ok_or_else(bad)?,
                    vaddr: word(h, e, 16, true).ok_or_else(bad)?,
                    paddr: word(h, e, 24, true).ok_or_else(bad)?,
                    filesz: word(h, e, 32, true).ok_or_else(bad)?,
                    memsz: word(h, e, 40, true).ok_or_else(bad)?,
                    header_at: at,
                }
            } else {
                Segment {
                    p_type: h.u32_at(e, 0).ok_or_else(bad)?,
                    offset: word(h, e, 4, false).ok_or_else(bad)?,
                    vaddr: word(h, e, 8, false).ok_or_else(bad)?,
                    paddr: word(h, e, 12, false).ok_or_else(bad)?,
                    filesz: word(h, e, 16, false).ok_or_else(bad)?,
                    memsz: word(h, e, 20, false).ok_or_else(bad)?,
                    header_at: at,
                }
            };
            out.push(s);
        }
        Ok(out)
    }

    /// Rewrites the `p_paddr` of the program header at `header_at`.
    pub fn set_paddr(&self, b: &mut [u8], header_at: usize, paddr: u64) {
        let (off, n) = if self.is64 { (24, 8) } else { (12, 4) };
        let Some(dst) = b.get_mut(header_at + off..header_at + off + n) else {
            return;
        };
        if self.is64 {
            dst.copy_from_slice(&self.endian.put_u64(paddr));
        } else {
            dst.copy_from_slice(&self.endian.put_u32(paddr as u32));
        }
    }
}

fn word(b: &[u8], e: Endian, off: usize, is64: bool) -> Option<u64> {
    if is64 {
        b.bytes_at(off, 8)
            .and_then(|x| x.try_into().ok())
            .map(|x| e.u64(x))
    } else {
        b.u32_at(e, off).map(u64::from)
    }
}

/// The most memory a loaded startup program may span (256 MiB).
pub const MAX_LOADED: u64 = 256 << 20;

/// A program's loadable segments laid out in memory from their lowest
/// physical address: `(base paddr, bytes)`; `.bss` is zero-filled.
pub fn load(b: &[u8]) -> Result<(Elf, u64, Vec<u8>), String> {
    let elf = Elf::parse(b)?;
    let segs: Vec<Segment> = elf
        .segments(b)?
        .into_iter()
        .filter(|s| s.p_type == PT_LOAD && s.memsz > 0)
        .collect();
    let base = segs
        .iter()
        .map(|s| s.paddr)
        .min()
        .ok_or("the program has no loadable segment")?;
    let end = segs
        .iter()
        .map(|s| s.paddr.saturating_add(s.memsz))
        .max()
        .unwrap_or(base);
    if end - base > MAX_LOADED {
        return Err(format!(
            "its segments span {:#x} bytes (from {base:#x}); at most {MAX_LOADED:#x} can be loaded",
            end - base
        ));
    }
    let mut mem = vec![0u8; (end - base) as usize];
    for s in &segs {
        if s.filesz > s.memsz {
            return Err("a segment's file size exceeds its memory size".into());
        }
        let src = usize::try_from(s.offset)
            .ok()
            .and_then(|o| b.get(o..o.checked_add(s.filesz as usize)?))
            .ok_or("a segment's data lies outside the file")?;
        let at = (s.paddr - base) as usize;
        mem[at..at + src.len()].copy_from_slice(src);
    }
    Ok((elf, base, mem))
}
