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

use crate::facts::SafetyLevel;
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
    let Some(boot) = cx.host.boot else { return };
    let safety_host = cx.host.is_safety_host();
    let kernel = cx.host.kernel();
    let mut out = Vec::new();
    if safety_host {
        let why = cx.host.qvm_module.map(|m| m.span);
        let with_why = |d: Diagnostic| match why {
            Some(s) => d.with(s, "a safety host: module=qvm-safety"),
            None => d,
        };
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
    } else if cx.host.qvm_module.is_some() || cx.host.startup_q().is_some() {
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
    let _ = boot;

    // Each VM's safety levels.
    let default = if safety_host {
        SafetyLevel::Required
    } else {
        SafetyLevel::None
    };
    let implicit = implicit(cx.host.arch);
    for vm in cx.vms {
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
                None => {
                    d.note("`safety required` is the default on the safety-certified hypervisor")
                }
            };
            d = d.help(format!(
                "add `vdev-{}-safety.so` to the image, or lower the VM's safety level before this vdev",
                v.name
            ));
            out.push(cx.started_here(vm, d));
        }
        // The last level governs the kernel and the SMMU manager; on a safety
        // host their variants are already checked above.
        if safety_host {
            continue;
        }
        let Some(last) = vm.last_safety else { continue };
        let code = match last.level {
            SafetyLevel::Required => &codes::H0505,
            SafetyLevel::Warn => &codes::H0506,
            SafetyLevel::None => continue,
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
    cx.diags.extend(out);
}
