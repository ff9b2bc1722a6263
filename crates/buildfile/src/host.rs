//! The build machine's files: search-path lookup and ELF identification.

use crate::{ByteOrder, ElfInfo, ElfKind};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, ReadCache, ReadRef, elf};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Looks names up in directories, reading each directory's listing once.
///
/// A buildfile names hundreds of files, each searched along a path of eight
/// or more directories; one `readdir` per directory instead of one `stat`
/// per (name, directory) pair keeps resolving fast on large buildfiles.
#[derive(Debug, Default)]
pub struct HostFs {
    listings: HashMap<PathBuf, Option<Rc<HashSet<OsString>>>>,
}

impl HostFs {
    /// An empty cache.
    pub fn new() -> HostFs {
        HostFs::default()
    }

    fn listing(&mut self, dir: &Path) -> Option<Rc<HashSet<OsString>>> {
        if let Some(l) = self.listings.get(dir) {
            return l.clone();
        }
        let l = std::fs::read_dir(dir).ok().map(|rd| {
            Rc::new(
                rd.filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect::<HashSet<_>>(),
            )
        });
        self.listings.insert(dir.to_path_buf(), l.clone());
        l
    }

    /// True when `path` names an entry of its directory (following nothing).
    pub fn exists(&mut self, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            // "/" or a path ending in "..": ask the file system.
            return path.symlink_metadata().is_ok();
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        self.listing(parent).is_some_and(|l| l.contains(name))
    }

    /// Finds `name` (a relative path) in the first of `dirs` that holds it.
    pub fn find_in(&mut self, name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
        for d in dirs {
            let p = d.join(name);
            if self.exists(&p) {
                return Some(p);
            }
        }
        None
    }

    /// A search path whose directory listings are looked up once, so that
    /// finding a plain name costs one hash per directory.
    pub fn search_path(&mut self, dirs: Vec<PathBuf>) -> SearchPath {
        let listings = dirs.iter().map(|d| self.listing(d)).collect();
        SearchPath { dirs, listings }
    }
}

/// Directories searched in order, with their listings (see
/// [`HostFs::search_path`]).
#[derive(Debug)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
    listings: Vec<Option<Rc<HashSet<OsString>>>>,
}

impl SearchPath {
    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Finds `name` (a relative path) in the first directory that holds it.
    pub fn find(&self, fs: &mut HostFs, name: &str) -> Option<PathBuf> {
        if name.contains('/') || name == "." || name == ".." || name.is_empty() {
            return fs.find_in(name, &self.dirs);
        }
        let key = std::ffi::OsStr::new(name);
        self.dirs
            .iter()
            .zip(&self.listings)
            .find(|(_, l)| l.as_ref().is_some_and(|l| l.contains(key)))
            .map(|(d, _)| d.join(name))
    }
}

/// Reads a whole host file that must be a regular file: a FIFO, device or
/// directory is an error, never a read that blocks or never ends.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or directory)",
        ));
    }
    std::fs::read(path)
}

/// Reads the ELF identity of a file: `Ok(None)` when it is not ELF (or is
/// an ELF file too damaged to read, or not a regular file: a FIFO is never
/// opened). Only the header, the program headers and the dynamic segment are
/// read.
pub fn elf_info(path: &Path) -> std::io::Result<Option<ElfInfo>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let mut f = File::open(path)?;
    let mut ident = [0u8; 6];
    let mut n = 0;
    while n < ident.len() {
        match f.read(&mut ident[n..])? {
            0 => return Ok(None),
            k => n += k,
        }
    }
    if &ident[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let cache = ReadCache::new(f);
    Ok(match ident[4] {
        x if x == elf::ELFCLASS32.0 => parse::<elf::FileHeader32<Endianness>, _>(&cache),
        x if x == elf::ELFCLASS64.0 => parse::<elf::FileHeader64<Endianness>, _>(&cache),
        _ => None,
    })
}

/// The ELF identity of bytes in memory (for inline files and tests).
pub fn elf_info_bytes(data: &[u8]) -> Option<ElfInfo> {
    if data.len() < 6 || &data[..4] != b"\x7fELF" {
        return None;
    }
    match data[4] {
        x if x == elf::ELFCLASS32.0 => parse::<elf::FileHeader32<Endianness>, _>(data),
        x if x == elf::ELFCLASS64.0 => parse::<elf::FileHeader64<Endianness>, _>(data),
        _ => None,
    }
}

fn parse<'data, Elf, R>(data: R) -> Option<ElfInfo>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let h = Elf::parse(data).ok()?;
    let endian = h.endian().ok()?;
    let kind = match h.e_type(endian) {
        elf::ET_REL => ElfKind::Relocatable,
        elf::ET_EXEC => ElfKind::Executable,
        elf::ET_DYN => ElfKind::Shared,
        _ => ElfKind::Other,
    };
    let mut has_interp = false;
    let mut writable = false;
    let mut loads: Vec<(u64, u64, u64)> = Vec::new();
    let mut dynamic = None;
    if let Ok(phdrs) = h.program_headers(endian, data) {
        for ph in phdrs {
            let t = ph.p_type(endian);
            if t == elf::PT_INTERP {
                has_interp = true;
            } else if t == elf::PT_LOAD {
                writable |= ph.p_flags(endian).0 & elf::PF_W.0 != 0;
                loads.push((
                    ph.p_vaddr(endian).into(),
                    ph.p_offset(endian).into(),
                    ph.p_filesz(endian).into(),
                ));
            } else if t == elf::PT_DYNAMIC {
                dynamic = ph.dynamic(endian, data).ok().flatten();
            }
        }
    }
    let soname = dynamic.and_then(|dyns| {
        let mut strtab = None;
        let mut soname = None;
        for d in dyns {
            let tag = d.d_tag(endian);
            let val: u64 = d.d_val(endian).into();
            if tag == elf::DT_STRTAB {
                strtab = Some(val);
            } else if tag == elf::DT_SONAME {
                soname = Some(val);
            } else if tag == elf::DT_NULL {
                break;
            }
        }
        let (strtab, soname) = (strtab?, soname?);
        // The string table is given as an address: find its file offset.
        let (vaddr, offset, _) = loads
            .iter()
            .find(|(v, _, sz)| strtab >= *v && strtab < v.saturating_add(*sz))?;
        let at = offset.checked_add(strtab - vaddr)?.checked_add(soname)?;
        let end = at.checked_add(4096)?;
        let bytes = data.read_bytes_at_until(at..end, 0).ok()?;
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    });
    Some(ElfInfo {
        machine: h.e_machine(endian).0,
        kind,
        byte_order: if h.is_little_endian() {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        },
        is_64: h.is_class_64(),
        has_interp,
        soname,
        entry: h.e_entry(endian).into(),
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_cache_finds_files_in_search_order() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("x"), "1").unwrap();
        std::fs::write(a.join("sub/y"), "2").unwrap();
        let mut fs = HostFs::new();
        let dirs = vec![a.clone(), b.clone()];
        assert_eq!(fs.find_in("x", &dirs), Some(b.join("x")));
        assert_eq!(fs.find_in("sub/y", &dirs), Some(a.join("sub/y")));
        assert_eq!(fs.find_in("z", &dirs), None);
        assert_eq!(fs.find_in("nodir/z", &dirs), None);
    }

    #[test]
    fn the_test_binary_itself_is_an_x86_64_elf() {
        let exe = std::env::current_exe().unwrap();
        let info = elf_info(&exe).unwrap().unwrap();
        assert_eq!(info.machine, 62);
        assert!(info.is_64);
        assert_eq!(info.byte_order, ByteOrder::Little);
        assert!(matches!(info.kind, ElfKind::Shared | ElfKind::Executable));
    }

    #[test]
    fn a_shared_library_has_a_soname() {
        // Every Linux machine has the C library; find it through the test binary's
        // own interpreter search is overkill: look in the usual places.
        let candidates = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/libc.so.6",
            "/usr/lib64/libc.so.6",
        ];
        let path = candidates
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .expect("no libc.so.6 on this machine");
        let info = elf_info(path).unwrap().unwrap();
        assert_eq!(info.kind, ElfKind::Shared);
        assert_eq!(info.soname.as_deref(), Some("libc.so.6"));
    }

    #[test]
    fn non_elf_and_truncated_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        std::fs::write(&p, b"#!/bin/sh\n").unwrap();
        assert_eq!(elf_info(&p).unwrap(), None);
        std::fs::write(&p, b"\x7fELF\x02\x01\x01").unwrap();
        assert_eq!(elf_info(&p).unwrap(), None);
        std::fs::write(&p, b"\x7f").unwrap();
        assert_eq!(elf_info(&p).unwrap(), None);
        assert_eq!(elf_info_bytes(b"\x7fELF\x09\x01"), None);
    }
}
