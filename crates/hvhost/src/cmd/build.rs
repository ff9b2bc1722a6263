//! `hvhost build BUILDFILE [OUTPUT]`: build an IFS image, as mkifs does.

use crate::codes::Exit;
use crate::input::BuildfileInput;
use crate::output::{Format, emit};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use std::io::Write;
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
    let site = ifs::filter::FilterSite::new(
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
            ifs::filter::write_stream(prepared, &site, &mut std::io::stdout().lock())
        } else {
            let write = |prepared: ifs::Prepared, w: &mut dyn Write| {
                let meter = ifs::Meter::new();
                crate::progress::while_running(&meter, || prepared.write_metered(w, &meter))
            };
            ifs::filter::write_file(prepared, &out_path, &site, Box::new(write))
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
