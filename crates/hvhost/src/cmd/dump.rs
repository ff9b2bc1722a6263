//! `hvhost dump IMAGE`: list, verify and extract an IFS image, as dumpifs.

use crate::codes::Exit;
use crate::output::{Format, emit};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use ifs::format::{Dirent, DirentKind, S_IFMT};
use ifs::read::{Container, Ifs, ReadError};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `hvhost dump`.
#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// The image file; `-` reads it from standard input.
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// Only these entries: listed, and extracted with -x (a path in the image or a basename), as `dumpifs image NAME…`.
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    /// Show the MD5 digest of each file's data.
    #[arg(short = 'm')]
    md5: bool,
    /// Write the image filesystem (header to trailer, decompressed) to FILE.
    #[arg(short = 'u', value_name = "FILE")]
    image_out: Option<PathBuf>,
    /// With -u, keep a compressed image compressed: write it as it is stored.
    #[arg(short = 'z', requires = "image_out")]
    keep_compressed: bool,
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
    /// With -x, also write DIR.build beside the tree: `hvhost build -nn DIR.build OUT` rebuilds the image.
    #[arg(long, requires = "extract", conflicts_with_all = ["names", "files", "basenames"])]
    buildfile: bool,
    /// Only verify the checksums and digests; print a one-line summary.
    #[arg(long)]
    verify: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// A read error, located in the image file (see
/// [`ifs::extract::error_offset`]; 0 before the image is found).
fn read_error(e: &ReadError, image: &str, c: Option<&Container<'_>>) -> Diagnostic {
    let at = c.map_or(0, |c| ifs::extract::error_offset(c, e));
    Diagnostic::new(e.code(), format!("{image}: {e}")).at_byte(image, at)
}

impl DumpArgs {
    /// The image's name in messages.
    fn image_name(&self) -> String {
        if self.image.as_os_str() == "-" {
            "<stdin>".into()
        } else {
            self.image.display().to_string()
        }
    }

    /// The entries to extract: `-f` names and NAMEs (with -x); `None`:
    /// nothing is extracted.
    fn to_extract(&self) -> Option<Vec<String>> {
        if !self.extract && self.files.is_empty() {
            return None;
        }
        let mut v = self.files.clone();
        if self.extract {
            v.extend(self.names.iter().cloned());
        }
        Some(v)
    }
}

/// Runs the subcommand: 0 ok, 1 a bad or tampered image (or an entry that
/// could not be extracted), 2 the file could not be read.
pub(crate) fn run(args: &DumpArgs) -> Exit {
    let map = SourceMap::new();
    let data = if args.image.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v)
            .map(|_| v)
            .map_err(|e| diag::io::reason(&e))
    } else {
        read_image(&args.image)
    };
    let data = match data {
        Ok(d) => d,
        Err(why) => {
            let d = Diagnostic::new(
                &diag::G0001,
                format!("cannot read `{}`: {why}", args.image_name()),
            );
            emit(args.format, &map, &mut [d]);
            return Exit::Unreadable;
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
    let reason = |e: std::io::Error| diag::io::reason(&e);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(reason)?;
    let m = f.metadata().map_err(reason)?;
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
    f.read_to_end(&mut v).map_err(reason)?;
    Ok(v)
}

fn dump(args: &DumpArgs, data: &[u8], diags: &mut Vec<Diagnostic>) -> Exit {
    let image = args.image_name();
    let c = match ifs::read::open(data) {
        Ok(c) => c,
        Err(e) => {
            diags.push(read_error(&e, &image, None));
            return Exit::Failed;
        }
    };
    let mut fail = |e: ReadError| diags.push(read_error(&e, &image, Some(&c)));
    let outer = c.verify_outer();
    let bad_outer = outer.is_err();
    if let Err(e) = outer {
        fail(e);
    }
    let region = match c.image_bytes() {
        Ok(r) => r,
        Err(e) => {
            fail(e);
            return Exit::Failed;
        }
    };
    let fs = match Ifs::parse(&region) {
        Ok(f) => f,
        Err(e) => {
            fail(e);
            return Exit::Failed;
        }
    };
    let (entries, problems) = ifs::extract::check(&c, &fs);
    let mut bad = bad_outer || !problems.is_empty();
    problems.into_iter().for_each(&mut fail);
    if args.verify {
        if !bad && args.format == Format::Text {
            println!(
                "{image}: ok ({} entries; {})",
                entries.len(),
                checksums(&c, &fs)
            );
        } else if args.format == Format::Json {
            println!("{}", json!({ "image": image, "ok": !bad }));
        }
        return Exit::failed_if(bad);
    }
    let shown: Vec<(usize, Dirent<'_>)> = entries
        .iter()
        .filter(|(_, d)| ifs::extract::is_chosen(&args.names, d))
        .copied()
        .collect();
    print_listing(args, &c, &fs, &shown, !bad);
    if let Some(out) = &args.image_out {
        let stored = c.compressed_region().ok().flatten();
        let bytes = match stored {
            Some(b) if args.keep_compressed => b,
            _ => &region[..fs.header.image_size as usize],
        };
        if let Err(e) = ifs::extract::save(out, bytes) {
            diags.push(Diagnostic::new(&ifs::codes::I0108, e.to_string()));
            bad = true;
        }
    }
    let located = ifs::extract::Options::for_image(&c, &image);
    match args.to_extract() {
        Some(names) => {
            let opts = ifs::extract::Options {
                names,
                basenames: args.basenames,
                ..located
            };
            let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
            let done = ifs::extract::extract(&fs, &entries, &dir, &opts);
            bad |= !done.complete;
            diags.extend(done.problems);
            if args.buildfile {
                bad |= !write_buildfile(args, &c, &fs, &dir, diags);
            }
        }
        None => {
            let missing = ifs::extract::missing(&args.names, &entries, &located);
            bad |= !missing.is_empty();
            diags.extend(missing);
        }
    }
    Exit::failed_if(bad)
}

/// Writes the buildfile beside the extracted tree `dir` (see
/// [`ifs::rebuild::write_beside`]); false when it could not be written.
fn write_buildfile(
    args: &DumpArgs,
    c: &Container<'_>,
    fs: &Ifs<'_>,
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    match ifs::rebuild::write_beside(c, fs, dir) {
        Ok(w) => {
            if args.format == Format::Text {
                eprintln!("wrote {}", w.buildfile.display());
            }
            let v = w.rebuilt.format_version;
            diags.extend(w.rebuilt.differences.into_iter().map(|d| {
                Diagnostic::new(&ifs::codes::I0008, format!("{}: {d}", w.buildfile.display()))
                    .help(format!("the rebuild (`hvhost build -nn --format-version {v}`) is equal in content, not byte for byte"))
            }));
            true
        }
        Err(e) => {
            diags.push(Diagnostic::new(&ifs::codes::I0108, e));
            false
        }
    }
}

/// Prints the listing of `entries` in the chosen format.
fn print_listing(
    args: &DumpArgs,
    c: &Container<'_>,
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    ok: bool,
) {
    let script = script_text(fs);
    match args.format {
        Format::Json => {
            let v = json_listing(args, c, fs, entries, script.as_ref(), ok);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Text => print!("{}", listing(args, c, fs, entries, script.as_ref())),
        Format::Sarif => {}
    }
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

use ifs::extract::path_text as name;

/// The MD5 digest of a file entry's data (`None` for other entries and
/// for data outside the image).
fn md5_of(fs: &Ifs<'_>, d: &Dirent<'_>) -> Option<String> {
    match d.kind {
        DirentKind::File { .. } => fs.data(d).ok().map(ifs::extract::md5_hex),
        _ => None,
    }
}

/// One `Offset Size Name` row (`----` for what is not there).
fn row(o: &mut String, off: Option<u64>, size: Option<u64>, name: &str) {
    let off = off
        .map(|v| format!("{v:x}"))
        .unwrap_or_else(|| "----".into());
    let size = size
        .map(|v| format!("{v:x}"))
        .unwrap_or_else(|| "----".into());
    let _ = writeln!(o, "{off:>9} {size:>8}  {name}");
}

/// The rows of the preboot and startup parts, if any.
fn startup_rows(o: &mut String, args: &DumpArgs, c: &Container<'_>) {
    let pre = c.preboot();
    if let Some((at, h)) = &c.startup {
        if !pre.is_empty() {
            row(o, Some(0), Some(pre.len() as u64), "*.boot");
        }
        row(
            o,
            Some(*at as u64),
            Some(256),
            &format!(
                "Startup-header flags1={:#x} flags2={:#x} paddr_bias={:#x}",
                h.flags1, h.flags2, h.paddr_bias
            ),
        );
        let tl = h.trailer_size() as u64;
        row(
            o,
            Some(*at as u64 + 256),
            Some((h.startup_size as u64).saturating_sub(256 + tl)),
            "startup.*",
        );
        row(
            o,
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
    startup_rows(&mut o, args, c);
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
        if args.md5
            && let Some(m) = md5_of(fs, d)
        {
            let _ = writeln!(o, "                   md5={m}");
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
    args: &DumpArgs,
    c: &Container<'_>,
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    script: Option<&Result<String, String>>,
    ok: bool,
) -> Value {
    let h = &fs.header;
    let in_file = |image_offset: u64| ifs::extract::file_offset(c, image_offset);
    let ents: Vec<Value> = entries
        .iter()
        .map(|(at, d)| {
            let mut v = json!({
                "path": diag::bytes::escape(d.path),
                "dirent_image_offset": at,
                "dirent_file_offset": in_file(*at as u64),
                "ino": d.ino,
                "mode": format!("{:o}", d.mode),
                "uid": d.uid,
                "gid": d.gid,
                "mtime": d.mtime,
            });
            match d.kind {
                DirentKind::File { offset, size } => {
                    v["type"] = json!("file");
                    v["data_image_offset"] = json!(offset);
                    v["data_file_offset"] = json!(in_file(offset as u64));
                    v["size"] = json!(size);
                    if args.md5 {
                        v["md5"] = json!(md5_of(fs, d));
                    }
                }
                DirentKind::Dir => v["type"] = json!("dir"),
                DirentKind::Symlink { target } => {
                    v["type"] = json!("symlink");
                    v["target"] = json!(diag::bytes::escape(target));
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
    let mut header = serde_json::to_value(h).unwrap_or(Value::Null);
    header["mountpoint"] = json!(diag::bytes::escape(&h.mountpoint));
    json!({
        "ok": ok,
        "endian": fs.endian(),
        "preboot_size": c.preboot().len(),
        "startup": c.startup.as_ref().map(|(at, s)| json!({"file_offset": at, "header": s})),
        "compression": c.compression.map(|m| m.to_string()),
        "image_file_offset": c.image_at,
        "image_header": header,
        "entries": ents,
        "script": script.and_then(|s| s.as_ref().ok()),
    })
}
