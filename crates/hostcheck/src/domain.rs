//! Family 2: the host domain code.
//!
//! The image holds the `qvm` program (along the `PATH` the script runs it
//! with) and the boot script starts it, once per VM; every `qvm @PATH` names
//! a configuration file the image holds; a `qvm` in the foreground with more
//! commands after it blocks the script until that VM exits.
//!
//! Whether each configuration parses cleanly is checked where it is read
//! (see the loader); its own diagnostics point into its own file.

use crate::host::{HostView, QvmStart, basename};
use crate::{Ctx, codes};
use buildfile::EntryKind;
use diag::Diagnostic;

pub(crate) fn check(cx: &mut Ctx) {
    let host = &cx.host;
    if host.boot.is_none() {
        return;
    }
    if host.qvm_starts.is_empty() {
        return no_qvm(host, &mut cx.diags);
    }
    for s in &host.qvm_starts {
        program_missing(host, s, &mut cx.diags);
        configs(host, s, &mut cx.diags);
        foreground(host, s, &mut cx.diags);
    }
    other_arch(cx);
}

/// H0201/H0202 for a host whose boot script starts no qvm.
fn no_qvm(host: &HostView, diags: &mut Vec<Diagnostic>) {
    let anywhere = host.by_basename("qvm").next();
    match anywhere {
        Some(e) => diags.push(
            Diagnostic::new(
                &codes::H0202,
                "the boot script starts no qvm: no VM runs when the host boots",
            )
            .at(e.span, "qvm is in the image")
            .help("start one qvm per VM from the boot script: `qvm @/path/to/vm.qvmconf &`"),
        ),
        None => {
            let mut d = Diagnostic::new(
                &codes::H0201,
                "the image has no qvm program and the boot script starts none",
            )
            .help("add the host domain code, `/usr/bin/qvm = qvm` (or under /proc/boot), and start one `qvm @CONFIG &` per VM from the boot script");
            if let Some(b) = host.boot {
                d = d.at(b.span, "this hypervisor host has no qvm");
            }
            diags.push(d);
        }
    }
}

/// H0201 when the program a `qvm` line runs is not in the image.
fn program_missing(host: &HostView, s: &QvmStart, diags: &mut Vec<Diagnostic>) {
    let program = s.program;
    if host.find_program(s.index, program).is_none() {
        let elsewhere: Vec<String> = host
            .by_basename(basename(program))
            .map(|e| host.abs_path(e))
            .collect();
        let mut d = if program.contains('/') {
            Diagnostic::new(&codes::H0201, format!("`{program}` is not in the image"))
                .at(s.span(), "started here")
        } else {
            Diagnostic::new(
                &codes::H0201,
                format!(
                    "`{program}` is not in the image along PATH={}",
                    host.path_of(s.index)
                ),
            )
            .at(s.span(), "started here")
        };
        d = match elsewhere.first() {
            Some(p) => d.help(format!(
                "the image holds `{p}`: run it by that path, or add its directory to PATH"
            )),
            None => d.help("add the host domain code to the image, e.g. `/usr/bin/qvm = qvm`"),
        };
        let dirs = if program.contains('/') {
            program.rsplit_once('/').map_or("/", |(d, _)| d).to_string()
        } else {
            host.path_of(s.index)
        };
        diags.push(maybe_in_assumed_dir(host, d, &dirs, ""));
    }
}

/// `d` as a warning when one of `dirs` (a `:` list) is an entry assumed
/// present under --no-host-files: it may be a directory that holds the
/// file; `more` ends the note.
fn maybe_in_assumed_dir(host: &HostView, d: Diagnostic, dirs: &str, more: &str) -> Diagnostic {
    match host.assumed_dir_among(dirs) {
        Some(dir) => d
            .severity(diag::Severity::Warning)
            .with(dir.span, "assumed present, may be a directory")
            .note(format!(
                "`{}` is not on this machine (--no-host-files) and may be a directory that holds it{more}",
                host.abs_path(dir)
            )),
        None => d,
    }
}

/// H0207/H0203: the configurations a `qvm` line names.
fn configs(host: &HostView, s: &QvmStart, diags: &mut Vec<Diagnostic>) {
    if s.configs.is_empty() {
        diags.push(
            Diagnostic::new(
                &codes::H0207,
                "this qvm names no configuration file: its VM cannot be checked",
            )
            .at(s.span(), "no `@FILE` argument")
            .help("put the VM's configuration in a qvmconf file in the image and start `qvm @/path/vm.qvmconf`"),
        );
    }
    for c in &s.configs {
        match host.find_followed(c) {
            Some(e) if matches!(e.kind, EntryKind::File(_)) => {}
            Some(e) => diags.push(
                Diagnostic::new(&codes::H0203, format!("`{c}` is not a file in the image"))
                    .at(s.span(), "named here")
                    .with(e.span, "it is this entry")
                    .help("give the path of the VM's qvmconf file"),
            ),
            None => {
                let same: Vec<String> = host
                    .by_basename(basename(c))
                    .map(|e| host.abs_path(e))
                    .collect();
                let mut d = Diagnostic::new(&codes::H0203, format!("`{c}` is not in the image"))
                    .at(s.span(), "this qvm reads it");
                d = match same.first() {
                    Some(p) => d.help(format!("the image holds `{p}`: did you mean `qvm @{p}`?")),
                    None => d.help(format!(
                        "add the VM's configuration to the buildfile: `{c} = path/on/build/host.qvmconf`"
                    )),
                };
                let parent = c.rsplit_once('/').map_or("/", |(d, _)| d);
                diags.push(maybe_in_assumed_dir(
                    host,
                    d,
                    parent,
                    "; the VM is not checked",
                ));
            }
        }
    }
}

/// H0205: a `qvm` in the foreground with commands after it.
fn foreground(host: &HostView, s: &QvmStart, diags: &mut Vec<Diagnostic>) {
    let script_len = host.manifest.script.len();
    if !s.external.background && s.index + 1 < script_len {
        let next = &host.manifest.script[s.index + 1];
        diags.push(
            Diagnostic::new(
                &codes::H0205,
                "this qvm runs in the foreground: the rest of the boot script waits until its VM exits",
            )
            .at(s.span(), "no `&` at the end")
            .with(next.span, "not run until then")
            .help("end the line with `&` to start the VM in the background"),
        );
    }
}

/// H0208: a VM of another architecture than the host's.
fn other_arch(cx: &mut Ctx) {
    let Some(arch) = cx.host.arch else {
        return;
    };
    let mut out = Vec::new();
    for vm in cx.vms {
        if let Some(a) = &vm.arch
            && a.arch != arch
        {
            let d = Diagnostic::new(
                &codes::H0208,
                format!(
                    "VM `{}` is an {} VM ({}) but the host is {}",
                    vm.name,
                    a.arch.as_str(),
                    a.reason,
                    arch.as_str()
                ),
            )
            .at(a.span, format!("implies {}", a.arch.as_str()))
            .help(format!(
                "a VM runs on the host's CPU: configure it for {} (its vdevs and guest image)",
                arch.as_str()
            ));
            out.push(cx.started_here(vm, d));
        }
    }
    cx.diags.extend(out);
}
