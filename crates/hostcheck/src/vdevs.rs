//! Family 3: every vdev a VM uses is in the image; no vdev is carried for nothing.
//!
//! `vdev foo` makes qvm load `vdev-foo.so` (on the safety-certified
//! hypervisor, `vdev-foo-safety.so`), except for the devices built into qvm
//! itself ([`implicit`]). A `vdev-*.so` that no VM uses, and
//! `pci_server-qvm_support.so` on a host that passes no PCI device through,
//! are unused components (reported only when every VM of the script could be
//! read).

use crate::host::Arch;
use crate::{Ctx, codes};
use buildfile::Entry;
use diag::Diagnostic;
use std::collections::BTreeSet;

/// The vdevs built into qvm for an architecture: no shared object is loaded
/// for them.
///
/// | architecture | built in |
/// |---|---|
/// | aarch64 | `gic` (the virtual GIC; `vdev gic` only configures it) |
/// | x86_64 | none (the local APICs, `intr apic`, are not a vdev) |
///
/// For an unknown architecture the union is used.
pub fn implicit(arch: Option<Arch>) -> &'static [&'static str] {
    match arch {
        Some(Arch::X86_64) => &[],
        Some(Arch::Aarch64) | None => &["gic"],
    }
}

/// The name of a vdev shared object (`vdev-virtio-blk.so` → `virtio-blk`,
/// `vdev-ser8250-safety.so` → `ser8250`), and whether it is a safety variant.
pub fn vdev_of_file(basename: &str) -> Option<(&str, bool)> {
    let stem = basename.strip_prefix("vdev-")?.strip_suffix(".so")?;
    if stem.is_empty() {
        return None;
    }
    Some(match stem.strip_suffix("-safety") {
        Some(s) if !s.is_empty() => (s, true),
        _ => (stem, false),
    })
}

/// The image's files for a vdev: `(normal, safety)`.
pub(crate) fn files_for<'a>(cx: &Ctx<'a>, name: &str) -> (Option<&'a Entry>, Option<&'a Entry>) {
    let normal = format!("vdev-{name}.so");
    let safety = format!("vdev-{name}-safety.so");
    (
        cx.host.by_basename(&normal).next(),
        cx.host.by_basename(&safety).next(),
    )
}

pub(crate) fn check(cx: &mut Ctx) {
    if cx.host.boot.is_none() {
        return;
    }
    let implicit = implicit(cx.host.arch);
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for vm in cx.vms {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for v in &vm.vdevs {
            used.insert(&v.name);
            if implicit.contains(&v.name.as_str()) || !seen.insert(&v.name) {
                continue;
            }
            let (normal, safety) = files_for(cx, &v.name);
            if normal.is_none() && safety.is_none() {
                let want = if cx.host.is_safety_host() {
                    format!("vdev-{}-safety.so", v.name)
                } else {
                    format!("vdev-{}.so", v.name)
                };
                let mut d = Diagnostic::new(
                    &codes::H0301,
                    format!(
                        "VM `{}` uses vdev `{}` but the image has no `{want}`",
                        vm.name, v.name
                    ),
                )
                .at(v.span, "this vdev is loaded from a shared object")
                .help(format!(
                    "add it to the buildfile: `/lib/dll/{want} = {want}`"
                ));
                let index = cx.start_of(vm).map_or(usize::MAX, |s| s.index);
                if let Some(dir) = cx.host.assumed_dir_among(&cx.host.lib_path_of(index)) {
                    // Not on this machine: it may be a directory holding the vdev.
                    d = d
                        .severity(diag::Severity::Warning)
                        .with(dir.span, "assumed present, may be a directory")
                        .note(format!(
                            "`{}` is not on this machine (--no-host-files) and may be a directory that holds it",
                            cx.host.abs_path(dir)
                        ));
                }
                out.push(cx.started_here(vm, d));
            } else if let Some(d) = off_library_path(cx, vm, v, [normal, safety]) {
                out.push(d);
            }
        }
    }
    cx.diags.extend(out);
    if !cx.all_vms_known() {
        return;
    }
    unused(cx, implicit, &used);
    let pci_pass = cx
        .vms
        .iter()
        .any(|v| v.pass.iter().any(|p| p.loc.is_some_and(|l| l.is_pci())));
    if !pci_pass {
        for e in cx.host.by_basename(crate::drivers::PCI_SUPPORT) {
            cx.diags.push(
                Diagnostic::new(
                    &codes::H0303,
                    format!(
                        "`{}` is in the image but no VM is given a PCI device",
                        cx.host.abs_path(e)
                    ),
                )
                .at(e.span, "unused component")
                .help("remove it, or pass a PCI device through (`pass loc pci:...`) to a VM"),
            );
        }
    }
}

/// H0304: the image holds the vdev, but qvm, which loads it by name through
/// the loader's search path, runs with an `LD_LIBRARY_PATH` whose
/// directories do not hold it. Said only when the boot script or the boot
/// block sets `LD_LIBRARY_PATH`: the default is not known here.
fn off_library_path(
    cx: &Ctx,
    vm: &crate::facts::VmFacts,
    v: &crate::facts::VdevUse,
    files: [Option<&Entry>; 2],
) -> Option<Diagnostic> {
    let index = cx.start_of(vm).map_or(usize::MAX, |s| s.index);
    let set = cx.host.env_of(index, "LD_LIBRARY_PATH")?;
    let path = cx.host.lib_path_of(index);
    let mut dirs: Vec<&str> = Vec::new();
    for d in path.split(':').filter(|d| !d.is_empty()) {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    let on_path = |e: &Entry| {
        dirs.iter().any(|d| {
            cx.host
                .find_followed(&format!("{d}/{}", e.basename()))
                .is_some()
        })
    };
    let files: Vec<&Entry> = files.into_iter().flatten().collect();
    if files.iter().any(|e| on_path(e)) || cx.host.assumed_dir_among(&path).is_some() {
        return None;
    }
    let first = files.first()?;
    let d = Diagnostic::new(
        &codes::H0304,
        format!(
            "VM `{}` uses vdev `{}`: the image has `{}`, but qvm's library path `{set}` does not lead to it",
            vm.name,
            v.name,
            cx.host.abs_path(first)
        ),
    )
    .at(v.span, "qvm loads this vdev by name along its library path")
    .with(first.span, "not in a directory of the library path")
    .note(format!("the directories searched: {}", dirs.join(", ")))
    .help("put the vdev in one of those directories, or add its directory to `LD_LIBRARY_PATH`");
    Some(cx.started_here(vm, d))
}

/// H0302: one finding per unused `vdev-*.so`; the first one says, once,
/// which VMs were checked.
fn unused(cx: &mut Ctx, implicit: &[&str], used: &BTreeSet<&str>) {
    let files: Vec<(&Entry, &str)> = cx
        .host
        .manifest
        .entries
        .iter()
        .filter_map(|e| vdev_of_file(e.basename()).map(|(name, _)| (e, name)))
        .filter(|(_, name)| !used.contains(name) && !implicit.contains(name))
        .collect();
    let vms: Vec<String> = cx.vms.iter().map(|v| format!("`{}`", v.name)).collect();
    let checked = if vms.is_empty() {
        "the boot script starts no VM".to_string()
    } else {
        format!(
            "checked every VM the boot script starts: {}",
            vms.join(", ")
        )
    };
    for (i, (e, name)) in files.iter().enumerate() {
        let mut d = Diagnostic::new(
            &codes::H0302,
            format!("`{}` is used by no VM", cx.host.abs_path(e)),
        )
        .at(e.span, format!("unused component: no VM has `vdev {name}`"));
        if i == 0 {
            let (others, help) = match files.len() - 1 {
                0 => (String::new(), "remove it from the buildfile"),
                1 => (
                    " (for this and the unused vdev below)".to_string(),
                    "remove them from the buildfile",
                ),
                n => (
                    format!(" (for this and the {n} unused vdevs below)"),
                    "remove them from the buildfile",
                ),
            };
            d = d.note(format!("{checked}{others}")).help(format!(
                "{help}: the host image should hold only what the host needs"
            ));
        }
        cx.diags.push(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdev_file_names() {
        assert_eq!(vdev_of_file("vdev-ser8250.so"), Some(("ser8250", false)));
        assert_eq!(
            vdev_of_file("vdev-virtio-blk-safety.so"),
            Some(("virtio-blk", true))
        );
        assert_eq!(vdev_of_file("vdev-.so"), None);
        assert_eq!(vdev_of_file("vdev--safety.so"), Some(("-safety", false)));
        assert_eq!(vdev_of_file("libvdev.so"), None);
    }
}
