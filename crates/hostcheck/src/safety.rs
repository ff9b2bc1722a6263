//! Family 5: safety variants.
//!
//! A host of the safety-certified hypervisor (`module=qvm-safety`) uses the
//! safety variant of everything: every `vdev-*-safety.so`, a `-safety`
//! kernel, the `smmuman-*-safety` SMMU manager, `module=aps-safety`. Each
//! VM's `safety none|warn|required` lines decide, in order, what a vdev
//! without a safety variant means for that VM: `required` an error, `warn` a
//! warning, `none` nothing; the last line also governs the kernel and SMMU
//! manager. The default level is `required` on the safety-certified
//! hypervisor and `none` otherwise. Safety variants on a host that is not a
//! safety host are reported too.

use crate::facts::{SafetyLevel, VmFacts};
use crate::vdevs::{files_for, implicit, vdev_of_file};
use crate::{Ctx, codes};
use buildfile::{DataSource, Entry};
use diag::Diagnostic;
use std::collections::BTreeSet;

fn is_smmuman(e: &Entry) -> bool {
    e.basename().starts_with("smmuman")
}

fn safety_name(name: &str) -> bool {
    name.contains("-safety")
}

/// The name of the build machine's file a program or image file is taken
/// from (a host file, or one assumed present under `--no-host-files`).
pub fn source_name(src: &DataSource) -> Option<&str> {
    match src {
        DataSource::Host { path } => path.file_name().and_then(|n| n.to_str()),
        DataSource::Assumed { name } => Some(crate::host::basename(name)),
        DataSource::Inline { .. } | DataSource::Script => None,
    }
}

/// The host file a `-safety` name is given to when that file is not itself
/// named `-safety`: a normal variant renamed, which is not a safety variant
/// (renaming a file is not enough).
pub fn renamed_from<'a>(name: &str, src: &'a DataSource) -> Option<&'a str> {
    source_name(src).filter(|from| safety_name(name) && !safety_name(from))
}

fn entry_renamed_from(e: &Entry) -> Option<&str> {
    renamed_from(e.basename(), &e.file()?.source)
}

/// A safety variant: named `-safety` in the image, and taken from a file
/// named `-safety`.
fn entry_is_safety(e: &Entry) -> bool {
    safety_name(e.basename()) && entry_renamed_from(e).is_none()
}

const RENAMED_NOTE: &str = "a file is a safety variant only if it is built as one: giving a normal variant a `-safety` name in the image is not enough";

pub(crate) fn check(cx: &mut Ctx) {
    if cx.host.boot.is_none() {
        return;
    }
    let safety_host = cx.host.is_safety_host();
    let mut out = Vec::new();
    if safety_host {
        safety_host_files(cx, &mut out);
        safety_host_kernel(cx, &mut out);
    } else if cx.host.qvm_module.is_some() || cx.host.startup_q().is_some() {
        variants_on_a_normal_host(cx, &mut out);
    }
    // Each VM's safety levels.
    let default = if safety_host {
        SafetyLevel::Required
    } else {
        SafetyLevel::None
    };
    for vm in cx.vms {
        vdev_levels(cx, vm, default, &mut out);
        if !safety_host {
            last_level(cx, vm, &mut out);
        }
    }
    cx.diags.extend(out);
}

/// Adds to a safety-host finding where the host is made one.
fn with_why<'c>(cx: &'c Ctx) -> impl Fn(Diagnostic) -> Diagnostic + 'c {
    let why = cx.host.qvm_module.map(|m| m.span);
    move |d: Diagnostic| match why {
        Some(s) => d.with(s, "a safety host: module=qvm-safety"),
        None => d,
    }
}

/// H0501/H0503 on a safety host: vdevs and SMMU managers that are not
/// safety variants.
fn safety_host_files(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let with_why = with_why(cx);
    for e in &cx.host.manifest.entries {
        match (vdev_of_file(e.basename()), entry_renamed_from(e)) {
            (Some((name, false)), _) => out.push(with_why(
                Diagnostic::new(
                    &codes::H0501,
                    format!("`{}` is not a safety variant", cx.host.abs_path(e)),
                )
                .at(e.span, "vdev of the non-certified hypervisor")
                .help(format!("use the safety variant: `vdev-{name}-safety.so`")),
            )),
            (Some((name, true)), Some(from)) => out.push(with_why(
                Diagnostic::new(
                    &codes::H0501,
                    format!(
                        "`{}` is not a safety variant: it is `{from}` renamed",
                        cx.host.abs_path(e)
                    ),
                )
                .at(e.span, format!("`{from}` given a safety name"))
                .note(RENAMED_NOTE)
                .help(format!(
                    "take the file from the safety build: `{} = vdev-{name}-safety.so`",
                    cx.host.abs_path(e)
                )),
            )),
            _ => {}
        }
        if is_smmuman(e) && !safety_name(e.basename()) {
            out.push(with_why(
                Diagnostic::new(
                    &codes::H0503,
                    format!(
                        "the SMMU manager `{}` is not a safety variant",
                        cx.host.abs_path(e)
                    ),
                )
                .at(e.span, "not `-safety`")
                .help("use the board's `smmuman-*-safety` files"),
            ));
        } else if is_smmuman(e)
            && let Some(from) = entry_renamed_from(e)
        {
            out.push(with_why(
                Diagnostic::new(
                    &codes::H0503,
                    format!(
                        "the SMMU manager `{}` is not a safety variant: it is `{from}` renamed",
                        cx.host.abs_path(e)
                    ),
                )
                .at(e.span, format!("`{from}` given a safety name"))
                .note(RENAMED_NOTE)
                .help("take the board's `smmuman-*-safety` files from the safety build"),
            ));
        }
    }
}

/// H0502/H0504 on a safety host: its kernel and scheduler module.
fn safety_host_kernel(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let with_why = with_why(cx);
    let kernel = cx.host.kernel();
    if let Some(k) = kernel
        && let Some(from) = renamed_from(&k.name, &k.source)
    {
        out.push(with_why(
            Diagnostic::new(
                &codes::H0502,
                format!(
                    "the kernel `{}` is not a safety kernel: it is `{from}` renamed",
                    k.name
                ),
            )
            .at(k.span, format!("`{from}` given a safety name"))
            .note(RENAMED_NOTE)
            .help("use the safety kernel of the certified OS (its name ends in `-safety`)"),
        ));
    }
    if let Some(k) = kernel
        && !safety_name(&k.name)
    {
        out.push(with_why(
            Diagnostic::new(
                &codes::H0502,
                format!("the kernel `{}` is not a safety kernel", k.name),
            )
            .at(k.span, "not a `-safety` kernel")
            .help("use the safety kernel of the certified OS (its name ends in `-safety`)"),
        ));
    }
    if let Some(m) = cx.host.aps_module.filter(|m| m.name == "aps") {
        out.push(with_why(
            Diagnostic::new(&codes::H0504, "`module=aps` on a safety host")
                .at(m.span, "the non-certified scheduler module")
                .help("write `module=aps-safety`"),
        ));
    }
}

/// H0507: safety variants on a host that is not a safety host.
fn variants_on_a_normal_host(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let kernel = cx.host.kernel();
    let mut variant = |span, what: String| {
        out.push(
            Diagnostic::new(
                &codes::H0507,
                format!("{what} is a safety variant on a host that is not a safety host"),
            )
            .at(span, "safety variant")
            .help("use `module=qvm-safety` for the safety-certified hypervisor, or the normal variant"),
        );
    };
    for e in &cx.host.manifest.entries {
        let is_vdev_safety = matches!(vdev_of_file(e.basename()), Some((_, true)));
        if (is_vdev_safety || is_smmuman(e)) && entry_is_safety(e) {
            variant(e.span, format!("`{}`", cx.host.abs_path(e)));
        }
    }
    if let Some(k) =
        kernel.filter(|k| safety_name(&k.name) && renamed_from(&k.name, &k.source).is_none())
    {
        variant(k.span, format!("the kernel `{}`", k.name));
    }
    if let Some(m) = cx.host.aps_module.filter(|m| m.name == "aps-safety") {
        variant(m.span, "`module=aps-safety`".into());
    }
}

/// H0505/H0506: a VM's vdevs without the safety variant its level asks for.
fn vdev_levels(cx: &Ctx, vm: &VmFacts, default: SafetyLevel, out: &mut Vec<Diagnostic>) {
    let implicit = implicit(cx.host.arch);
    let mut seen = BTreeSet::new();
    for v in &vm.vdevs {
        if implicit.contains(&v.name.as_str()) || !seen.insert(v.name.as_str()) {
            continue;
        }
        let level = v.safety.map_or(default, |s| s.level);
        let (normal, safety) = files_for(cx, &v.name);
        // A renamed normal variant is a normal variant.
        let (normal, safety) = match safety {
            Some(s) if !entry_is_safety(s) => (normal.or(Some(s)), None),
            _ => (normal, safety),
        };
        let (Some(normal), None) = (normal, safety) else {
            continue;
        };
        let code = match level {
            SafetyLevel::Required => &codes::H0505,
            SafetyLevel::Warn => &codes::H0506,
            SafetyLevel::None => continue,
        };
        let mut d = Diagnostic::new(
            code,
            format!(
                "VM `{}` runs with `safety {}` but vdev `{}` has no safety variant in the image",
                vm.name,
                level.as_str(),
                v.name
            ),
        )
        .at(v.span, format!("loads `{}`", normal.basename()))
        .with(
            normal.span,
            match entry_renamed_from(normal) {
                Some(from) => format!("`{from}` renamed: not a safety variant"),
                None => "the only variant in the image".to_string(),
            },
        );
        d = match v.safety {
            Some(s) => d.with(
                s.span,
                format!("`safety {}` in force from here", level.as_str()),
            ),
            None => d.note("`safety required` is the default on the safety-certified hypervisor"),
        };
        d = d.help(format!(
            "add `vdev-{}-safety.so` to the image, or lower the VM's safety level before this vdev",
            v.name
        ));
        out.push(cx.started_here(vm, d));
    }
}

/// H0505/H0506 on a host that is not a safety host: the last level of a
/// VM governs the kernel and the SMMU manager (on a safety host their
/// variants are checked for the host).
fn last_level(cx: &Ctx, vm: &VmFacts, out: &mut Vec<Diagnostic>) {
    let kernel = cx.host.kernel();
    let Some(last) = vm.last_safety else { return };
    let code = match last.level {
        SafetyLevel::Required => &codes::H0505,
        SafetyLevel::Warn => &codes::H0506,
        SafetyLevel::None => return,
    };
    let mut globals: Vec<(String, diag::Span)> = Vec::new();
    if let Some(k) =
        kernel.filter(|k| !safety_name(&k.name) || renamed_from(&k.name, &k.source).is_some())
    {
        globals.push((format!("the kernel `{}`", k.name), k.span));
    }
    for e in cx
        .host
        .manifest
        .entries
        .iter()
        .filter(|e| is_smmuman(e) && !entry_is_safety(e))
    {
        globals.push((
            format!("the SMMU manager `{}`", cx.host.abs_path(e)),
            e.span,
        ));
    }
    for (what, span) in globals {
        let d = Diagnostic::new(
            code,
            format!(
                "VM `{}` ends with `safety {}` but {what} is not a safety variant",
                vm.name,
                last.level.as_str()
            ),
        )
        .at(
            last.span,
            if last.span.is_empty() {
                "the last `safety` line, after the last vdev, governs the kernel and the SMMU manager"
            } else {
                "the last `safety` line governs the kernel and the SMMU manager"
            },
        )
        .with(span, "not a safety variant")
        .help("build a safety host (`module=qvm-safety`, safety kernel and SMMU manager), or lower the VM's last safety level");
        out.push(cx.started_here(vm, d));
    }
}
