//! `hvhost manifest BUILDFILE`: the resolved image, as mkifs would build it.

use crate::codes::Exit;
use crate::input::BuildfileInput;
use crate::output::{Format, emit};
use buildfile::{DataSource, EntryKind, FileRole, Manifest};
use clap::Args;
use diag::SourceMap;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Arguments of `hvhost manifest`.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    #[command(flatten)]
    input: BuildfileInput,
    /// Zero the times of generated entries (-n) or of all entries (-nn), as mkifs.
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    zero_times: u8,
    /// Output format (`sarif` prints only the diagnostics).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs the subcommand; returns the exit code: 0 resolved, 1 errors in the
/// buildfile, 2 the buildfile could not be read.
pub(crate) fn run(args: &ManifestArgs) -> Exit {
    let times = crate::input::times(args.zero_times);
    let mut map = SourceMap::new();
    let loaded = args.input.load_host(&mut map, times);
    let Some((manifest, mut diags)) = crate::input::reported(loaded, &map, args.format) else {
        return Exit::Unreadable;
    };
    let (errors, _) = emit(args.format, &map, &mut diags);
    let Some(m) = manifest.filter(|_| errors == 0) else {
        return Exit::Failed;
    };
    match args.format {
        Format::Text => print!("{}", text(&m, &map, &args.input.display_name())),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_value(&m, &map)).unwrap_or_default()
        ),
        Format::Sarif => {}
    }
    Exit::Ok
}

fn kind_name(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::File(_) => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink { .. } => "link",
        EntryKind::Fifo => "fifo",
    }
}

fn source_text(s: &DataSource) -> String {
    match s {
        DataSource::Host { path } => path.display().to_string(),
        DataSource::Inline { .. } => "inline".into(),
        DataSource::Script => "boot script (compiled)".into(),
        DataSource::Assumed { name } => format!("assumed: {name}"),
    }
}

fn line_of(map: &SourceMap, span: diag::Span) -> String {
    if span == diag::Span::default() && map.get(span.file).is_none() {
        return String::new();
    }
    map.location(span)
}

/// The text report.
pub(crate) fn text(m: &Manifest, map: &SourceMap, name: &str) -> String {
    let mut o = String::new();
    heading(&mut o, m, name);
    image_line(&mut o, m);
    boot_block(&mut o, m, map);
    script_lines(&mut o, m, map);
    entry_table(&mut o, m);
    o
}

/// The first line: the image's kind and byte order.
fn heading(o: &mut String, m: &Manifest, name: &str) {
    let order = match m.image.byte_order {
        buildfile::ByteOrder::Little => "little-endian",
        buildfile::ByteOrder::Big => "big-endian",
    };
    match &m.boot {
        Some(b) => {
            let _ = writeln!(
                o,
                "{name}: bootable image ({}, cpu {}, bootfile {}{}), {order}",
                match b.mode {
                    buildfile::BootMode::Virtual => "virtual",
                    buildfile::BootMode::Physical => "physical",
                },
                b.cpu.as_deref().unwrap_or("-"),
                b.bootfile_name,
                if b.bootfile.is_some() {
                    ""
                } else {
                    ", not found: assumed"
                },
            );
        }
        None => {
            let _ = writeln!(o, "{name}: image, not bootable, {order}");
        }
    }
}

/// The `image:` line: its addresses, limits and settings.
fn image_line(o: &mut String, m: &Manifest) {
    let img = &m.image;
    let mut parts = Vec::new();
    if let Some(s) = img.image.start {
        parts.push(format!("base {s:#x}"));
    }
    if let Some(e) = img.image.end {
        parts.push(format!("end {e:#x}"));
    }
    if let Some(x) = img.image.max {
        parts.push(format!("max {x:#x}"));
    }
    if let Some(t) = img.image.total {
        parts.push(format!("total {t:#x}"));
    }
    parts.push(format!("align {}", img.image.align.unwrap_or(4)));
    parts.push(format!(
        "mount {}",
        if img.mountpoint.is_empty() {
            "(none)"
        } else {
            &img.mountpoint
        }
    ));
    if let Some(c) = img.compression {
        parts.push(format!("compression {}", format!("{c:?}").to_lowercase()));
    }
    if let Some(r) = &img.ram {
        parts.push(format!("split image, ram {:#x}", r.start.unwrap_or(0)));
    }
    if img.chain != 0 {
        parts.push(format!("chain {:#x}", img.chain));
    }
    parts.push(format!("page size {}", img.page_size));
    let _ = writeln!(o, "image: {}", parts.join(", "));
}

/// The boot block: startup, kernel and bootstrap programs.
fn boot_block(o: &mut String, m: &Manifest, map: &SourceMap) {
    if let Some(b) = &m.boot {
        let _ = writeln!(
            o,
            "\nboot block (line {}):",
            map.get(b.span.file)
                .map(|f| f.line_col(b.span.start).line)
                .unwrap_or(0)
        );
        for (i, p) in std::iter::once(&b.startup)
            .chain(b.bootstrap.iter())
            .enumerate()
        {
            let role = if i == 0 {
                "startup"
            } else if i == 1 {
                "kernel"
            } else {
                "bootstrap"
            };
            let mut cmd: Vec<String> = p
                .env
                .iter()
                .map(|v| format!("{}={}", v.name, v.value))
                .collect();
            cmd.push(p.name.clone());
            cmd.extend(p.args.iter().map(|a| buildfile::display::quote(a)));
            let _ = writeln!(o, "  {role:<9} {}", cmd.join(" "));
            if !p.modules.is_empty() {
                let mods: Vec<&str> = p.modules.iter().map(|m| m.name.as_str()).collect();
                let _ = writeln!(o, "            modules: {}", mods.join(", "));
            }
            let _ = writeln!(o, "            from {}", source_text(&p.source));
        }
        for v in &b.env {
            let _ = writeln!(o, "  env       {}={}", v.name, v.value);
        }
    }
}

/// The boot script, a command a line with its buildfile line.
fn script_lines(o: &mut String, m: &Manifest, map: &SourceMap) {
    if !m.script.is_empty() {
        let script = m
            .entries
            .iter()
            .find(|e| e.file().is_some_and(|f| f.role == FileRole::Script))
            .map(|e| format!(" in /{}", e.path))
            .unwrap_or_default();
        let _ = writeln!(o, "\nboot script ({} commands{script}):", m.script.len());
        for c in &m.script {
            let line = map
                .get(c.span.file)
                .map(|f| format!("line {}", f.line_col(c.span.start).line))
                .unwrap_or_default();
            let _ = writeln!(o, "  {line:>10}  {c}");
        }
    }
}

/// The table of entries.
fn entry_table(o: &mut String, m: &Manifest) {
    let _ = writeln!(o, "\nentries ({} + root):", m.entries.len());
    let _ = writeln!(
        o,
        "  {:>5} {:<4} {:>7} {:>11} {:>10}  {:<40} source",
        "ino", "type", "mode", "uid:gid", "size", "path"
    );
    let root = &m.root;
    let _ = writeln!(
        o,
        "  {:>5} {:<4} {:>07o} {:>11} {:>10}  {:<40}",
        1,
        "dir",
        root.mode,
        format!("{}:{}", root.uid, root.gid),
        "-",
        "/"
    );
    for (i, e) in m.entries.iter().enumerate() {
        let (size, src, path) = match &e.kind {
            EntryKind::File(f) => {
                let mut s = source_text(&f.source);
                match f.role {
                    FileRole::Bootstrap(n) => s.push_str(&format!(" [bootstrap {n}]")),
                    FileRole::Script => s = "boot script".into(),
                    FileRole::Plain => {}
                }
                (
                    f.size.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
                    s,
                    e.path.clone(),
                )
            }
            EntryKind::Symlink { target } => {
                ("-".into(), String::new(), format!("{} -> {target}", e.path))
            }
            _ => ("-".into(), String::new(), e.path.clone()),
        };
        let _ = writeln!(
            o,
            "  {:>5} {:<4} {:>07o} {:>11} {:>10}  {:<40} {}",
            i + 2,
            kind_name(&e.kind),
            e.mode,
            format!("{}:{}", e.uid, e.gid),
            size,
            path,
            src
        );
    }
}

/// The JSON report: the Manifest with inode numbers and source locations.
pub(crate) fn json_value(m: &Manifest, map: &SourceMap) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Some(entries) = v.get_mut("entries").and_then(Value::as_array_mut) {
        for (i, (ev, e)) in entries.iter_mut().zip(&m.entries).enumerate() {
            if let Value::Object(o) = ev {
                o.insert("ino".into(), json!(i + 2));
                o.insert("mode_octal".into(), json!(format!("{:o}", e.mode)));
                o.insert("location".into(), json!(line_of(map, e.span)));
            }
        }
    }
    if let Some(script) = v.get_mut("script").and_then(Value::as_array_mut) {
        for (sv, c) in script.iter_mut().zip(&m.script) {
            if let Value::Object(o) = sv {
                o.insert("text".into(), json!(c.to_string()));
                o.insert("location".into(), json!(line_of(map, c.span)));
            }
        }
    }
    v
}
