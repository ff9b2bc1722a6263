//! Just enough ELF for mkifs's processing: the header and the program
//! headers (read with the `object` crate, which checks every offset against
//! the file), loading the loadable segments, and rewriting `p_paddr`.

use crate::endian::Endian;
use object::Endianness;
use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, ProgramHeader};

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
        match b.get(4) {
            Some(1) => header::<FileHeader32<Endianness>>(b),
            Some(2) => header::<FileHeader64<Endianness>>(b),
            _ => Err("unknown ELF class".into()),
        }
    }

    /// The program headers.
    pub fn segments(&self, b: &[u8]) -> Result<Vec<Segment>, String> {
        if self.is64 {
            segments::<FileHeader64<Endianness>>(self, b)
        } else {
            segments::<FileHeader32<Endianness>>(self, b)
        }
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

/// The header fields of an ELF file of class `H`.
fn header<H: FileHeader<Endian = Endianness>>(b: &[u8]) -> Result<Elf, String> {
    let h = H::parse(b).map_err(|_| "the ELF header is truncated".to_string())?;
    let e = h
        .endian()
        .map_err(|_| "unknown ELF byte order".to_string())?;
    Ok(Elf {
        is64: h.is_class_64(),
        endian: if h.is_little_endian() {
            Endian::Little
        } else {
            Endian::Big
        },
        e_type: h.e_type(e).0,
        machine: h.e_machine(e).0,
        entry: h.e_entry(e).into(),
        phoff: h.e_phoff(e).into(),
        phentsize: h.e_phentsize(e),
        phnum: h.e_phnum(e),
    })
}

/// The program headers of an ELF file of class `H` whose header is `elf`.
fn segments<H: FileHeader<Endian = Endianness>>(
    elf: &Elf,
    b: &[u8],
) -> Result<Vec<Segment>, String> {
    let h = H::parse(b).map_err(|_| "the ELF header is truncated".to_string())?;
    let e = h
        .endian()
        .map_err(|_| "unknown ELF byte order".to_string())?;
    let phdrs = h
        .program_headers(e, b)
        .map_err(|err| format!("the program headers cannot be read: {err}"))?;
    let size = u64::from(elf.phentsize);
    let mut out = Vec::with_capacity(phdrs.len());
    for (i, ph) in phdrs.iter().enumerate() {
        let at = elf
            .phoff
            .checked_add(i as u64 * size)
            .and_then(|a| usize::try_from(a).ok())
            .ok_or("program header offset overflows")?;
        out.push(Segment {
            p_type: ph.p_type(e).0,
            offset: ph.p_offset(e).into(),
            vaddr: ph.p_vaddr(e).into(),
            paddr: ph.p_paddr(e).into(),
            filesz: ph.p_filesz(e).into(),
            memsz: ph.p_memsz(e).into(),
            header_at: at,
        });
    }
    Ok(out)
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

/// A one-segment ELF file to write: what [`write()`] makes.
#[derive(Debug, Clone, Copy)]
pub struct OneSegment<'c> {
    /// ELFCLASS64 (else ELFCLASS32).
    pub is64: bool,
    /// Byte order.
    pub endian: Endian,
    /// `e_type` ([`ET_EXEC`], `ET_DYN`, ...).
    pub e_type: u16,
    /// `e_machine`.
    pub machine: u16,
    /// `e_entry`.
    pub entry: u64,
    /// `p_vaddr` and `p_paddr` of the one `PT_LOAD`.
    pub addr: u64,
    /// `p_flags` (4 read, 2 write, 1 execute).
    pub flags: u32,
    /// The segment's bytes (`p_filesz`); `p_memsz` adds `bss` zero bytes.
    pub code: &'c [u8],
    /// Bytes of `.bss` after the code.
    pub bss: u64,
}

/// The bytes of an ELF file with one `PT_LOAD` holding `s.code` right
/// after the headers.
pub fn write(s: &OneSegment<'_>) -> Vec<u8> {
    let e = s.endian;
    let (w, ehsize, phsize) = if s.is64 {
        (8, 64u64, 56u64)
    } else {
        (4, 52, 32)
    };
    let mut b = vec![0x7f, b'E', b'L', b'F', if s.is64 { 2 } else { 1 }];
    b.push(if e == Endian::Big { 2 } else { 1 });
    b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let put = |b: &mut Vec<u8>, v: u64, n: usize| match n {
        2 => b.extend_from_slice(&e.put_u16(v as u16)),
        4 => b.extend_from_slice(&e.put_u32(v as u32)),
        _ => b.extend_from_slice(&e.put_u64(v)),
    };
    let at = ehsize + phsize;
    let (len, mem) = (s.code.len() as u64, s.code.len() as u64 + s.bss);
    for (v, n) in [(s.e_type.into(), 2), (s.machine.into(), 2), (1, 4)] {
        put(&mut b, v, n);
    }
    for (v, n) in [(s.entry, w), (ehsize, w), (0, w), (0, 4), (ehsize, 2)] {
        put(&mut b, v, n);
    }
    for (v, n) in [
        (phsize, 2),
        (1, 2),
        (0, 2),
        (0, 2),
        (0, 2),
        (PT_LOAD.into(), 4),
    ] {
        put(&mut b, v, n);
    }
    let flags = (u64::from(s.flags), 4);
    let rest: &[(u64, usize)] = if s.is64 {
        &[
            flags,
            (at, 8),
            (s.addr, 8),
            (s.addr, 8),
            (len, 8),
            (mem, 8),
            (16, 8),
        ]
    } else {
        &[
            (at, 4),
            (s.addr, 4),
            (s.addr, 4),
            (len, 4),
            (mem, 4),
            flags,
            (16, 4),
        ]
    };
    for &(v, n) in rest {
        put(&mut b, v, n);
    }
    debug_assert_eq!(b.len() as u64, at);
    b.extend_from_slice(s.code);
    b
}
