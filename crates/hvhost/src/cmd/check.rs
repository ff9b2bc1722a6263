//! `hvhost check BUILDFILE`: the host's composition rules, applied to the
//! buildfile and every VM configuration its boot script starts.

use crate::codes::Exit;
use crate::input::BuildfileInput;
use crate::output::{Format, emit};
use buildfile::Times;
use clap::{Args, ValueEnum};
use diag::{Diagnostic, Severity, SourceMap};
use hostcheck::{Options, Report, Sdp, VmFacts};
use serde_json::json;

/// What `--deny` makes fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Deny {
    /// Warnings fail the check (exit code 1).
    Warnings,
}

/// Arguments of `hvhost check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    input: BuildfileInput,
    /// The SDP generation: 7.0, 7.1 (module=qvm) or 8.0 (startup -Q enable); detected when not given.
    #[arg(long, value_name = "V", value_parser = parse_sdp)]
    sdp: Option<Sdp>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Make warnings fatal: `--deny warnings`.
    #[arg(long, value_enum, value_name = "WHAT")]
    deny: Vec<Deny>,
}

fn parse_sdp(s: &str) -> Result<Sdp, String> {
    Sdp::parse(s).ok_or_else(|| format!("`{s}` is not an SDP version: give 7.0, 7.1 or 8.0"))
}

/// Runs the subcommand; returns the exit code: 0 clean, 1 errors (or
/// warnings under `--deny warnings`), 2 the buildfile could not be read.
pub(crate) fn run(args: &CheckArgs) -> Exit {
    let mut map = SourceMap::new();
    let loaded = args.input.load_host(&mut map, Times::ZeroAll);
    let Some((manifest, mut diags)) = crate::input::reported(loaded, &map, args.format) else {
        return Exit::Unreadable;
    };
    let name = args.input.display_name();
    let Some(m) = manifest.filter(|_| !diags.iter().any(Diagnostic::is_error)) else {
        let (errors, warnings) = emit(args.format, &map, &mut diags);
        match args.format {
            Format::Text => println!("{name}: not checked: the buildfile has errors"),
            Format::Json => println!(
                "{}",
                json!({"buildfile": name, "checked": false, "errors": errors, "warnings": warnings})
            ),
            Format::Sarif => {}
        }
        return Exit::Failed;
    };
    let opts = Options { sdp: args.sdp };
    let loaded = hostcheck::load_vms(&mut map, &m, &opts);
    let report = hostcheck::check(&m, &loaded.vms, &opts);
    diags.extend(loaded.diagnostics);
    diags.extend(report.diagnostics.iter().cloned());
    let (errors, warnings) = emit(args.format, &map, &mut diags);
    let infos = diags
        .iter()
        .filter(|d| d.severity == Severity::Info)
        .count();
    match args.format {
        Format::Text => println!("{}", summary(&name, &report, &loaded.vms, errors, warnings)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(
                &name,
                &report,
                &loaded.vms,
                errors,
                warnings,
                infos
            ))
            .unwrap_or_default()
        ),
        Format::Sarif => {}
    }
    let deny_warnings = args.deny.contains(&Deny::Warnings);
    Exit::failed_if(errors > 0 || (deny_warnings && warnings > 0))
}

fn summary(name: &str, r: &Report, vms: &[VmFacts], errors: usize, warnings: usize) -> String {
    let names: Vec<&str> = vms.iter().map(|v| v.name.as_str()).collect();
    let vms_text = format!(
        "{} qvm started, {} VM{} checked{}",
        r.qvm_starts,
        vms.len(),
        if vms.len() == 1 { "" } else { "s" },
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        }
    );
    let verdict = match (errors, warnings) {
        (0, 0) => "clean".to_string(),
        (e, w) => format!(
            "{e} error{}, {w} warning{}",
            if e == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" }
        ),
    };
    format!(
        "{name}: {} {}host, {}; {vms_text}: {verdict}",
        r.arch.map_or("unknown", hostcheck::Arch::as_str),
        if r.safety_host { "safety " } else { "" },
        r.generation_text(),
    )
}

fn json_report(
    name: &str,
    r: &Report,
    vms: &[VmFacts],
    errors: usize,
    warnings: usize,
    infos: usize,
) -> serde_json::Value {
    json!({
        "buildfile": name,
        "checked": true,
        "sdp": r.sdp.as_str(),
        "generation": r.generation_text(),
        "virtualization_enabled": r.virtualization_enabled(),
        "arch": r.arch.map_or("unknown", hostcheck::Arch::as_str),
        "safety_host": r.safety_host,
        "qvm_started": r.qvm_starts,
        "vms": vms.iter().map(|v| json!({
            "name": v.name,
            "configs": v.configs,
            "vdevs": v.vdevs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            "pass": v.pass.iter().map(|p| p.loc.map(|l| l.to_string())).collect::<Vec<_>>(),
            "partitions": v.partitions.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            "loads": v.loads.iter().map(|l| l.path.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
        "infos": infos,
    })
}
