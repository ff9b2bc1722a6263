//! `hvhost build BUILDFILE [OUTPUT]`: build an IFS image, as mkifs does.

use crate::codes::Exit;
use crate::input::BuildfileInput;
use crate::output::{Format, emit};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use ifs::WriteError;
use ifs::atomic::{AtomicFile, TempFile};
use std::io::{BufWriter, IsTerminal, Seek, Write};
use std::path::{Path, PathBuf};

/// Arguments of `hvhost build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
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
    ///
    /// Entries of a directory taken from a host folder are added sorted by
    /// name (mkifs uses the host's readdir order), so the same folder gives
    /// the same image on every machine.
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
pub(crate) fn run(args: &BuildArgs) -> Exit {
    let times = crate::input::times(args.zero_times);
    let mut map = SourceMap::new();
    let Some(out_path) = args.output_opt.clone().or_else(|| args.output.clone()) else {
        let d = Diagnostic::new(&diag::G0001, "no output file given").help(
            "write `hvhost build BUILDFILE OUTPUT`, or `-o OUTPUT`; `-` writes to standard output",
        );
        emit(args.format, &map, &mut [d]);
        return Exit::Unreadable;
    };
    let Some((manifest, mut diags)) = args.input.load_or_report(&mut map, times, args.format)
    else {
        return Exit::Unreadable;
    };
    let (errors, _) = emit(args.format, &map, &mut diags);
    let left_out = diags
        .iter()
        .filter(|d| std::ptr::eq(d.code, &buildfile::codes::B0202))
        .count();
    let Some(m) = manifest.filter(|_| errors == 0) else {
        return Exit::Failed;
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
        if to_stdout {
            write_stdout(prepared, &site)
        } else {
            write_file(prepared, &out_path, &site)
        }
    });
    match result {
        Ok(built) => {
            report(args, &m, &built, &out_path, left_out);
            Exit::Ok
        }
        Err(e) => {
            let mut d = [e.to_diagnostic()];
            emit(args.format, &map, &mut d);
            Exit::Failed
        }
    }
}

/// Prints what was built: the `-v` table, the JSON result, and the line
/// that says the image is incomplete when host files were left out (on
/// stderr when the image went to stdout).
fn report(
    args: &BuildArgs,
    m: &buildfile::Manifest,
    built: &ifs::Built,
    out: &Path,
    left_out: usize,
) {
    let to_stdout = out.as_os_str() == "-";
    let say = |text: &str| {
        if to_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    };
    if args.format == Format::Json {
        let v = serde_json::json!({
            "image": if to_stdout { "-".to_string() } else { out.display().to_string() },
            "written": built.written,
            "image_size": built.plan.header.image_size,
            "startup_size": built.startup.as_ref().map(|h| h.startup_size),
            "entries": m.entries.len(),
            "host_files_left_out": left_out,
            "complete": left_out == 0,
        });
        say(&format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ));
        return;
    }
    if args.verbose > 0 {
        say(&placement_table(m, built));
    }
    if left_out > 0 {
        eprintln!(
            "{}: {left_out} host file{} left out (B0202): the image is incomplete",
            if to_stdout {
                "<stdout>".into()
            } else {
                out.display().to_string()
            },
            if left_out == 1 { " was" } else { "s were" },
        );
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

/// Writes the image to standard output: streamed, or through a temporary
/// file when the bootfile's filter must run on it first.
fn write_stdout(prepared: ifs::Prepared, site: &FilterSite) -> Result<ifs::Built, WriteError> {
    let stdout = std::io::stdout();
    if prepared.postfilter.is_none() {
        let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
        let b = prepared.write_to(&mut w)?;
        w.flush().map_err(WriteError::Output)?;
        return Ok(b);
    }
    let dir = std::env::temp_dir();
    let tmp = TempFile::new_in(&dir, "hvhost-image").map_err(WriteError::Output)?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.file());
    let b = prepared.write_to(&mut w)?;
    w.flush().map_err(WriteError::Output)?;
    drop(w);
    let result = match &b.postfilter {
        Some(pf) => run_filter(
            pf,
            tmp.path(),
            || TempFile::new_in(&dir, "hvhost-image"),
            site,
        )?,
        None => None,
    }
    .unwrap_or(tmp);
    let mut f = result.file();
    f.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| std::io::copy(&mut f, &mut stdout.lock()))
        .map_err(WriteError::Output)?;
    Ok(b)
}

/// Writes the image to `path` atomically (see [`AtomicFile`]), with a
/// progress bar on a terminal for a large image, then runs the bootfile's
/// filter on it.
fn write_file(
    prepared: ifs::Prepared,
    path: &Path,
    site: &FilterSite,
) -> Result<ifs::Built, WriteError> {
    let total = prepared.preboot.len() as u64
        + prepared
            .startup
            .as_ref()
            .map_or(0, |h| h.startup_size as u64)
        + prepared.plan.image_size();
    let mut out = AtomicFile::create(path).map_err(WriteError::Output)?;
    let mut w = BufWriter::with_capacity(1 << 20, out.file());
    let built = if total >= PROGRESS_MIN && std::io::stderr().is_terminal() {
        let mut p = Progress::new(&mut w, total);
        let r = prepared.write_to(&mut p);
        p.finish();
        r
    } else {
        prepared.write_to(&mut w)
    }?;
    w.flush()
        .map_err(|e| WriteError::Output(diag::io::with_path("write", path, &e)))?;
    drop(w);
    if let Some(pf) = &built.postfilter
        && let Some(t) = run_filter(pf, out.temp_path(), || out.new_temp(), site)?
    {
        out.replace(t);
    }
    out.commit().map_err(WriteError::Output)?;
    Ok(built)
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

/// Runs the bootfile's filter on the written image at `image`; returns the
/// new file that holds the result for `%I` filters (made by `new_temp`),
/// `None` when the filter rewrote `image` itself.
fn run_filter(
    pf: &ifs::PostFilter,
    image: &Path,
    new_temp: impl FnOnce() -> std::io::Result<TempFile>,
    site: &FilterSite,
) -> Result<Option<TempFile>, WriteError> {
    let fail = |why: String| WriteError::BootFilter {
        bootfile: site.bootfile.clone(),
        output: site.output.clone(),
        filter: pf.template.clone(),
        why,
        span: site.span,
        named: site.named,
    };
    let out = if pf.uses_intermediate() {
        Some(new_temp().map_err(|e| fail(e.to_string()))?)
    } else {
        None
    };
    let target = out.as_ref().map(|o| o.path()).unwrap_or(image);
    let cmd = pf.command(target, image);
    let prog = cmd.split_whitespace().next().unwrap_or("");
    if ifs::link::find_program(prog).is_none() {
        return Err(fail(format!("its program `{prog}` is not installed")));
    }
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .status()
        .map_err(|e| fail(diag::io::reason(&e)))?;
    if !st.success() {
        return Err(fail(format!("`{cmd}` exited with {st}")));
    }
    Ok(out)
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
