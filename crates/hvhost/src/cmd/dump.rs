//! `hvhost dump IMAGE`: list, verify and extract an IFS image, as dumpifs.

use crate::input::io_reason;
use crate::output::{Format, emit};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use ifs::format::{Dirent, DirentKind, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use ifs::read::{Container, Ifs, ReadError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `hvhost dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The image file.
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// Show each entry's attributes (-v); also decode the boot script (-vv).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Extract every file.
    #[arg(short = 'x')]
    extract: bool,
    /// Directory to extract into (default: the current directory).
    #[arg(short = 'd', value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Extract only this file (repeatable; a path in the image or a basename).
    #[arg(short = 'f', value_name = "NAME")]
    files: Vec<String>,
    /// Extract under basenames only (no directories).
    #[arg(short = 'b')]
    basenames: bool,
    /// Only verify the checksums and digests; print a one-line summary.
    #[arg(long)]
    verify: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn read_error(e: &ReadError, image: &Path) -> Diagnostic {
    Diagnostic::new(e.code(), format!("{}: {e}", image.display()))
}

/// Runs the subcommand: 0 ok, 1 a bad or tampered image (or an entry that
/// could not be extracted), 2 the file could not be read.
pub fn run(args: &DumpArgs) -> i32 {
    let map = SourceMap::new();
    let data = match read_image(&args.image) {
        Ok(d) => d,
        Err(why) => {
            let d = Diagnostic::new(
                &diag::G0001,
                format!("cannot read `{}`: {why}", args.image.display()),
            );
            emit(args.format, &map, &mut [d]);
            return 2;
        }
    };
    let mut diags = Vec::new();
    let code = dump(args, &data, &mut diags);
    emit(args.format, &map, &mut diags);
    code
}

/// Reads the image file, refusing anything but a regular file: it is opened
/// with `O_NONBLOCK` (so that opening a FIFO does not wait for a writer) and
/// its type is checked on the open file before anything is read.
fn read_image(p: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| io_reason(&e))?;
    let m = f.metadata().map_err(|e| io_reason(&e))?;
    let t = m.file_type();
    if !t.is_file() {
        let what = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else {
            "of an unknown type"
        };
        return Err(format!("it is {what}; an image must be a regular file"));
    }
    let mut v = Vec::with_capacity(m.len().min(1 << 30) as usize);
    f.read_to_end(&mut v).map_err(|e| io_reason(&e))?;
    Ok(v)
}

fn dump(args: &DumpArgs, data: &[u8], diags: &mut Vec<Diagnostic>) -> i32 {
    let c = match ifs::read::open(data) {
        Ok(c) => c,
        Err(e) => {
            diags.push(read_error(&e, &args.image));
            return 1;
        }
    };
    let mut bad = false;
    if let Err(e) = c.verify_outer() {
        diags.push(read_error(&e, &args.image));
        bad = true;
    }
    let region = match c.image_bytes() {
        Ok(r) => r,
        Err(e) => {
            diags.push(read_error(&e, &args.image));
            return 1;
        }
    };
    let fs = match Ifs::parse(&region) {
        Ok(f) => f,
        Err(e) => {
            diags.push(read_error(&e, &args.image));
            return 1;
        }
    };
    if let Err(e) = c.verify_sizes(&fs) {
        diags.push(read_error(&e, &args.image));
        bad = true;
    }
    if let Err(e) = fs.verify() {
        diags.push(read_error(&e, &args.image));
        bad = true;
    }
    let mut entries = Vec::new();
    for e in fs.entries() {
        match e {
            Ok(x) => entries.push(x),
            Err(e) => {
                diags.push(read_error(&e, &args.image));
                bad = true;
            }
        }
    }
    for (_, d) in &entries {
        if let Err(e) = fs.data(d) {
            diags.push(read_error(&e, &args.image));
            bad = true;
        }
    }
    if args.verify {
        if !bad && args.format == Format::Text {
            println!(
                "{}: ok ({} entries; {})",
                args.image.display(),
                entries.len(),
                checksums(&c, &fs)
            );
        } else if args.format == Format::Json {
            println!(
                "{}",
                json!({ "image": args.image.display().to_string(), "ok": !bad })
            );
        }
        return i32::from(bad);
    }
    let script = script_text(&fs);
    match args.format {
        Format::Json => {
            let v = json_listing(&c, &fs, &entries, script.as_ref(), !bad);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Text => print!("{}", listing(args, &c, &fs, &entries, script.as_ref())),
        Format::Sarif => {}
    }
    if args.extract || !args.files.is_empty() {
        let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        if !extract(args, &fs, &entries, &dir, diags) {
            bad = true;
        }
    }
    i32::from(bad)
}

fn checksums(c: &Container<'_>, fs: &Ifs<'_>) -> String {
    let mut s = format!("image={:#x}", fs.stored_cksum());
    if let Some(r) = c.startup_region() {
        let e = fs.endian();
        let n = r.len();
        let w: [u8; 4] = r[n - 4..].try_into().unwrap_or([0; 4]);
        let _ = write!(s, " startup={:#x}", e.u32(w));
    }
    s
}

fn script_text(fs: &Ifs<'_>) -> Option<Result<String, String>> {
    match fs.script() {
        Ok(Some(b)) => Some(
            ifs::script::decode(b)
                .map(|r| ifs::script::to_text(&r))
                .map_err(|e| e.to_string()),
        ),
        Ok(None) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

fn name(d: &Dirent<'_>) -> String {
    String::from_utf8_lossy(d.path).into_owned()
}

fn listing(
    args: &DumpArgs,
    c: &Container<'_>,
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    script: Option<&Result<String, String>>,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "   Offset     Size  Name");
    let row = |o: &mut String, off: Option<u64>, size: Option<u64>, name: &str| {
        let off = off
            .map(|v| format!("{v:x}"))
            .unwrap_or_else(|| "----".into());
        let size = size
            .map(|v| format!("{v:x}"))
            .unwrap_or_else(|| "----".into());
        let _ = writeln!(o, "{off:>9} {size:>8}  {name}");
    };
    let pre = c.preboot();
    if let Some((at, h)) = &c.startup {
        if !pre.is_empty() {
            row(&mut o, Some(0), Some(pre.len() as u64), "*.boot");
        }
        row(
            &mut o,
            Some(*at as u64),
            Some(256),
            &format!(
                "Startup-header flags1={:#x} flags2={:#x} paddr_bias={:#x}",
                h.flags1, h.flags2, h.paddr_bias
            ),
        );
        let tl = h.trailer_size() as u64;
        row(
            &mut o,
            Some(*at as u64 + 256),
            Some((h.startup_size as u64).saturating_sub(256 + tl)),
            "startup.*",
        );
        row(
            &mut o,
            Some(*at as u64 + h.startup_size as u64 - tl),
            Some(tl),
            "Startup-trailer",
        );
        if args.verbose > 0 {
            let _ = writeln!(
                o,
                "                   machine={} startup_vaddr={:#x} image_paddr={:#x} ram_paddr={:#x} ram_size={:#x} startup_size={:#x} stored_size={:#x} imagefs_size={:#x} preboot_size={:#x}",
                h.machine,
                h.startup_vaddr,
                h.image_paddr,
                h.ram_paddr,
                h.ram_size,
                h.startup_size,
                h.stored_size,
                h.imagefs_size,
                h.preboot_size
            );
        }
        if let Some(m) = c.compression {
            let _ = writeln!(
                o,
                "{:>9x} {:>8}  Compressed image ({m}); offsets below are in the decompressed image",
                c.image_at, "----"
            );
        }
    }
    // Offsets shown in the file for an uncompressed image.
    let base = if c.compression.is_some() {
        0
    } else {
        c.image_at as u64
    };
    let h = &fs.header;
    row(
        &mut o,
        Some(base),
        Some(h.size() as u64),
        &format!(
            "Image-header mountpoint={}",
            String::from_utf8_lossy(&h.mountpoint)
        ),
    );
    row(
        &mut o,
        Some(base + h.dir_offset as u64),
        Some(h.hdr_dir_size as u64 - h.dir_offset as u64),
        "Image-directory",
    );
    for (_, d) in entries {
        let n = name(d);
        match d.kind {
            DirentKind::File { offset, size } => {
                row(&mut o, Some(base + offset as u64), Some(size as u64), &n)
            }
            DirentKind::Symlink { target } => row(
                &mut o,
                None,
                Some(target.len() as u64),
                &format!("{n} -> {}", String::from_utf8_lossy(target)),
            ),
            _ if d.path.is_empty() => row(&mut o, None, None, "Root-dirent"),
            _ => row(&mut o, None, None, &n),
        }
        if args.verbose > 0 {
            let _ = writeln!(
                o,
                "                   gid={} uid={} mode=0{:o} ino={:#x} mtime={:x}",
                d.gid, d.uid, d.mode, d.ino, d.mtime
            );
        }
    }
    let tl = h.trailer_size() as u64;
    row(
        &mut o,
        Some(base + h.image_size as u64 - tl),
        Some(tl),
        "Image-trailer",
    );
    let _ = writeln!(o, "Checksums: {}", checksums(c, fs));
    if args.verbose > 1
        && let Some(s) = script
    {
        let _ = writeln!(o, "Boot script:");
        match s {
            Ok(t) => {
                for l in t.lines() {
                    let _ = writeln!(o, "    {l}");
                }
            }
            Err(e) => {
                let _ = writeln!(o, "    (cannot decode: {e})");
            }
        }
    }
    o
}

fn json_listing(
    c: &Container<'_>,
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    script: Option<&Result<String, String>>,
    ok: bool,
) -> Value {
    let h = &fs.header;
    let ents: Vec<Value> = entries
        .iter()
        .map(|(at, d)| {
            let mut v = json!({
                "path": name(d),
                "dirent_offset": at,
                "ino": d.ino,
                "mode": format!("{:o}", d.mode),
                "uid": d.uid,
                "gid": d.gid,
                "mtime": d.mtime,
            });
            match d.kind {
                DirentKind::File { offset, size } => {
                    v["type"] = json!("file");
                    v["offset"] = json!(offset);
                    v["size"] = json!(size);
                }
                DirentKind::Dir => v["type"] = json!("dir"),
                DirentKind::Symlink { target } => {
                    v["type"] = json!("symlink");
                    v["target"] = json!(String::from_utf8_lossy(target));
                }
                DirentKind::Device { dev, rdev } => {
                    v["type"] = json!(if d.mode & S_IFMT == 0o010000 {
                        "fifo"
                    } else {
                        "device"
                    });
                    v["dev"] = json!(dev);
                    v["rdev"] = json!(rdev);
                }
            }
            v
        })
        .collect();
    json!({
        "ok": ok,
        "endian": fs.endian(),
        "preboot_size": c.preboot().len(),
        "startup": c.startup.as_ref().map(|(at, s)| json!({"offset": at, "header": s})),
        "compression": c.compression.map(|m| m.to_string()),
        "image_offset": c.image_at,
        "image_header": h,
        "entries": ents,
        "script": script.and_then(|s| s.as_ref().ok()),
    })
}

/// The relative path an entry is extracted to, or why it is refused.
fn safe_relative(path: &[u8], basename: bool) -> Result<PathBuf, String> {
    let s = std::str::from_utf8(path).map_err(|_| "its path is not UTF-8".to_string())?;
    if s.starts_with('/') {
        return Err("its path is absolute".into());
    }
    let mut out = PathBuf::new();
    let comps: Vec<&str> = s.split('/').filter(|c| !c.is_empty()).collect();
    let comps = if basename {
        comps.last().map(|c| vec![*c]).unwrap_or_default()
    } else {
        comps
    };
    for c in comps {
        if c == ".." || c == "." {
            return Err(format!("its path has a `{c}` component"));
        }
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        return Err("its path is empty".into());
    }
    Ok(out)
}

/// Creates the directories of `rel` under `root`, refusing to pass through
/// anything that is not a real directory (a symlink from an earlier entry).
fn make_parents(root: &Path, rel: &Path) -> Result<(), String> {
    let mut cur = root.to_path_buf();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "`{}` is not a directory (a symlink or file from the image); nothing is written through it",
                    cur.display()
                ));
            }
            Err(_) => std::fs::create_dir(&cur)
                .map_err(|e| format!("cannot create `{}`: {}", cur.display(), io_reason(&e)))?,
        }
    }
    Ok(())
}

/// Removes what is at `p` (a file or symlink itself, never what a link
/// points to) so that a new entry can take its place.
fn clear(p: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_dir() => Err(format!("`{}` is a directory", p.display())),
        Ok(_) => std::fs::remove_file(p)
            .map_err(|e| format!("cannot replace `{}`: {}", p.display(), io_reason(&e))),
        Err(_) => Ok(()),
    }
}

/// The permission bits an extracted file or directory gets from its
/// entry's mode: the permissions and the sticky bit; set-user-ID and
/// set-group-ID are not restored (as `tar` does for an ordinary user).
const MODE_BITS: u32 = 0o1777;

fn extract_one(root: &Path, rel: &Path, d: &Dirent<'_>, data: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    make_parents(root, rel)?;
    let p = root.join(rel);
    match d.mode & S_IFMT {
        S_IFREG => {
            clear(&p)?;
            // create_new: O_EXCL, which never follows a symlink.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
                .map_err(|e| format!("cannot create `{}`: {}", p.display(), io_reason(&e)))?;
            std::io::Write::write_all(&mut f, data)
                .map_err(|e| format!("cannot write `{}`: {}", p.display(), io_reason(&e)))?;
            f.set_permissions(std::fs::Permissions::from_mode(d.mode & MODE_BITS))
                .map_err(|e| {
                    format!(
                        "cannot set the mode of `{}`: {}",
                        p.display(),
                        io_reason(&e)
                    )
                })?;
        }
        S_IFDIR => match std::fs::symlink_metadata(&p) {
            // Its own mode is set once everything is extracted (a 0500
            // directory can still be filled); until then it must be
            // writable, also when an earlier extraction left it read-only.
            Ok(m) if m.file_type().is_dir() => {
                let mode = m.permissions().mode();
                if mode & 0o700 != 0o700 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o700))
                        .map_err(|e| {
                            format!("cannot make `{}` writable: {}", p.display(), io_reason(&e))
                        })?;
                }
            }
            Ok(_) => return Err(format!("`{}` exists and is not a directory", p.display())),
            Err(_) => std::fs::create_dir(&p)
                .map_err(|e| format!("cannot create `{}`: {}", p.display(), io_reason(&e)))?,
        },
        S_IFLNK => {
            let DirentKind::Symlink { target } = d.kind else {
                return Ok(());
            };
            clear(&p)?;
            let t = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target);
            std::os::unix::fs::symlink(t, &p)
                .map_err(|e| format!("cannot create `{}`: {}", p.display(), io_reason(&e)))?;
        }
        _ => {} // Devices and FIFOs are listed, not created.
    }
    Ok(())
}

fn extract(
    args: &DumpArgs,
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let mut ok = true;
    if let Err(e) = std::fs::create_dir_all(dir) {
        diags.push(Diagnostic::new(
            &ifs::codes::I0007,
            format!("cannot create `{}`: {}", dir.display(), io_reason(&e)),
        ));
        return false;
    }
    let wanted = |d: &Dirent<'_>| {
        if args.files.is_empty() {
            return true;
        }
        let n = name(d);
        let base = n.rsplit('/').next().unwrap_or(&n).to_string();
        args.files
            .iter()
            .any(|f| f.trim_start_matches('/') == n || *f == base)
    };
    let mut found = vec![false; args.files.len()];
    // Where each extracted entry went, to refuse a second entry that would
    // replace it (two paths with the same basename under -b, or the same
    // path twice).
    let mut taken: HashMap<PathBuf, String> = HashMap::new();
    // Directories extracted, with their modes: set at the end.
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut seen_root = false;
    for (at, d) in entries {
        if d.path.is_empty() && d.mode & S_IFMT == S_IFDIR && !seen_root {
            seen_root = true; // the root directory
            continue;
        }
        if !wanted(d) {
            continue;
        }
        if d.path.is_empty() {
            diags.push(
                Diagnostic::new(
                    &ifs::codes::I0003,
                    format!(
                        "{}: the entry at image offset {at:#x} (inode {:#x}, mode 0{:o}) has an empty path: not extracted",
                        args.image.display(),
                        d.ino,
                        d.mode
                    ),
                )
                .help("only the root directory has an empty path; the image is malformed"),
            );
            ok = false;
            continue;
        }
        let n = name(d);
        for (i, f) in args.files.iter().enumerate() {
            if f.trim_start_matches('/') == n || n.rsplit('/').next() == Some(f.as_str()) {
                found[i] = true;
            }
        }
        if args.basenames && d.mode & S_IFMT == S_IFDIR {
            continue;
        }
        let rel = match safe_relative(d.path, args.basenames) {
            Ok(r) => r,
            Err(why) => {
                diags.push(
                    Diagnostic::new(&ifs::codes::I0007, format!("`{n}` not extracted: {why}"))
                        .help("the image was made to write outside the extraction directory; nothing was written for this entry"),
                );
                ok = false;
                continue;
            }
        };
        let Ok(data) = fs.data(d) else {
            // Already reported when the directory was checked.
            ok = false;
            continue;
        };
        if let Some(first) = taken.get(&rel) {
            let at = dir.join(&rel);
            let msg = if *first == n {
                format!(
                    "`{n}` not extracted: an earlier entry has the same path (`{}` holds that one)",
                    at.display()
                )
            } else {
                format!(
                    "`{n}` not extracted: `{first}` and `{n}` collide ({}both are extracted as `{}`, which holds `{first}`)",
                    if args.basenames { "with -b " } else { "" },
                    at.display()
                )
            };
            diags.push(
                Diagnostic::new(&ifs::codes::I0007, msg).help(if args.basenames {
                    "extract without -b, or extract one of them with -f PATH"
                } else {
                    "the image holds two entries with the same path; the first one was kept"
                }),
            );
            ok = false;
            continue;
        }
        match extract_one(dir, &rel, d, data) {
            Ok(()) => {
                if d.mode & S_IFMT == S_IFDIR {
                    dirs.push((dir.join(&rel), d.mode & MODE_BITS));
                }
                taken.insert(rel, n);
            }
            Err(why) => {
                diags.push(Diagnostic::new(
                    &ifs::codes::I0007,
                    format!("`{n}` not extracted: {why}"),
                ));
                ok = false;
            }
        }
    }
    // Deepest first, so that a parent without write or search permission
    // is set after its children.
    dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (p, mode) in dirs {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)) {
            diags.push(Diagnostic::new(
                &ifs::codes::I0007,
                format!(
                    "cannot set the mode of `{}`: {}",
                    p.display(),
                    io_reason(&e)
                ),
            ));
            ok = false;
        }
    }
    for (i, f) in args.files.iter().enumerate() {
        if !found[i] {
            diags.push(Diagnostic::new(
                &ifs::codes::I0003,
                format!("`{f}` is not in the image"),
            ));
            ok = false;
        }
    }
    ok
}
