//! Family 1: virtualization is present, the way of the host's generation.
//!
//! - SDP 7.x: the kernel links the virtualization module: `module=qvm` (or
//!   `module=qvm-safety`) on the kernel line of the boot block.
//! - SDP 8.0: the kernel has virtualization built in; the startup program
//!   enables it with `-Q enable` (`-Q enable,el2-host` ...).
//!
//! The generation is the one given (`--sdp`), else 8.0 when the startup line
//! has `-Q`, else 7.x. Every message says which rule applied and why.

use crate::host::{Arch, Sdp, SdpSource};
use crate::{Ctx, codes};
use buildfile::{Boot, ElfInfo, Origin};
use diag::Diagnostic;

fn why(cx: &Ctx) -> String {
    match cx.host.sdp_source {
        SdpSource::Given => format!(
            "checked as SDP {} because --sdp says so",
            cx.host.sdp.as_str()
        ),
        SdpSource::StartupQ(_) => {
            "checked as SDP 8.0 because the startup line has -Q (give --sdp 7.1 to check as 7.x)"
                .into()
        }
        SdpSource::NoStartupQ | SdpSource::NotBootable => {
            "checked as SDP 7.x because the startup line has no -Q (give --sdp 8.0 to check as 8.0)"
                .into()
        }
    }
}

pub(crate) fn check(cx: &mut Ctx) {
    let Some(boot) = cx.host.boot else {
        cx.diags.push(
            Diagnostic::new(
                &codes::H0103,
                "the image has no boot block: it cannot boot as a hypervisor host",
            )
            .help("a host image starts with a boot block: `[virtual=CPU,BOOTFILE] boot = { startup ... kernel ... }`"),
        );
        return;
    };
    machines(cx, boot);
    let why = why(cx);
    let kernel = cx.host.kernel();
    let kernel_span = kernel.map_or(boot.span, |k| k.span);
    let kernel_name = kernel.map_or("the kernel", |k| k.name.as_str());
    match cx.host.sdp {
        Sdp::V7 => {
            if cx.host.qvm_module.is_none() && cx.host.manifest.origin == Origin::Image {
                cx.diags.push(
                    Diagnostic::new(
                        &codes::H0105,
                        format!("an image does not record `module=`: whether the SDP 7.x kernel `{kernel_name}` links the qvm module cannot be seen"),
                    )
                    .at(kernel_span, "the kernel")
                    .note("mkifs links `libmod_qvm.a` into the kernel when the buildfile says `module=qvm`; the image holds only the linked kernel")
                    .help("check the buildfile the image was built from to verify `module=qvm`"),
                );
            } else if cx.host.qvm_module.is_none() {
                cx.diags.push(
                    Diagnostic::new(
                        &codes::H0101,
                        format!("virtualization is not enabled: the SDP 7.x kernel `{kernel_name}` does not link the qvm module"),
                    )
                    .at(kernel_span, "no `module=qvm` on this line")
                    .note(why.clone())
                    .help("add `module=qvm` (or `module=qvm-safety` for the safety-certified hypervisor) to the kernel line's attributes: `[module=qvm] procnto-smp-instr`"),
                );
            }
            if let Some(q) = cx.host.startup_q() {
                cx.diags.push(
                    Diagnostic::new(
                        &codes::H0102,
                        format!("`-Q {q}` on the startup line of an SDP 7.x host"),
                    )
                    .at(boot.startup.span, "SDP 8.0 startup option")
                    .note(why.clone())
                    .help("SDP 7.x enables virtualization with `module=qvm` on the kernel; remove `-Q`, or check as 8.0 with --sdp 8.0"),
                );
            }
        }
        Sdp::V8 => {
            match cx.host.startup_q() {
                Some(q) if q.split(',').next() == Some("enable") => {}
                Some(q) => cx.diags.push(
                    Diagnostic::new(
                        &codes::H0101,
                        format!("virtualization is not enabled: the startup line has `-Q {q}`, not `-Q enable`"),
                    )
                    .at(boot.startup.span, "here")
                    .note(why.clone())
                    .help("write `-Q enable` (on AArch64 optionally `-Q enable,el2-host` or `-Q enable,el1-host`)"),
                ),
                None => cx.diags.push(
                    Diagnostic::new(
                        &codes::H0101,
                        format!("virtualization is not enabled: the SDP 8.0 startup program `{}` is not given -Q enable", boot.startup.name),
                    )
                    .at(boot.startup.span, "no `-Q enable` on this line")
                    .note(why.clone())
                    .help("add `-Q enable` to the startup line's options"),
                ),
            }
            if let Some(m) = cx.host.qvm_module {
                cx.diags.push(
                    Diagnostic::new(
                        &codes::H0102,
                        format!("`module={}` on an SDP 8.0 host", m.name),
                    )
                    .at(m.span, "SDP 7.x kernel module")
                    .note(why)
                    .help("SDP 8.0 kernels have virtualization built in and there is no qvm module to link: remove `module=qvm` and enable virtualization with `-Q enable` on the startup line"),
                );
            }
        }
    }
}

/// The ELF machine (`e_machine`) and class (ELF64) of a host architecture's programs.
fn machine_of(arch: Arch) -> (u16, bool) {
    match arch {
        Arch::X86_64 => (62, true),
        Arch::Aarch64 => (183, true),
    }
}

/// A name for an ELF machine and class.
fn describe(machine: u16, is_64: bool) -> String {
    let m = match machine {
        3 => "x86 (EM_386)".to_string(),
        40 => "32-bit ARM (EM_ARM)".to_string(),
        62 => "x86_64 (EM_X86_64)".to_string(),
        183 => "aarch64 (EM_AARCH64)".to_string(),
        n => format!("machine {n}"),
    };
    format!("{m}, ELF{}", if is_64 { 64 } else { 32 })
}

/// H0104: the kernel and the other bootstrap programs, and the programs
/// the boot script runs, are ELF files for the host's machine and class
/// (ELF64: the host runs no 32-bit programs).
fn machines(cx: &mut Ctx, boot: &Boot) {
    let Some(arch) = cx.host.arch else { return };
    let (machine, is_64) = machine_of(arch);
    let want = describe(machine, is_64);
    let wrong = |e: &ElfInfo| e.machine != machine || e.is_64 != is_64;
    let got = |e: &ElfInfo| describe(e.machine, e.is_64);
    let mut found: Vec<(String, diag::Span, Option<diag::Span>, String)> = Vec::new();
    // Not the startup program: how it is built is the bootfile's business.
    for (i, p) in boot.bootstrap.iter().enumerate() {
        if let Some(e) = p.elf.as_ref().filter(|e| wrong(e)) {
            let what = if i == 0 {
                "the kernel"
            } else {
                "the bootstrap program"
            };
            found.push((format!("{what} `{}`", p.name), p.span, None, got(e)));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, c, ext) in cx.host.externals() {
        let Some(entry) = cx.host.find_program(index, &ext.program) else {
            continue;
        };
        let elf = entry.file().and_then(|f| f.elf.as_ref());
        if let Some(e) = elf.filter(|e| e.is_program() && wrong(e))
            && seen.insert(entry.path.as_str())
        {
            let what = format!("`{}`, which the boot script runs,", cx.host.abs_path(entry));
            found.push((what, c.span, Some(entry.span), got(e)));
        }
    }
    for (what, span, file, got) in found {
        let mut d = Diagnostic::new(
            &codes::H0104,
            format!("{what} is built for {got}, but the host is {want}"),
        )
        .at(span, "cannot run on this host");
        if let Some(f) = file {
            d = d.with(f, format!("this file is {got}"));
        }
        cx.diags.push(
            d.note(format!(
                "the host's machine comes from {}",
                if boot.cpu.is_some() {
                    "`[virtual=...]` of the boot block"
                } else {
                    "the kernel's ELF header"
                }
            ))
            .help("take this program from the target directory of the host's architecture"),
        );
    }
}
