//! Family 4: pass-through.
//!
//! A device passed through to a guest belongs to that guest alone:
//!
//! - `pass loc pci:...` needs the PCI server's hypervisor support module,
//!   `pci_server-qvm_support.so`, in the image;
//! - a device (memory region, I/O ports, PCI function or host interrupt)
//!   passed to two VMs is an error;
//! - a host driver started by the boot script that still claims a passed
//!   device is an error: the addresses, ports, interrupts and PCI ids named on
//!   its command line ([`claims`]) are compared with every VM's `pass`;
//! - where only the kind of the passed device is known ([`pass_kind`]) and a
//!   host driver of that kind starts without naming its device, a warning.

use crate::facts::{HostLoc, PassFacts, VmFacts};
use crate::host::{Arch, HostView, basename};
use crate::{Ctx, codes};
use diag::Diagnostic;

pub use crate::drivers::*;

fn overlap(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    a < b.saturating_add(blen.max(1)) && b < a.saturating_add(alen.max(1))
}

/// True when two host locations name (part of) the same device.
pub fn same_device(a: &HostLoc, b: &HostLoc) -> bool {
    match (*a, *b) {
        (HostLoc::Mem { start: s1, len: l1 }, HostLoc::Mem { start: s2, len: l2 })
        | (HostLoc::Io { start: s1, len: l1 }, HostLoc::Io { start: s2, len: l2 }) => {
            overlap(s1, l1, s2, l2)
        }
        (
            HostLoc::PciAddr {
                bus: b1,
                dev: d1,
                func: f1,
            },
            HostLoc::PciAddr {
                bus: b2,
                dev: d2,
                func: f2,
            },
        ) => b1 == b2 && d1 == d2 && (f1.is_none() || f2.is_none() || f1 == f2),
        (
            HostLoc::PciId {
                vendor: v1,
                device: d1,
            },
            HostLoc::PciId {
                vendor: v2,
                device: d2,
            },
        ) => v1 == v2 && d1 == d2,
        _ => false,
    }
}

fn passed(vms: &[VmFacts]) -> impl Iterator<Item = (&VmFacts, &PassFacts)> {
    vms.iter()
        .flat_map(|vm| vm.pass.iter().map(move |p| (vm, p)))
}

/// True when the script stops a driver (`slay NAME`, also behind wrappers
/// and shells) after starting it and before the `qvm` at `start`: the
/// driver no longer holds its device when the VM starts.
pub fn slain_before(host: &HostView, drv: &Driver, start: Option<usize>) -> bool {
    let Some(start) = start else { return false };
    host.externals()
        .filter(|(i, _, _)| *i > drv.index && *i < start)
        .any(|(_, _, e)| {
            crate::shell::commands_run(&e.program, &e.args)
                .iter()
                .any(|(p, args)| {
                    basename(p) == "slay"
                        && args
                            .iter()
                            .any(|a| !a.starts_with('-') && basename(a) == drv.program)
                })
        })
}

/// H0402 for two `pass` lines (`p` after `q`; `same_vm` when both are of one VM).
fn passed_twice(
    (vm, p): (&VmFacts, &PassFacts),
    (other, q): (&VmFacts, &PassFacts),
    same_vm: bool,
) -> Option<Diagnostic> {
    let loc = match (p.loc, q.loc) {
        (Some(a), Some(b)) if same_device(&a, &b) => Some((a, b)),
        _ => None,
    };
    let intr = match (p.intr, q.intr) {
        (Some(a), Some(b)) if a == b => Some(a),
        _ => None,
    };
    let with_intr = |s: String| match intr {
        Some(n) => format!("{s}, with host interrupt {n}"),
        None => s,
    };
    let (message, help) = match (loc, intr) {
        (Some((a, b)), _) => {
            let m = match (same_vm, a == b) {
                (false, true) => format!(
                    "{a} is passed through to VM `{}` and to VM `{}`",
                    other.name, vm.name
                ),
                (false, false) => format!(
                    "VM `{}` is given {b} and VM `{}` is given {a}, which overlap",
                    other.name, vm.name
                ),
                (true, true) => format!("{a} is passed through twice to VM `{}`", vm.name),
                (true, false) => format!("VM `{}` is given {b} and {a}, which overlap", vm.name),
            };
            (
                with_intr(m),
                if same_vm {
                    "pass each host device to a VM once: one `pass` line per device"
                } else {
                    "a passed-through device belongs to one guest: give it to one VM only, and a virtual device (or shared memory) to the other"
                },
            )
        }
        (None, Some(n)) => (
            if same_vm {
                format!(
                    "host interrupt {n} is passed through twice to VM `{}`",
                    vm.name
                )
            } else {
                format!(
                    "host interrupt {n} is passed through to VM `{}` and to VM `{}`",
                    other.name, vm.name
                )
            },
            if same_vm {
                "a host interrupt can be delivered to one guest interrupt only"
            } else {
                "a host interrupt can be passed through to one guest only"
            },
        ),
        (None, None) => return None,
    };
    let what = |l: Option<HostLoc>, i: Option<u32>| match (loc.and(l), intr.and(i)) {
        (Some(l), _) => format!("{l} "),
        (None, Some(i)) => format!("interrupt {i} "),
        (None, None) => String::new(),
    };
    Some(
        Diagnostic::new(&codes::H0402, message)
            .at(
                p.span,
                format!("{}passed to `{}` here", what(p.loc, p.intr), vm.name),
            )
            .with(
                q.span,
                format!(
                    "{}already passed to `{}` here",
                    what(q.loc, q.intr),
                    other.name
                ),
            )
            .help(help),
    )
}

/// H0403: what of a VM's `pass` lines a driver still names.
fn driver_claims(drv: &Driver, vm: &VmFacts) -> Option<Diagnostic> {
    let mut hits: Vec<String> = Vec::new();
    let mut given: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for p in &vm.pass {
        let found: Vec<String> = drv
            .claims
            .iter()
            .filter(|(c, _)| match c {
                Claim::Loc(l) => p.loc.is_some_and(|pl| same_device(l, &pl)),
                Claim::Irq(n) => p.intr == Some(*n),
            })
            .map(|(_, text)| format!("`{text}`"))
            .collect();
        if found.is_empty() {
            continue;
        }
        let mut g = Vec::new();
        if let Some(l) = p.loc {
            g.push(l.to_string());
        }
        if let Some(i) = p.intr {
            g.push(format!("interrupt {i}"));
        }
        let g = g.join(" with ");
        if !given.contains(&g) {
            given.push(g);
        }
        for h in found {
            if !hits.contains(&h) {
                hits.push(h);
            }
        }
        lines.push(p.span);
    }
    if lines.is_empty() {
        return None;
    }
    let what = format!("{} ({})", given.join(" and "), hits.join(", "));
    let mut d = Diagnostic::new(
        &codes::H0403,
        format!(
            "host driver `{}` still claims {what}, which {} passed through to VM `{}`",
            drv.program,
            if given.len() == 1 { "is" } else { "are" },
            vm.name
        ),
    )
    .at(drv.span, "the host starts this driver");
    for sp in lines {
        d = d.with(sp, format!("passed through to `{}` here", vm.name));
    }
    if let Some(c) = drv.config {
        d = d.with(c, format!("the configuration `{}` reads", drv.program));
    }
    Some(d.help(format!(
        "a device passed through can no longer be used by the host: remove `{}` from the boot script (and from the image if nothing else uses it), or pass another device",
        drv.program
    )))
}

/// H0404: a driver of the kind of a VM's passed devices that names no device.
fn driver_of_kind(arch: Option<Arch>, drv: &Driver, vm: &VmFacts) -> Option<Diagnostic> {
    if drv.claims.iter().any(|(c, _)| matches!(c, Claim::Loc(_))) {
        return None;
    }
    let kind = drv.kind?;
    let same: Vec<(&PassFacts, HostLoc)> = vm
        .pass
        .iter()
        .filter_map(|p| p.loc.map(|l| (p, l)))
        .filter(|(_, l)| pass_kind(arch, l) == Some(kind))
        .collect();
    let locs: Vec<String> = same.iter().map(|(_, l)| l.to_string()).collect();
    if same.is_empty() {
        return None;
    }
    let mut d = Diagnostic::new(
        &codes::H0404,
        format!(
            "host driver `{}` may drive the {} {} that {} passed through to VM `{}`",
            drv.program,
            kind.as_str(),
            locs.join(" and "),
            if locs.len() == 1 { "is" } else { "are" },
            vm.name
        ),
    )
    .at(
        drv.span,
        format!("a {} driver that names no device", kind.as_str()),
    );
    for (p, _) in &same {
        d = d.with(p.span, format!("passed through to `{}` here", vm.name));
    }
    Some(d.help(format!(
        "remove `{}` if the host does not need it, or name the device it should drive so the two can be told apart",
        drv.program
    )))
}

pub(crate) fn check(cx: &mut Ctx) {
    if cx.host.boot.is_none() {
        return;
    }
    let mut out = Vec::new();
    let support = cx.host.by_basename(PCI_SUPPORT).next().is_some();
    // PCI pass-through needs the PCI server's support module.
    if !support {
        for (vm, p) in passed(cx.vms) {
            let Some(loc) = p.loc.filter(HostLoc::is_pci) else {
                continue;
            };
            let d = Diagnostic::new(
                &codes::H0401,
                format!(
                    "VM `{}` is given the PCI device {} but the image has no `{PCI_SUPPORT}`",
                    vm.name, loc
                ),
            )
            .at(p.span, "PCI pass-through")
            .help(format!(
                "add the PCI server's hypervisor support: `/lib/dll/pci/{PCI_SUPPORT} = pci/{PCI_SUPPORT}`"
            ));
            out.push(cx.started_here(vm, d));
        }
    }
    // A device passed to two VMs, or twice to one VM.
    let all: Vec<(usize, &VmFacts, &PassFacts)> = cx
        .vms
        .iter()
        .enumerate()
        .flat_map(|(i, vm)| vm.pass.iter().map(move |p| (i, vm, p)))
        .collect();
    for (n, &(i, vm, p)) in all.iter().enumerate() {
        for &(j, other, q) in &all[..n] {
            if let Some(d) = passed_twice((vm, p), (other, q), i == j) {
                out.push(d);
            }
        }
    }
    // Host drivers that still claim a passed device: one finding per driver
    // and VM, naming every `pass` of that VM the driver collides with.
    let drivers = drivers(&cx.host);
    for drv in &drivers {
        for vm in cx.vms {
            if slain_before(&cx.host, drv, cx.start_of(vm).map(|s| s.index)) {
                continue;
            }
            if let Some(d) = driver_claims(drv, vm) {
                out.push(d);
                continue;
            }
            if let Some(d) = driver_of_kind(cx.host.arch, drv, vm) {
                out.push(d);
            }
        }
    }
    cx.diags.extend(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps() {
        let m = |start, len| HostLoc::Mem { start, len };
        assert!(same_device(&m(0x1000, 0x1000), &m(0x1fff, 1)));
        assert!(!same_device(&m(0x1000, 0x1000), &m(0x2000, 1)));
        assert!(!same_device(
            &m(0x1000, 0x1000),
            &HostLoc::Io {
                start: 0x1000,
                len: 1
            }
        ));
        let p = |func| HostLoc::PciAddr {
            bus: 0,
            dev: 3,
            func,
        };
        assert!(same_device(&p(None), &p(Some(1))));
        assert!(!same_device(&p(Some(0)), &p(Some(1))));
    }
}
