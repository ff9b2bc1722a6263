//! Family 7: guest images.
//!
//! Every file a VM loads (`load PATH`) is either in the image, or expected on
//! a filesystem the host mounts at run time (reported as information, naming
//! the path). A path that names a directory of the image, or a file under
//! `/proc/boot` that the image does not hold (nothing else can appear there),
//! is an error. Relative paths are taken from `/`, qvm's working directory
//! when the boot script starts it. When the boot script runs `mount ... DIR`
//! for a directory that holds the path before the VM's `qvm` line, the
//! message points at that line.

use crate::host::{absolute, basename};
use crate::{Ctx, codes};
use buildfile::EntryKind;
use diag::Diagnostic;

pub(crate) fn check(cx: &mut Ctx) {
    if cx.host.boot.is_none() {
        return;
    }
    let mut out = Vec::new();
    for vm in cx.vms {
        for l in &vm.loads {
            let abs = absolute(&l.path);
            match cx.host.find_followed(&abs) {
                Some(e) if matches!(e.kind, EntryKind::File(_)) => {}
                Some(e) => {
                    let d = Diagnostic::new(
                        &codes::H0702,
                        format!(
                            "VM `{}` loads `{abs}`, which is not a file in the image",
                            vm.name
                        ),
                    )
                    .at(l.span, "loaded here")
                    .with(e.span, "it is this entry")
                    .help("give the path of the guest image file");
                    out.push(cx.started_here(vm, d));
                }
                None if abs.starts_with("/proc/boot/") => {
                    let d = Diagnostic::new(
                        &codes::H0702,
                        format!("VM `{}` loads `{abs}`, which the image does not hold", vm.name),
                    )
                    .at(l.span, "loaded here")
                    .note("/proc/boot holds only the image's own files: nothing mounted at run time appears there")
                    .help(format!("add the guest image to the buildfile: `{abs} = path/on/build/host`"));
                    out.push(cx.started_here(vm, d));
                }
                None => {
                    // A `mount ... DIR` before the VM starts that holds the path.
                    let before = cx.start_of(vm).map_or(usize::MAX, |s| s.index);
                    let mounted = cx
                        .host
                        .externals()
                        .filter(|(i, _, _)| *i < before)
                        .find_map(|(_, c, e)| {
                            let dir = e.args.last().filter(|_| basename(&e.program) == "mount")?;
                            let dir = absolute(dir);
                            let inside = dir == "/" || abs.starts_with(&format!("{dir}/"));
                            inside.then_some((dir, c.span))
                        });
                    let d = Diagnostic::new(
                        &codes::H0701,
                        format!(
                            "VM `{}` loads `{abs}`, which is not in the image: it is expected on a filesystem mounted at run time",
                            vm.name
                        ),
                    )
                    .at(l.span, "loaded from outside the image");
                    let d = match mounted {
                        Some((dir, span)) => d.with(span, format!("`{dir}` is mounted here")),
                        None => d.help(format!(
                            "make sure a filesystem holding `{abs}` is mounted before the VM starts, or add the file to the image"
                        )),
                    };
                    out.push(cx.started_here(vm, d));
                }
            }
        }
    }
    cx.diags.extend(out);
}
