//! Parsing option values: numbers with size suffixes, location and interrupt
//! specs, scheduling, MAC addresses. Each parser returns a short reason on
//! failure; the caller turns it into a diagnostic at the token.

use crate::types::{Access, Location, PciHost, Sched, SchedPolicy};
use vdev::{Intr, PciAddr, Space};

/// A number: decimal, `0x` hex or `0d` decimal, optionally followed by `k`,
/// `m` or `g` (any case, powers of 1024).
pub fn number(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("an empty number".into());
    }
    let (body, shift) = match t.as_bytes()[t.len() - 1] {
        b'k' | b'K' => (&t[..t.len() - 1], 10),
        b'm' | b'M' => (&t[..t.len() - 1], 20),
        b'g' | b'G' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let (digits, radix) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (h, 16)
        } else if let Some(d) = body.strip_prefix("0d").or_else(|| body.strip_prefix("0D")) {
            (d, 10)
        } else {
            (body, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "`{s}` is not a number (decimal, 0x hex or 0d decimal, with an optional k/m/g)"
        ));
    }
    let v = u64::from_str_radix(digits, radix).map_err(|_| format!("`{s}` is too large"))?;
    v.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A number that must fit in `u32`.
pub fn number_u32(s: &str) -> Result<u32, String> {
    let v = number(s)?;
    u32::try_from(v).map_err(|_| format!("`{s}` is too large (at most {})", u32::MAX))
}

/// `[start,]length` of `ram`/`rom`: (start, length).
pub fn range(s: &str) -> Result<(Option<u64>, u64), String> {
    let parts: Vec<&str> = s.split(',').collect();
    match parts.as_slice() {
        [len] => Ok((None, number(len)?)),
        [start, len] => Ok((Some(number(start)?), number(len)?)),
        _ => Err(format!("`{s}` is not `[start,]length`")),
    }
}

/// A location spec for a vdev (`bare` numbers are in `default_space`).
/// `len` is `default_len` when not written.
pub fn location(s: &str, default_space: Space, default_len: u64) -> Result<Location, String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("pci:") {
        return pci_location(&s[4..]);
    }
    let (space, rest) = if lower.starts_with("mem:") {
        (Space::Mem, &s[4..])
    } else if lower.starts_with("io:") {
        (Space::Io, &s[3..])
    } else {
        (default_space, s)
    };
    let parts: Vec<&str> = rest.split(',').collect();
    let (start, len) = match parts.as_slice() {
        [a] => (number(a)?, default_len),
        [a, l] => (number(a)?, number(l)?),
        _ => return Err(format!("`{s}` is not `[mem:|io:]addr[,len]`")),
    };
    Ok(Location::Region {
        space,
        start,
        len,
        access: None,
        host: None,
    })
}

/// A pass-through location: `mem:addr,len[,flags][=hostaddr]`,
/// `io:port,len[=hostport]`, `pci:b:d[.f][=pci:...]` or `pci:vendor/device`.
pub fn pass_location(s: &str) -> Result<Location, String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("pci:") {
        let (guest, host) = match s.split_once('=') {
            Some((g, h)) => (g, Some(h)),
            None => (s, None),
        };
        let mut loc = pci_location(&guest[4..])?;
        if let (Some(h), Location::Pci { host: slot, .. }) = (host, &mut loc) {
            let hl = h.to_ascii_lowercase();
            let Some(hrest) = hl.strip_prefix("pci:") else {
                return Err(format!("the host side `{h}` is not `pci:...`"));
            };
            *slot = Some(match pci_location(hrest)? {
                Location::Pci { addr, .. } => PciHost::Addr(addr),
                Location::PciId { vendor, device } => PciHost::Id { vendor, device },
                Location::Region { .. } => return Err(format!("`{h}` is not a PCI device")),
            });
        } else if host.is_some() {
            return Err("a guest `pci:vendor/device` cannot map a host device".into());
        }
        return Ok(loc);
    }
    let (space, rest) = if lower.starts_with("mem:") {
        (Space::Mem, &s[4..])
    } else if lower.starts_with("io:") {
        (Space::Io, &s[3..])
    } else {
        (Space::Mem, s)
    };
    let (rest, host) = match rest.split_once('=') {
        Some((r, h)) => (r, Some(number(h)?)),
        None => (rest, None),
    };
    let parts: Vec<&str> = rest.split(',').collect();
    let (start, len, flags) = match parts.as_slice() {
        [a, l] => (number(a)?, number(l)?, None),
        [a, l, f] => (number(a)?, number(l)?, Some(*f)),
        _ => {
            return Err(format!(
                "`{s}` is not `[mem:|io:]addr,len[,flags][=hostaddr]`"
            ));
        }
    };
    let access = match flags {
        None => Access {
            read: true,
            write: true,
            exec: false,
            nocache: false,
        },
        Some(f) => {
            let mut a = Access::default();
            for c in f.chars() {
                match c.to_ascii_lowercase() {
                    'r' => a.read = true,
                    'w' => a.write = true,
                    'x' => a.exec = true,
                    'n' => a.nocache = true,
                    _ => {
                        return Err(format!(
                            "`{c}` is not an access flag (r read, w write, x execute, n uncached)"
                        ));
                    }
                }
            }
            a
        }
    };
    Ok(Location::Region {
        space,
        start,
        len,
        access: Some(access),
        host,
    })
}

/// The part after `pci:`: `bus:dev[.func]` or `vendor/device`.
fn pci_location(s: &str) -> Result<Location, String> {
    if let Some((v, d)) = s.split_once('/') {
        let vendor = number(v)?;
        let device = number(d)?;
        let (Ok(vendor), Ok(device)) = (u16::try_from(vendor), u16::try_from(device)) else {
            return Err(format!("`pci:{s}`: vendor and device IDs are 16-bit"));
        };
        return Ok(Location::PciId { vendor, device });
    }
    Ok(Location::Pci {
        addr: pci_addr(s)?,
        host: None,
    })
}

/// `bus:dev[.func]`.
pub fn pci_addr(s: &str) -> Result<PciAddr, String> {
    let s = s
        .strip_prefix("pci:")
        .or_else(|| s.strip_prefix("PCI:"))
        .unwrap_or(s);
    let Some((bus, rest)) = s.split_once(':') else {
        return Err(format!("`{s}` is not `bus:dev[.func]` or `vendor/device`"));
    };
    let (dev, func) = match rest.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (rest, None),
    };
    let bus = number(bus)?;
    let dev = number(dev)?;
    let func = match func {
        Some(f) => number(f)?,
        None => 0,
    };
    if bus > 255 || dev > 31 || func > 7 {
        return Err(format!("`{s}`: bus is 0–255, device 0–31, function 0–7"));
    }
    Ok(PciAddr {
        bus: bus as u8,
        dev: dev as u8,
        func: func as u8,
    })
}

/// One interrupt: `apic`, `pic:line`, `line`, with pass-through extras
/// `[,flags][=hostvector]` when `pass` is true.
pub fn intr(s: &str, pass: bool) -> Result<Intr, String> {
    if s.eq_ignore_ascii_case("apic") {
        return Ok(Intr::Apic);
    }
    let (main, host_vector) = match s.split_once('=') {
        Some((m, h)) if pass => (m, Some(number_u32(h)?)),
        Some(_) => return Err(format!("`{s}`: `=hostvector` is for `pass` only")),
        None => (s, None),
    };
    let (main, flags) = match main.split_once(',') {
        Some((m, f)) if pass => (m, Some(f.to_string())),
        Some(_) => return Err(format!("`{s}` is one interrupt `pic:line`")),
        None => (main, None),
    };
    let (pic, line) = match main.rsplit_once(':') {
        Some((p, l)) => {
            if p.is_empty() {
                return Err(format!("`{s}`: the PIC name before `:` is empty"));
            }
            (Some(p.to_string()), l)
        }
        None => (None, main),
    };
    Ok(Intr::Line {
        pic,
        line: number_u32(line)?,
        host_vector,
        flags,
    })
}

/// `prio[r|f|o]`.
pub fn sched(s: &str) -> Result<Sched, String> {
    let (digits, policy) = match s.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('r') => (&s[..s.len() - 1], Some(SchedPolicy::RoundRobin)),
        Some('f') => (&s[..s.len() - 1], Some(SchedPolicy::Fifo)),
        Some('o') => (&s[..s.len() - 1], Some(SchedPolicy::Other)),
        _ => (s, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{s}` is not a priority (a number, optionally followed by r, f or o)"
        ));
    }
    let priority: u32 = digits.parse().map_err(|_| format!("`{s}` is too large"))?;
    if priority > 255 {
        return Err(format!("priority {priority} is out of range (1–255)"));
    }
    Ok(Sched { priority, policy })
}

/// `n,n,...` of host CPU numbers.
pub fn cpu_list(s: &str) -> Result<Vec<u32>, String> {
    s.split(',').map(number_u32).collect()
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("`{s}` is not a MAC address `aa:bb:cc:dd:ee:ff`"));
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("`{s}` is not a MAC address `aa:bb:cc:dd:ee:ff`"));
        }
        m[i] = u8::from_str_radix(p, 16)
            .map_err(|_| format!("`{s}` is not a MAC address `aa:bb:cc:dd:ee:ff`"))?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_suffixes() {
        assert_eq!(number("128M"), Ok(128 << 20));
        assert_eq!(number("0xa0000"), Ok(0xa0000));
        assert_eq!(number("4K"), Ok(4096));
        assert_eq!(number("0d010"), Ok(10));
        assert_eq!(number("1g"), Ok(1 << 30));
        assert_eq!(number("0x10k"), Ok(0x4000));
        assert!(number("0x").is_err());
        assert!(number("12q").is_err());
        assert!(number("0xffffffffffffffffk").is_err());
        assert!(number("99999999999999999999").is_err());
    }

    #[test]
    fn locations() {
        assert_eq!(
            location("0x3f8", Space::Io, 8),
            Ok(Location::Region {
                space: Space::Io,
                start: 0x3f8,
                len: 8,
                access: None,
                host: None
            })
        );
        assert_eq!(
            location("io:0x441", Space::Mem, 3).map(|l| l.region()),
            Ok(Some((Space::Io, 0x441, 0x444)))
        );
        assert_eq!(
            location("pci:0:3.1", Space::Mem, 0),
            Ok(Location::Pci {
                addr: PciAddr {
                    bus: 0,
                    dev: 3,
                    func: 1
                },
                host: None
            })
        );
        assert!(location("pci:0:32", Space::Mem, 0).is_err());
    }

    #[test]
    fn pass_locations() {
        let l = pass_location("mem:0xfe204000,0x1000,rwn").unwrap();
        let Location::Region { access, host, .. } = l else {
            panic!()
        };
        let a = access.unwrap();
        assert!(a.read && a.write && a.nocache && !a.exec);
        assert_eq!(host, None);
        let l = pass_location("mem:0x2000,0x1000,r=0x1000").unwrap();
        assert!(matches!(
            l,
            Location::Region {
                host: Some(0x1000),
                ..
            }
        ));
        let l = pass_location("pci:0:12.0=pci:0x8086/0x1234").unwrap();
        assert!(matches!(
            l,
            Location::Pci {
                host: Some(PciHost::Id {
                    vendor: 0x8086,
                    device: 0x1234
                }),
                ..
            }
        ));
        assert!(pass_location("mem:0x1000,0x10,q").is_err());
    }

    #[test]
    fn interrupts() {
        assert_eq!(intr("apic", false), Ok(Intr::Apic));
        assert_eq!(
            intr("gic:44=150", true),
            Ok(Intr::Line {
                pic: Some("gic".into()),
                line: 44,
                host_vector: Some(150),
                flags: None
            })
        );
        assert!(intr("gic:44=150", false).is_err());
        assert!(intr(":4", false).is_err());
    }

    #[test]
    fn sched_and_mac() {
        assert_eq!(
            sched("10r"),
            Ok(Sched {
                priority: 10,
                policy: Some(SchedPolicy::RoundRobin)
            })
        );
        assert!(sched("x").is_err());
        assert_eq!(mac("52:54:00:00:01:02"), Ok([0x52, 0x54, 0, 0, 1, 2]));
        assert!(mac("52:54:00").is_err());
    }
}
