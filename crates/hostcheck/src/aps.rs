//! Family 6: adaptive partitioning.
//!
//! A `cpu partition NAME` puts a vCPU thread in an APS partition. That needs
//! the adaptive-partitioning scheduler in the kernel (`module=aps`, or
//! `module=aps-safety`) and the partition created by `sched_aps NAME ...` in
//! the boot script before the `qvm` of that VM starts. `System` always exists.

use crate::{Ctx, codes};
use buildfile::ScriptKind;
use diag::Diagnostic;
use std::collections::BTreeSet;

pub(crate) fn check(cx: &mut Ctx) {
    let Some(boot) = cx.host.boot else { return };
    let script = &cx.host.manifest.script;
    let mut out = Vec::new();
    for vm in cx.vms {
        let mut seen = BTreeSet::new();
        for p in &vm.partitions {
            if p.name == "System" || !seen.insert(p.name.as_str()) {
                continue;
            }
            if cx.host.aps_module.is_none() {
                let kernel = cx.host.kernel().map_or(boot.span, |k| k.span);
                let d = Diagnostic::new(
                    &codes::H0601,
                    format!(
                        "VM `{}` puts a vCPU in APS partition `{}` but the kernel has no adaptive-partitioning scheduler",
                        vm.name, p.name
                    ),
                )
                .at(p.span, "APS partition")
                .with(kernel, "no `module=aps` on the kernel line")
                .help("add `module=aps` (`module=aps-safety` on a safety host) to the kernel line's attributes");
                out.push(cx.started_here(vm, d));
            }
            let Some(start) = cx.start_of(vm) else {
                continue;
            };
            let created = |c: &buildfile::ScriptCommand| matches!(&c.kind, ScriptKind::SchedAps { name, .. } if *name == p.name);
            if script[..start.index].iter().any(created) {
                continue;
            }
            let mut d = Diagnostic::new(
                &codes::H0602,
                format!(
                    "VM `{}` uses APS partition `{}`, which the boot script does not create before it starts the VM",
                    vm.name, p.name
                ),
            )
            .at(p.span, "APS partition")
            .with(start.span(), format!("VM `{}` is started here", vm.name));
            if let Some(later) = script[start.index..].iter().find(|c| created(c)) {
                d = d.with(later.span, "created only here, after the VM starts");
            }
            d = d.help(format!(
                "create the partition before the qvm line: `sched_aps {} BUDGET% CRITICAL_MS`",
                p.name
            ));
            out.push(d);
        }
    }
    cx.diags.extend(out);
}
