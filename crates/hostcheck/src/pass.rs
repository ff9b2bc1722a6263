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
use diag::{Diagnostic, Span};
use serde::Serialize;

/// The PCI server module that hands PCI devices over to qvm.
pub const PCI_SUPPORT: &str = "pci_server-qvm_support.so";

/// The kind of a device, as far as the host and pass-through rules know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Serial ports (UARTs).
    Serial,
    /// USB host controllers.
    Usb,
    /// Disk controllers (SATA/AHCI, IDE, NVMe, SD/MMC).
    Storage,
    /// Network controllers.
    Network,
    /// Audio controllers.
    Audio,
    /// Graphics.
    Graphics,
    /// I2C controllers.
    I2c,
    /// SPI controllers.
    Spi,
}

impl Kind {
    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Serial => "serial port",
            Kind::Usb => "USB controller",
            Kind::Storage => "disk controller",
            Kind::Network => "network controller",
            Kind::Audio => "audio controller",
            Kind::Graphics => "graphics device",
            Kind::I2c => "I2C controller",
            Kind::Spi => "SPI controller",
        }
    }
}

/// The kind of device a host driver program drives, from its name.
///
/// | program | kind |
/// |---|---|
/// | `devc-ser*` | serial |
/// | `io-usb-otg`, `io-usb`, `devu-*` | USB |
/// | `devb-*` (except `devb-umass`, `devb-ram`, `devb-loopback`) | storage |
/// | `io-pkt*`, `io-sock`, `devnp-*`, `devs-*` | network |
/// | `io-audio`, `deva-*` | audio |
/// | `screen`, `devg-*` | graphics |
/// | `i2c-*` | I2C |
/// | `spi-*` | SPI |
pub fn driver_kind(program: &str) -> Option<Kind> {
    let p = basename(program);
    if p.starts_with("devc-ser") {
        Some(Kind::Serial)
    } else if p == "io-usb-otg" || p == "io-usb" || p.starts_with("devu-") {
        Some(Kind::Usb)
    } else if p.starts_with("devb-") && !matches!(p, "devb-umass" | "devb-ram" | "devb-loopback") {
        Some(Kind::Storage)
    } else if p.starts_with("io-pkt")
        || p == "io-sock"
        || p.starts_with("devnp-")
        || p.starts_with("devs-")
    {
        Some(Kind::Network)
    } else if p == "io-audio" || p.starts_with("deva-") {
        Some(Kind::Audio)
    } else if p == "screen" || p.starts_with("devg-") {
        Some(Kind::Graphics)
    } else if p.starts_with("i2c-") {
        Some(Kind::I2c)
    } else if p.starts_with("spi-") {
        Some(Kind::Spi)
    } else {
        None
    }
}

/// The kind of a passed device, where its location tells it.
///
/// | architecture | location | kind |
/// |---|---|---|
/// | x86_64 | `io:0x3f8`, `io:0x2f8`, `io:0x3e8`, `io:0x2e8` (COM1–4) | serial |
/// | x86_64 | `pci:0:20.0` (Intel PCH xHCI), `pci:0:26.0`, `pci:0:29.0` (EHCI) | USB |
/// | x86_64 | `pci:0:23.0`, `pci:0:31.2` (Intel PCH SATA) | storage |
/// | x86_64 | `pci:0:31.3`, `pci:0:27.0` (Intel HD audio) | audio |
/// | x86_64 | `pci:0:31.6` (Intel PCH gigabit Ethernet) | network |
/// | x86_64 | `pci:0:2.0` (Intel integrated graphics) | graphics |
///
/// Anything else (every AArch64 region: board-specific) has no known kind.
pub fn pass_kind(arch: Option<Arch>, loc: &HostLoc) -> Option<Kind> {
    if arch == Some(Arch::Aarch64) {
        return None;
    }
    match *loc {
        HostLoc::Io {
            start: 0x3f8 | 0x2f8 | 0x3e8 | 0x2e8,
            ..
        } => Some(Kind::Serial),
        HostLoc::PciAddr { bus: 0, dev, func } => match (dev, func.unwrap_or(0)) {
            (20, 0) | (26, 0) | (29, 0) => Some(Kind::Usb),
            (23, 0) | (31, 2) => Some(Kind::Storage),
            (31, 3) | (27, 0) => Some(Kind::Audio),
            (31, 6) => Some(Kind::Network),
            (2, 0) => Some(Kind::Graphics),
            _ => None,
        },
        _ => None,
    }
}

/// What a host driver's command line says it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// A memory region, I/O ports or a PCI function.
    Loc(HostLoc),
    /// An interrupt.
    Irq(u32),
}

/// One host driver of the boot script.
#[derive(Debug, Clone)]
pub struct Driver {
    /// Index in the script.
    pub index: usize,
    /// Its line.
    pub span: Span,
    /// The program's name.
    pub program: String,
    /// Its kind, from the name.
    pub kind: Option<Kind>,
    /// What it names, each with the argument it came from.
    pub claims: Vec<(Claim, String)>,
    /// The image entry of a configuration file it reads claims from, if any.
    pub config: Option<Span>,
}

fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// A serial driver's device spec: `addr[^shift][,irq]`.
fn serial_spec(arg: &str) -> Option<(u64, Option<u32>)> {
    let (addr, irq) = match arg.split_once(',') {
        Some((a, i)) => (a, Some(u32::try_from(number(i)?).ok()?)),
        None => (arg, None),
    };
    let addr = addr.split_once('^').map_or(addr, |(a, _)| a);
    Some((number(addr)?, irq))
}

/// The `key=value` claims of one word (comma-separated items).
fn key_values(word: &str, text: &str, out: &mut Vec<(Claim, String)>) {
    let mut vid = None;
    let mut did = None;
    for item in word.split(',') {
        let Some((k, v)) = item.split_once('=') else {
            continue;
        };
        let Some(n) = number(v) else { continue };
        match k.trim().trim_start_matches('-') {
            "base" | "mem" | "smem" | "paddr" | "addr" | "memaddr" | "regbase" => out.push((
                Claim::Loc(HostLoc::Mem { start: n, len: 1 }),
                text.to_string(),
            )),
            "ioport" | "port" => out.push((
                Claim::Loc(HostLoc::Io { start: n, len: 1 }),
                text.to_string(),
            )),
            "irq" | "intr" => {
                if let Ok(n) = u32::try_from(n) {
                    out.push((Claim::Irq(n), text.to_string()));
                }
            }
            "vid" => vid = u16::try_from(n).ok(),
            "did" => did = u16::try_from(n).ok(),
            _ => {}
        }
    }
    if let (Some(vendor), Some(device)) = (vid, did) {
        out.push((
            Claim::Loc(HostLoc::PciId { vendor, device }),
            text.to_string(),
        ));
    }
}

/// The SPI framework's default configuration file (`spi-* -c FILE` overrides it).
pub const SPI_CONFIG: &str = "/etc/system/config/spi/spi.conf";

/// The configuration file an `spi-*` driver reads: `-c FILE`, else [`SPI_CONFIG`].
pub fn spi_config(args: &[String]) -> String {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-c" {
            if let Some(f) = it.next() {
                return f.clone();
            }
        } else if let Some(f) = a.strip_prefix("-c") {
            return f.to_string();
        }
    }
    SPI_CONFIG.to_string()
}

/// Claims in a driver's configuration file: every `key=value` line
/// (`base=0xfe204000`, `irq=150`), sections and comments skipped.
pub fn config_claims(text: &str, path: &str) -> Vec<(Claim, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('[') {
            continue;
        }
        key_values(l, &format!("{l}` in `{path}"), &mut out);
    }
    out
}

/// Reads the claims of one command line.
///
/// - every program: `key=value` words and comma-separated items:
///   `base=`, `mem=`, `smem=`, `paddr=`, `addr=`, `memaddr=`, `regbase=` (memory);
///   `ioport=`, `port=` (I/O ports, x86); `irq=`, `intr=` (interrupt);
///   `vid=` with `did=` in the same word (a PCI id);
/// - `devc-ser*`: positional `addr[^shift][,irq]` (I/O ports for
///   `devc-ser8250` on x86_64, memory otherwise);
/// - `i2c-*`: `-p addr` (memory) and `-i irq`.
pub fn claims(arch: Option<Arch>, program: &str, args: &[String]) -> Vec<(Claim, String)> {
    let p = basename(program);
    let mut out = Vec::new();
    let io_serial = p == "devc-ser8250" && arch != Some(Arch::Aarch64);
    let mut skip_next = false;
    for (i, a) in args.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        key_values(a, a, &mut out);
        if p.starts_with("devc-ser") {
            if a.len() == 2 && a.starts_with('-') && "bcCIOutTm".contains(&a[1..]) {
                skip_next = true;
                continue;
            }
            if !a.starts_with('-')
                && !a.contains('=')
                && let Some((addr, irq)) = serial_spec(a)
            {
                let loc = if io_serial {
                    HostLoc::Io {
                        start: addr,
                        len: 8,
                    }
                } else {
                    HostLoc::Mem {
                        start: addr,
                        len: 1,
                    }
                };
                out.push((Claim::Loc(loc), a.clone()));
                if let Some(irq) = irq {
                    out.push((Claim::Irq(irq), a.clone()));
                }
            }
        }
        if p.starts_with("i2c-") {
            let (opt, val) = if a == "-p" || a == "-i" {
                skip_next = true;
                (a.as_str(), args.get(i + 1).map(String::as_str))
            } else if a.starts_with("-p") || a.starts_with("-i") {
                (&a[..2], Some(&a[2..]))
            } else {
                continue;
            };
            let Some(n) = val.and_then(number) else {
                continue;
            };
            let text = val.map_or(a.clone(), |v| format!("{opt} {v}"));
            match opt {
                "-p" => out.push((Claim::Loc(HostLoc::Mem { start: n, len: 1 }), text)),
                _ => {
                    if let Ok(n) = u32::try_from(n) {
                        out.push((Claim::Irq(n), text));
                    }
                }
            }
        }
    }
    out
}

/// Every command of the boot script that is a host driver (a known kind, or
/// naming a device), except `qvm` and `pci-server`.
pub fn drivers(host: &HostView) -> Vec<Driver> {
    host.externals()
        .flat_map(|(index, c, e)| {
            crate::shell::commands_run(&e.program, &e.args)
                .into_iter()
                .map(move |(program, args)| (index, c, program, args))
        })
        .filter(|(_, _, program, _)| !matches!(basename(program), "qvm" | "pci-server"))
        .filter_map(|(index, c, program, args)| {
            let kind = driver_kind(&program);
            let mut claims = claims(host.arch, &program, &args);
            let mut config = None;
            if basename(&program).starts_with("spi-") {
                let path = spi_config(&args);
                if let Some(entry) = host.find_followed(&path)
                    && let Some(text) = file_text(entry)
                {
                    let found = config_claims(&text, &path);
                    if !found.is_empty() {
                        config = Some(entry.span);
                        claims.extend(found);
                    }
                }
            }
            (kind.is_some() || !claims.is_empty()).then(|| Driver {
                index,
                span: c.span,
                program: basename(&program).to_string(),
                kind,
                claims,
                config,
            })
        })
        .collect()
}

/// The text of a small file of the image: inline contents, or a host file
/// that can be read here (at most 1 MiB).
fn file_text(e: &buildfile::Entry) -> Option<String> {
    use std::io::Read;
    let f = e.file()?;
    let bytes = match &f.source {
        buildfile::DataSource::Inline { bytes } => bytes.clone(),
        buildfile::DataSource::Host { path } => {
            let mut b = Vec::new();
            std::fs::File::open(path)
                .ok()?
                .take(1 << 20)
                .read_to_end(&mut b)
                .ok()?;
            b
        }
        _ => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

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

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn serial_claims() {
        let c = claims(
            Some(Arch::X86_64),
            "devc-ser8250",
            &s(&["-e", "-b", "115200", "0x2f8,3", "0x3f8^0"]),
        );
        assert_eq!(
            c.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [
                Claim::Loc(HostLoc::Io {
                    start: 0x2f8,
                    len: 8
                }),
                Claim::Irq(3),
                Claim::Loc(HostLoc::Io {
                    start: 0x3f8,
                    len: 8
                }),
            ]
        );
        let c = claims(
            Some(Arch::Aarch64),
            "devc-serpl011",
            &s(&["-e", "0x1c090000,37"]),
        );
        assert_eq!(
            c[0].0,
            Claim::Loc(HostLoc::Mem {
                start: 0x1c090000,
                len: 1
            })
        );
        assert_eq!(c[1].0, Claim::Irq(37));
    }

    #[test]
    fn generic_and_i2c_claims() {
        let c = claims(
            Some(Arch::Aarch64),
            "spi-master",
            &s(&["-d", "mx51ecspi", "base=0x2008000,irq=63"]),
        );
        assert_eq!(
            c[0].0,
            Claim::Loc(HostLoc::Mem {
                start: 0x2008000,
                len: 1
            })
        );
        assert_eq!(c[1].0, Claim::Irq(63));
        let c = claims(
            Some(Arch::X86_64),
            "io-pkt-v6-hc",
            &s(&["-d", "e1000", "vid=0x8086,did=0x10d3"]),
        );
        assert_eq!(
            c[0].0,
            Claim::Loc(HostLoc::PciId {
                vendor: 0x8086,
                device: 0x10d3
            })
        );
        let c = claims(
            Some(Arch::Aarch64),
            "i2c-imx",
            &s(&["-p", "0x30a20000", "-i67"]),
        );
        assert_eq!(
            c[0].0,
            Claim::Loc(HostLoc::Mem {
                start: 0x30a20000,
                len: 1
            })
        );
        assert_eq!(c[1].0, Claim::Irq(67));
        assert!(claims(Some(Arch::X86_64), "ksh", &s(&["-i"])).is_empty());
    }

    #[test]
    fn spi_configuration_files() {
        assert_eq!(spi_config(&s(&[])), SPI_CONFIG);
        assert_eq!(spi_config(&s(&["-c", "/etc/spi0.conf"])), "/etc/spi0.conf");
        assert_eq!(spi_config(&s(&["-c/etc/spi1.conf"])), "/etc/spi1.conf");
        let c = config_claims(
            "# comment\n[bus]\nbusno=0\nbase=0xfe204000\nirq=150\n\n[dev]\nname=dev0\n",
            "/x.conf",
        );
        assert_eq!(
            c.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [
                Claim::Loc(HostLoc::Mem {
                    start: 0xfe204000,
                    len: 1
                }),
                Claim::Irq(150)
            ]
        );
        assert_eq!(c[0].1, "base=0xfe204000` in `/x.conf");
    }

    #[test]
    fn kinds() {
        assert_eq!(driver_kind("/proc/boot/io-usb-otg"), Some(Kind::Usb));
        assert_eq!(driver_kind("devb-umass"), None);
        assert_eq!(
            pass_kind(
                Some(Arch::X86_64),
                &HostLoc::PciAddr {
                    bus: 0,
                    dev: 20,
                    func: None
                }
            ),
            Some(Kind::Usb)
        );
        assert_eq!(
            pass_kind(
                Some(Arch::Aarch64),
                &HostLoc::Io {
                    start: 0x3f8,
                    len: 8
                }
            ),
            None
        );
    }

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
