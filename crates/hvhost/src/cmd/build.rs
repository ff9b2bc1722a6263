//! `hvhost build BUILDFILE [OUTPUT]`: build an IFS image, as mkifs does.

use crate::input::{BuildfileInput, Unreadable, io_reason};
use crate::output::{Format, emit};
use buildfile::Times;
use clap::Args;
use diag::{Diagnostic, SourceMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `hvhost build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    input: BuildfileInput,
    /// The image file to write (`-` writes to standard output).
    #[arg(value_name = "OUTPUT")]
    output: Option<PathBuf>,
    /// The image file to write (instead of the OUTPUT argument).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUTPUT",
        conflicts_with = "output"
    )]
    output_opt: Option<PathBuf>,
    /// Zero the times of generated entries (-n) or of all entries (-nn): with -nn the image is byte-identical across runs and machines.
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    zero_times: u8,
    /// Print the placement table (-v), and more detail with -vv.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Image format version: 7 (v1 trailers, SDP ≤ 7.1) or 8 (SDP 8.0 v2 trailers with SHA-512).
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u8).range(6..=8))]
    format_version: u8,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs the subcommand: 0 built, 1 errors, 2 unreadable input.
pub fn run(args: &BuildArgs) -> i32 {
    let times = match args.zero_times {
        0 => Times::Host,
        1 => Times::ZeroGenerated,
        _ => Times::ZeroAll,
    };
    let mut map = SourceMap::new();
    let Some(out_path) = args.output_opt.clone().or_else(|| args.output.clone()) else {
        let d = Diagnostic::new(&diag::G0001, "no output file given").help(
            "write `hvhost build BUILDFILE OUTPUT`, or `-o OUTPUT`; `-` writes to standard output",
        );
        emit(args.format, &map, &mut [d]);
        return 2;
    };
    let (manifest, mut diags) = match args.input.load(&mut map, times) {
        Ok(r) => r,
        Err(Unreadable(d)) => {
            emit(args.format, &map, &mut [*d]);
            return 2;
        }
    };
    let (errors, _) = emit(args.format, &map, &mut diags);
    let Some(m) = manifest.filter(|_| errors == 0) else {
        return 1;
    };
    let opts = ifs::WriteOptions {
        trailer_v2: args.format_version >= 8,
        ..Default::default()
    };
    let to_stdout = out_path.as_os_str() == "-";
    let result = ifs::prepare(&m, &opts).and_then(|prepared| {
        if to_stdout {
            let stdout = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            prepared.write_to(&mut w).and_then(|b| {
                w.flush().map_err(ifs::WriteError::Output)?;
                Ok(b)
            })
        } else {
            write_atomically(&out_path, |w| prepared.write_to(w))
        }
    });
    match result {
        Ok(built) => {
            if args.verbose > 0 {
                let table = placement_table(&m, &built);
                if to_stdout {
                    eprint!("{table}");
                } else {
                    print!("{table}");
                }
            }
            0
        }
        Err(e) => {
            let mut d = [e.to_diagnostic()];
            emit(args.format, &map, &mut d);
            1
        }
    }
}

/// Writes through a temporary file beside `path`, renamed over it only when
/// `f` succeeds; on failure the temporary file is removed and an existing
/// `path` is left untouched.
fn write_atomically<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<T, ifs::WriteError>,
) -> Result<T, ifs::WriteError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let out_err = |e: std::io::Error| {
        ifs::WriteError::Output(std::io::Error::new(
            e.kind(),
            format!("`{}`: {}", path.display(), io_reason(&e)),
        ))
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(out_err)?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
    let v = f(&mut w)?;
    w.flush().map_err(out_err)?;
    drop(w);
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| out_err(e.error))?;
    Ok(v)
}

/// The `-v` table: where every entry went.
fn placement_table(m: &buildfile::Manifest, built: &ifs::Built) -> String {
    use std::fmt::Write as _;
    let plan = &built.plan;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:>10} {:>10} {:>10}  Name <- Source",
        "Offset", "Size", "Inode"
    );
    let _ = writeln!(
        o,
        "{:>10x} {:>10x} {:>10}  Image-header and directory (mountpoint={})",
        0,
        plan.header.hdr_dir_size,
        "",
        String::from_utf8_lossy(&plan.header.mountpoint)
    );
    for p in &plan.dirents {
        let (name, source) = match p.index {
            None => ("/".to_string(), String::new()),
            Some(i) => {
                let e = &m.entries[i];
                let src = match &e.kind {
                    buildfile::EntryKind::File(f) => match &f.source {
                        buildfile::DataSource::Host { path } => path.display().to_string(),
                        buildfile::DataSource::Inline { .. } => "{inline}".into(),
                        buildfile::DataSource::Script => "{script}".into(),
                        buildfile::DataSource::Assumed { name } => name.clone(),
                    },
                    buildfile::EntryKind::Dir => "{dir}".into(),
                    buildfile::EntryKind::Symlink { target } => format!("-> {target}"),
                    buildfile::EntryKind::Fifo => "{fifo}".into(),
                };
                (format!("/{}", e.path), src)
            }
        };
        let has_data = p.index.is_some_and(|i| m.entries[i].file().is_some());
        let off = if has_data {
            format!("{:x}", p.offset)
        } else {
            "----".into()
        };
        let size = if has_data {
            format!("{:x}", p.size)
        } else {
            "----".into()
        };
        let _ = writeln!(
            o,
            "{off:>10} {size:>10} {:>10}  {name}{}{}",
            format!("{:#x}", p.ino),
            if p.aligned { " (page-aligned)" } else { "" },
            if source.is_empty() {
                String::new()
            } else {
                format!(" <- {source}")
            }
        );
    }
    let _ = writeln!(
        o,
        "{:>10x} {:>10x} {:>10}  Image-trailer; image size {:#x}, {} bytes written",
        plan.header.image_size as usize - plan.header.trailer_size(),
        plan.header.trailer_size(),
        "",
        plan.header.image_size,
        built.written
    );
    o
}
