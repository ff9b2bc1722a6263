//! A whole image: preboot, startup area, image region, compression, and the
//! bootfile's post-processing filter.

use crate::elf::{self, ET_REL, Elf, PT_LOAD};
use crate::endian::Endian;
use crate::format::*;
use crate::link::{self, LinkVars};
use crate::meter::{Counted, Meter};
use crate::write::{self, BootError, Data, PlaceParams, Plan, WriteError, WriteOptions};
use buildfile::{BootMode, BootProgram, DataSource, Entry, FileRole, Manifest};
use std::io::Write;
use std::path::Path;

/// An image ready to be written: every entry placed, every size known, and
/// every input that can fail (except host files read while writing) checked.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The image region's plan.
    pub plan: Plan,
    /// Preboot bytes (padded to a multiple of 4).
    pub preboot: Vec<u8>,
    /// The startup header (bootable or compressed images). For a compressed
    /// image `stored_size` is set when writing.
    pub startup: Option<StartupHeader>,
    /// The startup program's loaded segments (bootargs patched).
    pub startup_code: Vec<u8>,
    /// The bootfile's post-processing filter, if any.
    pub postfilter: Option<PostFilter>,
}

/// The bootfile's `filter=`: run on the written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFilter {
    /// The template (`%a %s %i %I`).
    pub template: String,
    /// `%a`: the words after the bootfile name in `virtual=`/`physical=`.
    pub args: Vec<String>,
    /// `%s`: offset of the startup header in the file.
    pub startup_offset: u64,
}

impl PostFilter {
    /// The command line for output `i` and intermediate `big_i`.
    pub fn command(&self, i: &Path, big_i: &Path) -> String {
        let mut out = String::new();
        let mut it = self.template.chars().peekable();
        while let Some(c) = it.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('a') => out.push_str(&self.args.join(" ")),
                Some('s') => out.push_str(&format!("{:#x}", self.startup_offset)),
                Some('i') => out.push_str(&shell_quote(&i.display().to_string())),
                Some('I') => out.push_str(&shell_quote(&big_i.display().to_string())),
                Some('%') => out.push('%'),
                Some(x) => {
                    out.push('%');
                    out.push(x);
                }
                None => out.push('%'),
            }
        }
        out
    }

    /// True when the filter reads an intermediate file (`%I`) and writes `%i`.
    pub fn uses_intermediate(&self) -> bool {
        self.template.contains("%I")
    }
}

fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/._-+,:=".contains(&c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn boot_err(
    code: &'static diag::Code,
    span: diag::Span,
    message: String,
    help: Option<&str>,
) -> WriteError {
    WriteError::Boot(BootError {
        code,
        message,
        span,
        help: help.map(str::to_string),
    })
}

fn method(c: buildfile::Compression) -> compress::Method {
    match c {
        buildfile::Compression::Zlib => compress::Method::Zlib,
        buildfile::Compression::Lzo => compress::Method::Lzo,
        buildfile::Compression::Ucl => compress::Method::Ucl,
    }
}

/// Reads a boot program's bytes.
fn program_bytes(p: &BootProgram) -> Result<Vec<u8>, WriteError> {
    match &p.source {
        DataSource::Host { path } => std::fs::read(path).map_err(|e| WriteError::HostFile {
            path: p.name.clone(),
            host: path.clone(),
            why: diag::io::reason(&e),
            span: p.span,
        }),
        DataSource::Inline { bytes } => Ok(bytes.clone()),
        DataSource::Assumed { name } => Err(WriteError::Unavailable {
            path: p.name.clone(),
            why: format!("`{name}` was not found on this machine (--no-host-files)"),
            span: p.span,
        }),
        DataSource::Script => Err(boot_err(
            &crate::codes::I0107,
            p.span,
            format!("`{}` is the boot script, not a program", p.name),
            None,
        )),
    }
}

/// Links a relocatable boot program with its `linker=` template; `addr` is
/// where the file's first byte will be (physical), `text` its text address.
fn link_program(
    p: &BootProgram,
    bytes: Vec<u8>,
    addr: u64,
    vaddr: u64,
    f: u64,
) -> Result<Vec<u8>, WriteError> {
    let Some(template) = p.attrs.linker.as_deref() else {
        return Err(boot_err(
            &crate::codes::I0106,
            p.span,
            format!(
                "`{}` is a relocatable object and needs linking, but no `linker=` template is set",
                p.name
            ),
            Some(
                "set `linker=` in the buildfile or use a bootfile that sets it, or give an already linked executable",
            ),
        ));
    };
    let dir = tempfile::tempdir().map_err(WriteError::Output)?;
    let input = match &p.source {
        DataSource::Host { path } => path.clone(),
        _ => {
            let i = dir.path().join("input.o");
            std::fs::write(&i, &bytes).map_err(WriteError::Output)?;
            i
        }
    };
    let output = dir
        .path()
        .join(format!("{}.linked", p.name.replace('/', "_")));
    let mut vars = LinkVars {
        text: vaddr,
        data: 0,
        header: addr,
        f,
        input,
        output: output.clone(),
        modules: p.modules.iter().map(|m| m.name.clone()).collect(),
    };
    let bad = |why: String| {
        boot_err(
            &crate::codes::I0107,
            p.span,
            format!("linking `{}` failed: {why}", p.name),
            None,
        )
    };
    // Link, then once more with the text address moved so that the file's
    // bytes sit at their addresses (the headers before the text take room).
    let mut linked = Vec::new();
    for pass in 0..2 {
        let words = link::expand(template, &vars).map_err(|e| bad(format!("the template: {e}")))?;
        let Some(prog) = words.first() else {
            return Err(bad("the template is empty".into()));
        };
        if link::find_program(prog).is_none() {
            return Err(boot_err(
                &crate::codes::I0106,
                p.span,
                format!(
                    "`{}` is a relocatable object that must be linked with `{prog}`, which is not installed (not found along PATH)",
                    p.name
                ),
                Some(
                    "install the target's linker (the QNX SDP's `<target>-ld`) and put it on PATH, or give an already linked executable",
                ),
            ));
        }
        let out = std::process::Command::new(prog)
            .args(&words[1..])
            .output()
            .map_err(|e| bad(format!("cannot run `{prog}`: {}", diag::io::reason(&e))))?;
        if !out.status.success() {
            return Err(bad(format!(
                "`{}` exited with {}: {}",
                words.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        linked = std::fs::read(&output)
            .map_err(|e| bad(format!("no output: {}", diag::io::reason(&e))))?;
        let elf = Elf::parse(&linked).map_err(|e| bad(format!("the output: {e}")))?;
        let first = elf
            .segments(&linked)
            .map_err(|e| bad(format!("the output: {e}")))?
            .into_iter()
            .find(|s| s.p_type == PT_LOAD && s.filesz > 0);
        let Some(s) = first else { break };
        if f == 0 {
            // The startup's segments are loaded, not its file: no shift.
            break;
        }
        let want = vaddr.wrapping_add(s.offset);
        if pass == 0 && s.vaddr != want && s.vaddr.wrapping_sub(vars.text) < 0x1_0000 {
            vars.text = vars.text.wrapping_add(want.wrapping_sub(s.vaddr));
            continue;
        }
        break;
    }
    Ok(linked)
}

/// Replaces the `ddpvbskr` marker with the bootstrap argument block (§8).
fn patch_bootargs(
    buf: &mut [u8],
    e: Endian,
    argv: &[String],
    env: &[String],
    startup_paddr: u32,
) -> Result<bool, String> {
    let Some(at) = buf.windows(8).position(|w| w == BOOTARGS_MARKER) else {
        return Ok(false);
    };
    let mut block = vec![0u8; 8];
    for s in argv.iter().chain(env) {
        block.extend_from_slice(s.as_bytes());
        block.push(0);
    }
    block.push(0);
    let size = block.len();
    if size > 0xffff || argv.len() > 127 || env.len() > 255 {
        return Err(format!(
            "the argument block is {size} bytes, {} arguments, {} variables",
            argv.len(),
            env.len()
        ));
    }
    block[0] = size as u8;
    block[1] = (size >> 8) as u8;
    block[2] = argv.len() as u8;
    block[3] = env.len() as u8;
    block[4..8].copy_from_slice(&e.put_u32(startup_paddr));
    let dst = buf.get_mut(at..at + size).ok_or_else(|| {
        format!("the argument block ({size} bytes) does not fit after the marker")
    })?;
    dst.copy_from_slice(&block);
    Ok(true)
}

fn argv_env(p: &BootProgram, boot_env: &[buildfile::EnvVar]) -> (Vec<String>, Vec<String>) {
    let base = p.name.rsplit('/').next().unwrap_or(&p.name).to_string();
    let mut argv = vec![base];
    argv.extend(p.args.iter().cloned());
    let env = boot_env
        .iter()
        .chain(&p.env)
        .map(|v| format!("{}={}", v.name, v.value))
        .collect();
    (argv, env)
}

/// The boot program `e` is for, when `e` is a bootstrap program's entry.
fn bootstrap_of<'m>(m: &'m Manifest, e: &Entry) -> Option<&'m BootProgram> {
    match e.file()?.role {
        FileRole::Bootstrap(k) => m.boot.as_ref()?.bootstrap.get(k),
        _ => None,
    }
}

/// Fills the argument block of a flat (non-ELF) bootstrap program, as mkifs
/// does wherever the program holds its marker; other entries are unchanged.
fn flat_bootargs(
    m: &Manifest,
    e: &Entry,
    data: Data,
    startup_paddr: u32,
) -> Result<Data, WriteError> {
    let Some(p) = bootstrap_of(m, e) else {
        return Ok(data);
    };
    if e.attrs.raw || e.file().is_some_and(|f| f.elf.is_some()) {
        return Ok(data);
    }
    let mut bytes = match entry_bytes(e, data)? {
        Ok(b) => b,
        Err(d) => return Ok(d),
    };
    fill_bootargs(m, p, &mut bytes, m.image.byte_order, startup_paddr)?;
    Ok(Data::Mem(bytes))
}

/// The bytes of `data` in memory (a host file is read); `Err` gives back
/// data that has no bytes to change.
fn entry_bytes(e: &Entry, data: Data) -> Result<Result<Vec<u8>, Data>, WriteError> {
    match data {
        Data::Host(path, _) => std::fs::read(&path)
            .map(Ok)
            .map_err(|x| WriteError::HostFile {
                path: e.path.clone(),
                host: path.clone(),
                why: diag::io::reason(&x),
                span: e.span,
            }),
        Data::Mem(v) => Ok(Ok(v)),
        d @ (Data::None | Data::Patched(..)) => Ok(Err(d)),
    }
}

/// Fills bootstrap program `p`'s argument block in `bytes`.
fn fill_bootargs(
    m: &Manifest,
    p: &BootProgram,
    bytes: &mut [u8],
    e: Endian,
    startup_paddr: u32,
) -> Result<(), WriteError> {
    let boot_env = m.boot.as_ref().map(|b| b.env.as_slice()).unwrap_or(&[]);
    let (argv, env) = argv_env(p, boot_env);
    patch_bootargs(bytes, e, &argv, &env, startup_paddr)
        .map(|_| ())
        .map_err(|w| {
            boot_err(
                &crate::codes::I0107,
                p.span,
                format!("`{}`: {w}", p.name),
                None,
            )
        })
}

/// Processes an ELF entry for its place at `addr`: links a relocatable
/// bootstrap program, sets every `PT_LOAD`'s `p_paddr` to where its bytes
/// are, and patches a bootstrap program's argument block.
fn process_elf(
    m: &Manifest,
    e: &Entry,
    data: Data,
    addr: u64,
    vaddr: u64,
    startup_paddr: u32,
) -> Result<Data, WriteError> {
    let Some(f) = e.file() else { return Ok(data) };
    if e.attrs.raw {
        return Ok(data);
    }
    if f.elf.is_none() {
        return flat_bootargs(m, e, data, startup_paddr);
    }
    let host = match &data {
        Data::Host(p, n) => Some((p.clone(), *n)),
        _ => None,
    };
    let mut bytes = match entry_bytes(e, data)? {
        Ok(b) => b,
        Err(d) => return Ok(d),
    };
    let original = host.as_ref().map(|_| bytes.clone());
    let mut linked = false;
    let prog = bootstrap_of(m, e);
    let bad = |why: String| {
        boot_err(
            &crate::codes::I0107,
            e.span,
            format!("`/{}` is not a usable ELF file: {why}", e.path),
            None,
        )
    };
    let mut elf = Elf::parse(&bytes).map_err(bad)?;
    if elf.e_type == ET_REL {
        let Some(p) = prog else {
            return Ok(Data::Mem(bytes));
        };
        bytes = link_program(p, bytes, addr, vaddr, 1)?;
        linked = true;
        elf = Elf::parse(&bytes).map_err(bad)?;
    }
    let segs = elf.segments(&bytes).map_err(bad)?;
    for s in segs.iter().filter(|s| s.p_type == PT_LOAD) {
        elf.set_paddr(&mut bytes, s.header_at, addr.wrapping_add(s.offset));
    }
    if let Some(p) = prog {
        fill_bootargs(m, p, &mut bytes, elf.endian, startup_paddr)?;
    }
    // An unlinked host file is streamed at write time with its changes.
    if let (false, Some((path, size)), Some(orig)) = (linked, host, original)
        && bytes.len() as u64 == size
    {
        return Ok(Data::Patched(
            path,
            size,
            write::diff_patches(&orig, &bytes),
        ));
    }
    Ok(Data::Mem(bytes))
}

/// The ELF `e_machine` of a cpu name (`x86_64`, `aarch64le`, ...), 0 if unknown.
fn machine_of(cpu: &str) -> u16 {
    match cpu {
        "x86" => 3,
        "x86_64" => 62,
        c if c.starts_with("aarch64") => 183,
        c if c.starts_with("arm") => 40,
        c if c.starts_with("ppc") => 20,
        c if c.starts_with("mips") => 8,
        c if c.starts_with("sh") => 42,
        _ => 0,
    }
}

/// Plans an image without a boot block (with a startup header only when
/// it is compressed).
fn prepare_plain(
    m: &Manifest,
    opts: &WriteOptions,
    flags1: u8,
    tl: u64,
) -> Result<Prepared, WriteError> {
    let endian = m.image.byte_order;
    let compression = m.image.compression.map(method);
    let base = m.image.image.start.unwrap_or(0);
    let startup_size = (STARTUP_HEADER_SIZE as u64 + tl) as u32;
    let header_paddr = if compression.is_some() {
        base + startup_size as u64
    } else {
        base
    };
    let pp = PlaceParams {
        header_paddr,
        page: m.image.page_size,
        prefix: 0,
    };
    let plan = write::plan_with(m, opts, pp, |i, e, addr| {
        let d = write::entry_data(m, i, e)?;
        match addr {
            Some(a) => process_elf(m, e, d, a, a, base as u32),
            None => Ok(d),
        }
    })?;
    // As mkifs: a compressed image without a boot block says no RAM size.
    let startup = compression.map(|_| StartupHeader {
        endian,
        version: 1,
        flags1,
        header_size: STARTUP_HEADER_SIZE as u16,
        image_paddr: base as u32,
        ram_paddr: base as u32,
        ram_size: 0,
        startup_size,
        stored_size: startup_size + plan.header.image_size,
        imagefs_size: plan.header.image_size,
        ..StartupHeader::default()
    });
    Ok(Prepared {
        plan,
        preboot: Vec::new(),
        startup,
        startup_code: Vec::new(),
        postfilter: None,
    })
}

/// The preboot area: the bootfile's bytes after its `boot` marker, padded
/// to `len=` and to a multiple of 4; and its size.
fn preboot_area(boot: &buildfile::Boot) -> Result<(Vec<u8>, u64), WriteError> {
    let bootfile = boot.bootfile.as_ref();
    let mut preboot = bootfile.map(|b| b.preboot.clone()).unwrap_or_default();
    let min = bootfile.and_then(|b| b.len).unwrap_or(0);
    let plen = round_up((preboot.len() as u64).max(min), 4);
    if plen > u16::MAX as u64 {
        return Err(boot_err(
            &crate::codes::I0107,
            boot.span,
            format!("the preboot area is {plen:#x} bytes; the startup header holds at most 0xffff"),
            None,
        ));
    }
    preboot.resize(plen as usize, 0);
    Ok((preboot, plen))
}

/// An error of the startup program.
fn startup_err(sp: &BootProgram, why: String) -> WriteError {
    boot_err(
        &crate::codes::I0107,
        sp.span,
        format!("the startup program `{}` cannot be used: {why}", sp.name),
        None,
    )
}

/// The startup program's code, loaded (and linked when relocatable):
/// `(machine, entry, code base, byte order, code)`.
fn startup_program(
    m: &Manifest,
    boot: &buildfile::Boot,
    plen: u64,
    bias: i64,
) -> Result<(u16, u64, u64, Endian, Vec<u8>), WriteError> {
    let sp = &boot.startup;
    let mut sbytes = program_bytes(sp)?;
    let sbad = |why: String| startup_err(sp, why);
    let given_base = m.image.image.start;
    let flat = !sbytes.starts_with(b"\x7fELF");
    Ok(if flat {
        // A flat binary: its bytes are the code, entered at their first byte.
        let Some(b) = given_base else {
            return Err(boot_err(
                &crate::codes::I0107,
                sp.span,
                format!(
                    "the startup program `{}` is not an ELF file; as a flat binary it needs the image's address",
                    sp.name
                ),
                Some(
                    "give the base with `[image=ADDR]`: the code goes at ADDR + preboot + 0x100 and is entered there",
                ),
            ));
        };
        let at = (b as i64 + plen as i64 + bias) as u64 + STARTUP_HEADER_SIZE as u64;
        let machine = boot.cpu.as_deref().map_or(0, machine_of);
        (machine, at, at, m.image.byte_order, sbytes)
    } else {
        let selx = Elf::parse(&sbytes).map_err(sbad)?;
        if selx.e_type == ET_REL {
            let image_paddr = (given_base.unwrap_or(0) as i64 + plen as i64 + bias) as u64;
            let code_at = image_paddr + STARTUP_HEADER_SIZE as u64;
            sbytes = link_program(sp, sbytes, code_at, code_at, 0)?;
        }
        let (selx, code_base, code) = elf::load(&sbytes).map_err(sbad)?;
        (selx.machine, selx.entry, code_base, selx.endian, code)
    })
}

/// The image's physical address: from `image=` (which must agree with
/// where the startup code is linked), else from the code's address.
fn startup_paddr(
    sp: &BootProgram,
    given_base: Option<u64>,
    plen: u64,
    bias: i64,
    code_base: u64,
) -> Result<u64, WriteError> {
    let sbad = |why: String| startup_err(sp, why);
    Ok(match given_base {
        Some(b) => {
            let p = (b as i64 + plen as i64 + bias) as u64;
            if code_base != p + STARTUP_HEADER_SIZE as u64 {
                return Err(boot_err(
                    &crate::codes::I0107,
                    sp.span,
                    format!(
                        "the startup program `{}` is linked to load at {code_base:#x}, but this image puts its code at {:#x} (image base {b:#x} + preboot {plen:#x} + 256-byte startup header)",
                        sp.name,
                        p + STARTUP_HEADER_SIZE as u64
                    ),
                    Some(&format!(
                        "set `[image={:#x}]`, or link the startup program at {:#x}",
                        (code_base as i64 - STARTUP_HEADER_SIZE as i64 - plen as i64 - bias).max(0),
                        p + STARTUP_HEADER_SIZE as u64
                    )),
                ));
            }
            p
        }
        None => code_base.checked_sub(STARTUP_HEADER_SIZE as u64).ok_or_else(|| {
            sbad(format!("it is linked at {code_base:#x}, leaving no room for the startup header before it"))
        })?,
    })
}

/// The startup header's `flags1` but for the virtual bit.
fn startup_flags1(m: &Manifest, opts: &WriteOptions) -> u8 {
    let mut flags1 = 0u8;
    if m.image.byte_order == Endian::Big {
        flags1 |= startup_flags::BIGENDIAN;
    }
    if let Some(c) = m.image.compression.map(method) {
        flags1 |= c.flags1_bits();
    }
    if opts.trailer_v2 {
        flags1 |= startup_flags::TRAILER_V2;
    }
    flags1
}

/// Plans the whole image of `m`.
pub fn prepare(m: &Manifest, opts: &WriteOptions) -> Result<Prepared, WriteError> {
    let endian: Endian = m.image.byte_order;
    let tl = if opts.trailer_v2 {
        TRAILER_V2
    } else {
        TRAILER_V1
    } as u64;
    let mut flags1 = startup_flags1(m, opts);
    let Some(boot) = &m.boot else {
        return prepare_plain(m, opts, flags1, tl);
    };
    if boot.mode == BootMode::Virtual {
        flags1 |= startup_flags::VIRTUAL;
    }
    let bootfile = boot.bootfile.as_ref();
    let (preboot, plen) = preboot_area(boot)?;
    let bias = bootfile.and_then(|b| b.paddr_bias).unwrap_or(0);
    let vboot = bootfile.and_then(|b| b.vboot);

    // The startup program: linked for, or already linked at, image_paddr + 256.
    let sp = &boot.startup;
    let sbad = |why: String| startup_err(sp, why);
    let (machine, entry, code_base, code_endian, mut code) = startup_program(m, boot, plen, bias)?;
    let image_paddr = startup_paddr(sp, m.image.image.start, plen, bias, code_base)?;
    if image_paddr > u32::MAX as u64 || entry > u32::MAX as u64 {
        return Err(sbad(format!(
            "it loads at {image_paddr:#x} / enters at {entry:#x}; the startup header holds 32-bit addresses"
        )));
    }
    let (argv, env) = argv_env(sp, &[]);
    patch_bootargs(&mut code, code_endian, &argv, &env, image_paddr as u32).map_err(sbad)?;
    let startup_size = round_up(
        plen + STARTUP_HEADER_SIZE as u64 + code.len() as u64 + tl,
        8,
    ) - plen;
    let header_paddr = image_paddr + startup_size;
    let pp = PlaceParams {
        header_paddr,
        page: m.image.page_size,
        prefix: plen + startup_size,
    };
    let plan = write::plan_with(m, opts, pp, |i, e, addr| {
        let d = write::entry_data(m, i, e)?;
        match addr {
            Some(a) => {
                let va = match (boot.mode, vboot) {
                    (BootMode::Virtual, Some(v)) => v.wrapping_add(a - image_paddr),
                    _ => a,
                };
                process_elf(m, e, d, a, va, image_paddr as u32)
            }
            None => flat_bootargs(m, e, d, image_paddr as u32),
        }
    })?;
    let isz = plan.header.image_size as u64;
    let total = startup_size + isz;
    if total > u32::MAX as u64 {
        return Err(WriteError::TooLarge {
            why: format!(
                "{total:#x} bytes of startup and image; the startup header holds 32-bit sizes"
            ),
        });
    }
    let header = StartupHeader {
        endian,
        version: 1,
        flags1,
        flags2: 0,
        header_size: STARTUP_HEADER_SIZE as u16,
        machine,
        startup_vaddr: entry as u32,
        paddr_bias: (bias as i32).wrapping_neg() as u32,
        image_paddr: image_paddr as u32,
        ram_paddr: image_paddr as u32,
        ram_size: total as u32,
        startup_size: startup_size as u32,
        stored_size: total as u32,
        imagefs_paddr: 0,
        imagefs_size: isz as u32,
        preboot_size: plen as u16,
        zero0: 0,
        zero: [0; 3],
    };
    let postfilter = bootfile.and_then(|b| b.filter.clone()).map(|t| PostFilter {
        template: t,
        args: boot.bootfile_args.clone(),
        startup_offset: plen,
    });
    Ok(Prepared {
        plan,
        preboot,
        startup: Some(header),
        startup_code: code,
        postfilter,
    })
}

/// What a build wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image region's plan (placement of every entry).
    pub plan: Plan,
    /// The startup header as written.
    pub startup: Option<StartupHeader>,
    /// Bytes written in all.
    pub written: u64,
    /// The bootfile filter to run on the written file.
    pub postfilter: Option<PostFilter>,
}

impl Prepared {
    /// The startup region: header, code, padding, trailer.
    fn startup_region(&self, h: &StartupHeader) -> Vec<u8> {
        let mut r = Vec::with_capacity(h.startup_size as usize);
        r.extend_from_slice(&h.encode());
        r.extend_from_slice(&self.startup_code);
        let tl = h.trailer_size();
        r.resize(h.startup_size as usize - tl, 0);
        finish_trailer(&mut r, h.endian, h.trailer_v2());
        r
    }

    /// Writes the image to `out`.
    pub fn write_to(self, out: &mut dyn Write) -> Result<Built, WriteError> {
        self.write_metered(out, &Meter::new())
    }

    /// The work [`Prepared::write_metered`] counts, in bytes (see [`Meter`]).
    pub fn work(&self) -> u64 {
        let region = self.plan.image_size();
        let startup = self.startup.as_ref().map_or(0, |h| h.startup_size as u64);
        let compressed = if self.plan.compression.is_some() {
            region
        } else {
            0
        };
        self.preboot.len() as u64 + startup + region + compressed
    }

    /// Writes the image to `out`, counting the work on `meter` as it goes.
    pub fn write_metered(self, out: &mut dyn Write, meter: &Meter) -> Result<Built, WriteError> {
        meter.start(self.work());
        let out = &mut Counted { inner: out, meter };
        let o = |e| WriteError::Output(e);
        let mut written = 0u64;
        out.write_all(&self.preboot).map_err(o)?;
        written += self.preboot.len() as u64;
        let Some(mut h) = self.startup.clone() else {
            self.plan.write_region(out)?;
            written += self.plan.image_size();
            meter.finish();
            return Ok(Built {
                startup: None,
                written,
                postfilter: self.postfilter,
                plan: self.plan,
            });
        };
        match self.plan.compression {
            None => {
                let s = self.startup_region(&h);
                out.write_all(&s).map_err(o)?;
                self.plan.write_region(out)?;
                written += s.len() as u64 + self.plan.image_size();
            }
            Some(m) => {
                let mut region = Vec::with_capacity(self.plan.image_size() as usize);
                self.plan.write_region(&mut Counted {
                    inner: &mut region,
                    meter,
                })?;
                let copts = compress::Options {
                    level: self.plan.options.level,
                    threads: self.plan.options.threads,
                };
                let mut stream = Vec::with_capacity(region.len() / 2 + 1024);
                compress::compress_counted(m, &region, &copts, &mut stream, meter.counter());
                drop(region);
                stream.resize(round_up(stream.len() as u64, 4) as usize, 0);
                finish_trailer(&mut stream, h.endian, h.trailer_v2());
                let stored = h.startup_size as u64 + stream.len() as u64;
                if stored > u32::MAX as u64 {
                    return Err(WriteError::TooLarge {
                        why: format!("{stored:#x} bytes compressed"),
                    });
                }
                h.stored_size = stored as u32;
                let s = self.startup_region(&h);
                // The startup area counts here; the compressed stream was
                // counted as its input was compressed.
                out.write_all(&s).map_err(o)?;
                out.inner.write_all(&stream).map_err(o)?;
                written += stored;
            }
        }
        meter.finish();
        Ok(Built {
            startup: Some(h),
            written,
            postfilter: self.postfilter,
            plan: self.plan,
        })
    }
}

/// Appends a trailer to `r` (whose length is a multiple of 4) so that it
/// verifies: v2 adds the SHA-512 of `r` first.
fn finish_trailer(r: &mut Vec<u8>, e: Endian, v2: bool) {
    use sha2::{Digest, Sha512};
    if v2 {
        let d = Sha512::digest(&r[..]);
        r.extend_from_slice(&d);
    }
    let ck = crate::checksum::cksum(r, e);
    r.extend_from_slice(&e.put_u32(ck));
}
