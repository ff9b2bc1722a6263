//! The host's drivers and what each claims: the devices (addresses, I/O
//! ports, interrupts, PCI ids) a driver started by the boot script names on
//! its command line or in its configuration file, and the kind of device a
//! driver or a passed location is. The pass-through rules ([`crate::pass`])
//! compare these claims with every VM's `pass`.

use crate::facts::HostLoc;
use crate::host::{Arch, HostView, basename};
use diag::Span;
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
}
