//! An image read back as a [`Manifest`]: the same model the writer builds
//! from, so that checking a built image and checking its buildfile use the
//! same code. Host paths are gone: every file's bytes are `Inline`.

use crate::format::*;
use crate::read::{Container, Ifs, ReadError};
use crate::script::{self, env_var};
use buildfile::{
    AddrRange, Boot, BootMode, BootProgram, DataSource, Entry, EntryKind, FileAttrs, FileData,
    FileRole, ImageSettings, Manifest, ScriptCommand,
};
use diag::Span;

fn cpu_of(machine: u16, big: bool) -> Option<String> {
    let s = match machine {
        3 => "x86",
        62 => "x86_64",
        40 => {
            if big {
                "armbe-v7"
            } else {
                "armle-v7"
            }
        }
        183 => {
            if big {
                "aarch64be"
            } else {
                "aarch64le"
            }
        }
        _ => return None,
    };
    Some(s.to_string())
}

/// Finds a bootstrap argument block (§8) in `b`: a header whose physical
/// address is `paddr` and whose size matches the strings that follow (and,
/// when given, whose argv[0] is `argv0`). Returns argv and env.
fn find_bootargs(
    b: &[u8],
    e: crate::Endian,
    paddr: u32,
    argv0: Option<&str>,
) -> Option<(Vec<String>, Vec<String>)> {
    let pat = e.put_u32(paddr);
    let mut from = 4;
    while let Some(i) = b.get(from..)?.windows(4).position(|w| w == pat) {
        let at = from + i;
        from = at + 1;
        let h = &b[at - 4..at];
        let size = u16::from_le_bytes([h[0], h[1]]) as usize;
        let (argc, envc) = (h[2] as usize, h[3] as usize);
        if argc == 0 || size < 9 {
            continue;
        }
        let Some(body) = b.get(at + 4..at - 4 + size) else {
            continue;
        };
        let mut strs = Vec::new();
        let mut rest = body;
        for _ in 0..argc + envc {
            let Some(nul) = rest.iter().position(|&c| c == 0) else {
                break;
            };
            strs.push(String::from_utf8_lossy(&rest[..nul]).into_owned());
            rest = &rest[nul + 1..];
        }
        if strs.len() != argc + envc || rest != [0] {
            continue;
        }
        if argv0.is_some_and(|a| strs[0] != a) {
            continue;
        }
        let env = strs.split_off(argc);
        return Some((strs, env));
    }
    None
}

fn entry_of(d: &Dirent<'_>, data: &[u8]) -> Entry {
    let kind = match d.kind {
        DirentKind::File { .. } => EntryKind::File(FileData {
            source: DataSource::Inline {
                bytes: data.to_vec(),
            },
            size: Some(data.len() as u64),
            elf: buildfile::host::elf_info_bytes(data),
            role: FileRole::Plain,
        }),
        DirentKind::Dir => EntryKind::Dir,
        DirentKind::Symlink { target } => EntryKind::Symlink {
            target: String::from_utf8_lossy(target).into_owned(),
        },
        DirentKind::Device { .. } => EntryKind::Fifo,
    };
    Entry {
        path: String::from_utf8_lossy(d.path).into_owned(),
        kind,
        mode: d.mode,
        uid: d.uid,
        gid: d.gid,
        mtime: d.mtime,
        attrs: FileAttrs::default(),
        span: Span::default(),
    }
}

/// The boot block of an image with startup code: the startup program and
/// the bootstrap programs (`entries[i]` has inode `inos[i]`), with the
/// arguments found in their argument blocks.
fn boot_of(
    c: &Container<'_>,
    s: &StartupHeader,
    h: &ImageHeader,
    entries: &mut [Entry],
    inos: &[u32],
    big: bool,
) -> Boot {
    let code = c.startup_region().unwrap_or(&[]);
    let (name, args, env) = match find_bootargs(code, s.endian, s.image_paddr, None) {
        Some((mut a, e)) => (a.remove(0), a, e),
        None => ("startup".to_string(), Vec::new(), Vec::new()),
    };
    let mut bootstrap = Vec::new();
    for (k, ino) in h.boot_ino.iter().enumerate() {
        let Some(i) = (*ino != 0)
            .then(|| inos.iter().position(|&i| i == *ino & !ino_flags::MASK))
            .flatten()
        else {
            continue;
        };
        let e = &mut entries[i];
        let name = e.basename().to_string();
        let mut prog = BootProgram {
            name: name.clone(),
            source: DataSource::Inline { bytes: Vec::new() },
            size: None,
            elf: None,
            args: Vec::new(),
            env: Vec::new(),
            modules: Vec::new(),
            attrs: FileAttrs::default(),
            entry: Some(i),
            span: Span::default(),
        };
        if let EntryKind::File(f) = &mut e.kind {
            f.role = FileRole::Bootstrap(k);
            prog.size = f.size;
            prog.elf = f.elf.clone();
            if let DataSource::Inline { bytes } = &f.source
                && let Some((a, env)) = find_bootargs(bytes, s.endian, s.image_paddr, Some(&name))
            {
                prog.args = a.into_iter().skip(1).collect();
                prog.env = env.iter().map(|v| env_var(v)).collect();
            }
        }
        bootstrap.push(prog);
    }
    Boot {
        mode: if s.flags1 & startup_flags::VIRTUAL != 0 {
            BootMode::Virtual
        } else {
            BootMode::Physical
        },
        cpu: cpu_of(s.machine, big),
        bootfile_name: String::new(),
        bootfile_args: Vec::new(),
        bootfile: None,
        startup: BootProgram {
            name,
            source: DataSource::Inline {
                bytes: code.to_vec(),
            },
            size: Some(code.len() as u64),
            elf: None,
            args,
            env: env.iter().map(|v| env_var(v)).collect(),
            modules: Vec::new(),
            attrs: FileAttrs::default(),
            entry: None,
            span: Span::default(),
        },
        bootstrap,
        env: Vec::new(),
        span: Span::default(),
    }
}

/// The Manifest of an image: entries in inode order (so entry `i` has
/// inode `i + 2` when the image was written by mkifs or hvhost), the boot
/// block (startup and bootstrap programs with the arguments found in their
/// argument blocks), and the decoded boot script.
pub fn to_manifest(c: &Container<'_>, fs: &Ifs<'_>) -> Result<Manifest, ReadError> {
    let mut root = None;
    let mut ents: Vec<(u32, Entry)> = Vec::new();
    for e in fs.entries() {
        let (_, d) = e?;
        let data = fs.data(&d)?;
        let ent = entry_of(&d, data);
        let ino = d.ino & !ino_flags::MASK;
        if d.path.is_empty() && matches!(d.kind, DirentKind::Dir) {
            root = Some(ent);
            continue;
        }
        ents.push((ino, ent));
    }
    ents.sort_by_key(|(ino, _)| *ino);
    let h = &fs.header;
    let inos: Vec<u32> = ents.iter().map(|(i, _)| *i).collect();
    let mut entries: Vec<Entry> = ents.into_iter().map(|(_, e)| e).collect();
    let index_of = |ino: u32| inos.iter().position(|&i| i == ino & !ino_flags::MASK);

    let mut script_cmds = Vec::new();
    if h.script_ino != 0
        && let Some(i) = index_of(h.script_ino)
        && let EntryKind::File(f) = &mut entries[i].kind
    {
        f.role = FileRole::Script;
        if let DataSource::Inline { bytes } = &f.source
            && let Ok(recs) = script::decode(bytes)
        {
            let parts = script::partition_names(&recs);
            script_cmds = recs
                .iter()
                .filter_map(|r| r.to_command(&parts))
                .map(|kind| ScriptCommand {
                    kind,
                    span: Span::default(),
                })
                .collect();
        }
        f.source = DataSource::Script;
    }
    let big = fs.endian() == crate::Endian::Big;
    let startup = c.startup.as_ref().map(|(_, s)| s);
    let boot = startup
        .filter(|s| s.startup_size as usize > STARTUP_HEADER_SIZE + s.trailer_size())
        .map(|s| boot_of(c, s, h, &mut entries, &inos, big));
    let root = root.unwrap_or_else(|| Entry {
        path: String::new(),
        kind: EntryKind::Dir,
        mode: S_IFDIR | 0o755,
        uid: 0,
        gid: 0,
        mtime: 0,
        attrs: FileAttrs::default(),
        span: Span::default(),
    });
    Ok(Manifest {
        origin: buildfile::Origin::Image,
        boot,
        image: ImageSettings {
            byte_order: fs.endian(),
            image: AddrRange {
                start: startup
                    .map(|s| (s.image_paddr as u64).saturating_sub(s.preboot_size as u64)),
                ..AddrRange::default()
            },
            ram: None,
            mountpoint: String::from_utf8_lossy(&h.mountpoint).into_owned(),
            chain: h.chain_paddr as u64,
            compression: c.compression.map(|m| match m {
                compress::Method::Zlib => buildfile::Compression::Zlib,
                compress::Method::Lzo => buildfile::Compression::Lzo,
                compress::Method::Ucl => buildfile::Compression::Ucl,
            }),
            page_size: 4096,
        },
        root,
        entries,
        script: script_cmds,
    })
}
