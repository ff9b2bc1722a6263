//! `hvhost build BUILDFILE [OUTPUT]`: build an IFS image, as mkifs does.

use crate::input::{BuildfileInput, Unreadable, io_reason};
use crate::output::{Format, emit};
use buildfile::Times;
use clap::Args;
use diag::{Diagnostic, SourceMap};
use std::io::{BufWriter, IsTerminal, Write};
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
    /// Print the placement table (offset, size, inode, name, source of every entry).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Image format version: 7 (v1 trailers, SDP ≤ 7.1) or 8 (SDP 8.0 v2 trailers with SHA-512).
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u8).range(6..=8))]
    format_version: u8,
    /// Do not run the bootfile's `filter=` on the image (keep the raw image).
    #[arg(long)]
    no_filter: bool,
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
    let site = FilterSite::new(
        &mut map,
        &m,
        if to_stdout {
            Path::new("<stdout>")
        } else {
            &out_path
        },
    );
    let no_filter = args.no_filter;
    let result = ifs::prepare(&m, &opts).and_then(|mut prepared| {
        if no_filter {
            prepared.postfilter = None;
        }
        if to_stdout && prepared.postfilter.is_none() {
            let stdout = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            prepared.write_to(&mut w).and_then(|b| {
                w.flush().map_err(ifs::WriteError::Output)?;
                Ok(b)
            })
        } else if to_stdout {
            let dir = tempfile::tempdir().map_err(ifs::WriteError::Output)?;
            let p = dir.path().join("image");
            let b = write_atomically(&p, &site, |w| prepared.write_to(w))?;
            let bytes = std::fs::read(&p).map_err(ifs::WriteError::Output)?;
            std::io::stdout()
                .lock()
                .write_all(&bytes)
                .map_err(ifs::WriteError::Output)?;
            Ok(b)
        } else {
            let total = prepared.preboot.len() as u64
                + prepared
                    .startup
                    .as_ref()
                    .map_or(0, |h| h.startup_size as u64)
                + prepared.plan.image_size();
            write_atomically(&out_path, &site, |w| {
                if total >= PROGRESS_MIN && std::io::stderr().is_terminal() {
                    let mut p = Progress::new(w, total);
                    let r = prepared.write_to(&mut p);
                    p.finish();
                    r
                } else {
                    prepared.write_to(w)
                }
            })
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

/// Images at least this large show a progress bar on a terminal.
const PROGRESS_MIN: u64 = 64 << 20;

/// A writer that draws a progress bar on stderr as bytes pass.
struct Progress<'a> {
    inner: &'a mut dyn Write,
    done: u64,
    total: u64,
    shown: u64,
}

impl<'a> Progress<'a> {
    fn new(inner: &'a mut dyn Write, total: u64) -> Progress<'a> {
        Progress {
            inner,
            done: 0,
            total: total.max(1),
            shown: u64::MAX,
        }
    }

    fn draw(&mut self) {
        let pct = (self.done.min(self.total) * 100 / self.total).min(100);
        if pct == self.shown {
            return;
        }
        self.shown = pct;
        let filled = (pct / 5) as usize;
        eprint!(
            "\r[{}{}] {pct:>3}% {} / {} MiB",
            "#".repeat(filled),
            " ".repeat(20 - filled),
            self.done >> 20,
            self.total >> 20
        );
    }

    fn finish(&mut self) {
        self.done = self.total;
        self.draw();
        eprintln!();
    }
}

impl Write for Progress<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        self.draw();
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Follows `path` while it is a symbolic link (at most 40 links, as the
/// kernel does), so that the image replaces the link's target, never the
/// link. A path that does not exist (or a dangling link's target) is
/// returned as it is: the image is created there.
fn resolve_output(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if t.is_relative() => dir.join(t),
                    _ => t,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// Writes through a temporary file beside `path` (beside the target when
/// `path` is a symbolic link), renamed over it only when `f` succeeds; on
/// failure the temporary file is removed and an existing `path` is left
/// untouched. An existing output keeps its permissions; a new one gets
/// 0666 less the umask, as any file a Unix tool creates.
fn write_atomically(
    path: &Path,
    site: &FilterSite,
    f: impl FnOnce(&mut dyn Write) -> Result<ifs::Built, ifs::WriteError>,
) -> Result<ifs::Built, ifs::WriteError> {
    use std::os::unix::fs::PermissionsExt;
    let out_err = |e: std::io::Error| {
        ifs::WriteError::Output(std::io::Error::new(
            e.kind(),
            format!("`{}`: {}", path.display(), io_reason(&e)),
        ))
    };
    let target = resolve_output(path).map_err(out_err)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let existing = std::fs::metadata(&target)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions().mode() & 0o7777);
    // Created with 0666: the kernel applies the umask.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(out_err)?;
    let mode = match existing {
        Some(m) => m,
        None => {
            tmp.as_file()
                .metadata()
                .map_err(out_err)?
                .permissions()
                .mode()
                & 0o7777
        }
    };
    let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
    let v = f(&mut w)?;
    w.flush().map_err(out_err)?;
    drop(w);
    let tmp = match &v.postfilter {
        None => tmp,
        Some(pf) => run_filter(pf, tmp, &dir, site)?,
    };
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(out_err)?;
    tmp.persist(&target).map_err(|e| out_err(e.error))?;
    Ok(v)
}

/// Where the bootfile's filter comes from and what it runs on, for its
/// diagnostics.
struct FilterSite {
    /// The bootfile.
    bootfile: PathBuf,
    /// The output as the user named it.
    output: PathBuf,
    /// The bootfile's `filter=` setting (the bootfile is added to the
    /// source map), or the buildfile's boot line when it cannot be found.
    span: diag::Span,
    /// The buildfile line that names the bootfile.
    named: diag::Span,
}

impl FilterSite {
    fn new(map: &mut SourceMap, m: &buildfile::Manifest, output: &Path) -> FilterSite {
        let boot = m.boot.as_ref();
        let named = boot.map(|b| b.span).unwrap_or_default();
        let bootfile = boot
            .and_then(|b| b.bootfile.as_ref())
            .map(|b| b.path.clone())
            .unwrap_or_default();
        let span = std::fs::read(&bootfile)
            .ok()
            .and_then(|bytes| {
                let (start, end) = filter_setting(&bytes)?;
                let file = map.add(bootfile.display().to_string(), bytes);
                Some(diag::Span::new(file, start, end))
            })
            .unwrap_or(named);
        FilterSite {
            bootfile,
            output: output.to_path_buf(),
            span,
            named,
        }
    }
}

/// The byte range of the `filter=` setting in a bootfile's header: from
/// `filter=` (at the start of a word) to the end of its line.
fn filter_setting(b: &[u8]) -> Option<(usize, usize)> {
    let key = b"filter=";
    let header_end = b.iter().position(|&c| c == b']').unwrap_or(b.len());
    let start = (0..header_end).find(|&i| {
        b[i..].starts_with(key)
            && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r' | b'['))
    })?;
    let end = b[start..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |n| start + n);
    Some((start, end))
}

/// Runs the bootfile's filter on the written image; returns the file that
/// holds the result (the same file, or a new one for `%I` filters).
fn run_filter(
    pf: &ifs::PostFilter,
    tmp: tempfile::NamedTempFile,
    dir: &Path,
    site: &FilterSite,
) -> Result<tempfile::NamedTempFile, ifs::WriteError> {
    let name = site
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let fail = |why: String| ifs::WriteError::BootFilter {
        bootfile: site.bootfile.clone(),
        output: site.output.clone(),
        filter: pf.template.clone(),
        why,
        span: site.span,
        named: site.named,
    };
    let out = if pf.uses_intermediate() {
        Some(
            tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(|e| fail(io_reason(&e)))?,
        )
    } else {
        None
    };
    let target = out.as_ref().map(|o| o.path()).unwrap_or(tmp.path());
    let cmd = pf.command(target, tmp.path());
    let prog = cmd.split_whitespace().next().unwrap_or("");
    if ifs::link::find_program(prog).is_none() {
        return Err(fail(format!("its program `{prog}` is not installed")));
    }
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .status()
        .map_err(|e| fail(io_reason(&e)))?;
    if !st.success() {
        return Err(fail(format!("`{cmd}` exited with {st}")));
    }
    Ok(out.unwrap_or(tmp))
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
        "{:>10x} {:>10x} {:>10}  Image-trailer; image size {:#x}, {} bytes written{}",
        plan.header.image_size as usize - plan.header.trailer_size(),
        plan.header.trailer_size(),
        "",
        plan.header.image_size,
        built.written,
        match &built.startup {
            Some(h) => format!(
                "; startup: image_paddr {:#x}, startup_vaddr {:#x}, startup_size {:#x}",
                h.image_paddr, h.startup_vaddr, h.startup_size
            ),
            None => String::new(),
        }
    );
    o
}
