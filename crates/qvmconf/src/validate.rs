//! Checks that need the whole configuration, and the placements they
//! decide: default vCPU, architecture, device locations, PCI slots, load
//! addresses, overlaps, interrupts.

use crate::codes;
use crate::config::*;
use crate::parse::Facts;
use crate::schema;
use diag::{Diagnostic, Span};
use std::collections::HashMap;
use vdev::Attachment;

/// First PCI device number handed out automatically (0 is the host bridge).
pub const FIRST_AUTO_PCI_DEV: u8 = 1;

/// Runs every check on a parsed configuration, resolving placements.
/// `load_arch` holds the architecture each load's contents implied.
pub(crate) fn validate(
    cfg: &mut VmConfig,
    facts: &Facts,
    load_arch: &[Option<Arch>],
    diags: &mut Vec<Diagnostic>,
) {
    if cfg.cpus.is_empty() {
        cfg.cpus.push(Vcpu {
            index: 0,
            sched: None,
            runmask: Vec::new(),
            runmask_span: None,
            partition: None,
            cluster: None,
            implicit: true,
            span: Span::default(),
        });
    }
    arch(cfg, load_arch, diags);
    ram_first(cfg, facts, diags);
    attach(cfg, diags);
    pci(cfg, diags);
    place_loads(cfg, diags);
    overlaps(cfg, diags);
    names(cfg, diags);
    interrupts(cfg, diags);
}

fn arch(cfg: &mut VmConfig, load_arch: &[Option<Arch>], diags: &mut Vec<Diagnostic>) {
    let mut evidence: Vec<ArchEvidence> = Vec::new();
    for v in &cfg.vdevs {
        if let Some(a) = v.kind.decl().arch {
            evidence.push(ArchEvidence {
                arch: a,
                reason: format!("vdev {}", v.kind.name()),
                span: v.span,
            });
        }
    }
    for (l, a) in cfg.loads.iter().zip(load_arch) {
        if let Some(a) = a {
            let what = match &l.detected {
                ImageType::Elf { machine, .. } => format!("an {machine} ELF"),
                ImageType::BzImage { .. } => "a Linux x86 bzImage".into(),
                ImageType::Arm64Image { .. } => "a Linux arm64 Image".into(),
                ImageType::Ifs => format!("a QNX {} IFS", a.as_str()),
                _ => "an image".into(),
            };
            evidence.push(ArchEvidence {
                arch: *a,
                reason: format!("load of {what}"),
                span: l.path.span,
            });
        }
    }
    let Some(first) = evidence.first().cloned() else {
        return;
    };
    if let Some(other) = evidence.iter().find(|e| e.arch != first.arch) {
        let (x86, arm) = if first.arch == Arch::X86_64 {
            (&first, other)
        } else {
            (other, &first)
        };
        diags.push(
            Diagnostic::new(
                &codes::Q0209,
                format!(
                    "the configuration mixes x86_64 ({}) and aarch64 ({})",
                    x86.reason, arm.reason
                ),
            )
            .at(other.span, format!("{}: {}", other.reason, other.arch.as_str()))
            .with(first.span, format!("{}: {}", first.reason, first.arch.as_str()))
            .help("a VM has one architecture: use x86 devices (8259, ioapic, ser8250, ...) for an x86_64 guest and ARM ones (gic, pl011, wdt-sp805) for an aarch64 guest"),
        );
    }
    cfg.arch = Some(first);
}

fn ram_first(cfg: &VmConfig, facts: &Facts, diags: &mut Vec<Diagnostic>) {
    let first_ram = facts.first_ram;
    if first_ram.is_none() && facts.ram_written {
        return; // every `ram` was refused: those errors say what to fix
    }
    for (l, after) in cfg.loads.iter().zip(&facts.load_after_ram) {
        if *after {
            continue;
        }
        match first_ram {
            Some(r) => diags.push(
                Diagnostic::new(&codes::Q0202, format!("`load {}` comes before any `ram`", l.path.value))
                    .at(l.span, "loads into guest memory")
                    .with(r, "the first `ram` is only here")
                    .help("move the `ram` (and `rom`) options before the first `load`: qvm places loads in the memory defined so far"),
            ),
            None => {
                diags.push(
                    Diagnostic::new(&codes::Q0203, "the VM has no RAM, but loads a file")
                        .at(l.span, "this load needs guest RAM")
                        .help("add `ram [start,]length` before the load, e.g. `ram 0x80000000,512M` on ARM or `ram 0,0xa0000` + `ram 1m,255m` on x86"),
                );
                return;
            }
        }
    }
}

fn attach(cfg: &mut VmConfig, diags: &mut Vec<Diagnostic>) {
    let mut pic8259_seen = 0u8;
    for v in &mut cfg.vdevs {
        let kind = v.kind;
        v.attach = match &v.loc {
            Some(l) => explicit_attach(kind, l, diags),
            None => default_attach(v, &mut pic8259_seen, diags),
        };
        // A memory-mapped virtio device raises an interrupt that must be named.
        if kind.decl().attachment == Attachment::Virtio
            && matches!(v.attach, Attach::Region { .. })
            && v.intr.is_empty()
        {
            diags.push(
                Diagnostic::new(
                    &codes::Q0213,
                    format!("`vdev {}` at a memory location needs `intr`", kind.name()),
                )
                .at(v.loc.as_ref().map(|l| l.span).unwrap_or(v.span), "memory-mapped (virtio-mmio)")
                .with(v.span, "this vdev")
                .help("add `intr gic:N` (ARM) or `intr myioapic:N` (x86); without `loc` the device is a PCI device and gets its interrupt from PCI"),
            );
        }
    }
}

/// Where a vdev with `loc` is, after checking the location.
fn explicit_attach(kind: VdevKind, l: &Spanned<Location>, diags: &mut Vec<Diagnostic>) -> Attach {
    match &l.value {
        Location::Region {
            space, start, len, ..
        } => {
            if *len == 0 {
                diags.push(
                    Diagnostic::new(&codes::Q0214, "a device region of zero length")
                        .at(l.span, "length 0"),
                );
            } else if start.checked_add(*len - 1).is_none() {
                diags.push(
                    Diagnostic::new(
                        &codes::Q0214,
                        "this region wraps past the end of the address space",
                    )
                    .at(l.span, "this region"),
                );
            }
            if *space == Space::Io && start.saturating_add(*len) > 0x1_0000 {
                diags.push(
                Diagnostic::new(&codes::Q0104, "an I/O port region beyond port 0xffff")
                    .at(l.span, "x86 has 65536 ports")
                    .help("an I/O location is a port number below 0x10000; write `mem:ADDR` for a memory location"),
            );
            }
            Attach::Region {
                space: *space,
                start: *start,
                len: *len,
                explicit: true,
            }
        }
        Location::Pci { addr, .. } if pci_without_loc(kind) => Attach::Pci {
            addr: *addr,
            explicit: true,
        },
        _ => {
            diags.push(
            Diagnostic::new(
                &codes::Q0104,
                format!("`vdev {}` cannot be at a PCI location", kind.name()),
            )
            .at(l.span, "a PCI location")
            .help("PCI locations (`pci:0:dev`) are for virtio devices, shmem, pci-dummy and vgpu-gvtg; a guest PCI device is named by bus:dev[.func], not vendor/device"),
        );
            Attach::None
        }
    }
}

/// Where a vdev without `loc` is: its default place, a PCI slot (allocated
/// later), the next 8259 port, or nowhere.
fn default_attach(v: &Vdev, pic8259_seen: &mut u8, diags: &mut Vec<Diagnostic>) -> Attach {
    let kind = v.kind;
    if kind == VdevKind::Pic8259 {
        *pic8259_seen += 1;
        let port = if *pic8259_seen == 1 { 0x20 } else { 0xa0 };
        Attach::Region {
            space: Space::Io,
            start: port,
            len: 2,
            explicit: false,
        }
    } else if let Some(start) = kind.decl().default_loc {
        let space = kind.decl().space;
        Attach::Region {
            space,
            start,
            len: kind.decl().len,
            explicit: false,
        }
    } else if pci_without_loc(kind) {
        // Allocated in `pci`.
        Attach::Pci {
            addr: PciAddr {
                bus: 0,
                dev: 0,
                func: 0,
            },
            explicit: false,
        }
    } else {
        if kind.decl().needs_loc {
            diags.push(
                Diagnostic::new(
                    &codes::Q0213,
                    format!("`vdev {}` needs `loc`", kind.name()),
                )
                .at(v.span, "no location")
                .help(format!(
                    "give the guest-physical address, e.g. `loc 0x1c090000`; the {} is memory-mapped and has no default address",
                    kind.name()
                )),
            );
        }
        Attach::None
    }
}

/// Who uses a PCI address.
struct PciUser {
    addr: PciAddr,
    span: Span,
    what: String,
}

fn pci(cfg: &mut VmConfig, diags: &mut Vec<Diagnostic>) {
    let mut used: Vec<PciUser> = Vec::new();
    let mut check = |addr: PciAddr, span: Span, what: String, diags: &mut Vec<Diagnostic>| {
        if addr.bus != 0 {
            diags.push(
                Diagnostic::new(
                    &codes::Q0206,
                    format!("guest PCI address {addr} is on bus {}", addr.bus),
                )
                .at(span, format!("{what}: bus {}", addr.bus))
                .help(format!(
                    "the guest has one PCI bus: write `pci:0:{}.{}`",
                    addr.dev, addr.func
                )),
            );
        }
        if let Some(u) = used.iter().find(|u| u.addr == addr) {
            diags.push(
                Diagnostic::new(&codes::Q0207, format!("guest PCI address {addr} is used twice"))
                    .at(span, format!("{what} at {addr}"))
                    .with(u.span, format!("{} at {addr}", u.what))
                    .help("give one of them another device number, or drop its `loc` to have one allocated"),
            );
        }
        used.push(PciUser { addr, span, what });
    };
    for r in &cfg.reserves {
        if let Some(Spanned {
            value: Location::Pci { addr, .. },
            span,
        }) = &r.loc
        {
            check(*addr, *span, "reserved".into(), diags);
        }
    }
    for p in &cfg.passes {
        if let Some(Spanned {
            value: Location::Pci { addr, .. },
            span,
        }) = &p.loc
        {
            check(*addr, *span, "passed-through device".into(), diags);
        }
    }
    for v in &cfg.vdevs {
        if let Attach::Pci {
            addr,
            explicit: true,
        } = v.attach
        {
            let span = v.loc.as_ref().map(|l| l.span).unwrap_or(v.span);
            check(addr, span, format!("vdev {}", v.kind.name()), diags);
        }
    }
    let mut taken = [false; 32];
    taken[0] = true;
    for u in &used {
        if u.addr.bus == 0 {
            taken[usize::from(u.addr.dev)] = true;
        }
    }
    let mut exhausted = false;
    for v in &mut cfg.vdevs {
        if let Attach::Pci {
            addr,
            explicit: false,
        } = &mut v.attach
        {
            match (usize::from(FIRST_AUTO_PCI_DEV)..32).find(|&d| !taken[d]) {
                Some(d) => {
                    taken[d] = true;
                    addr.dev = d as u8;
                }
                None => {
                    if !exhausted {
                        diags.push(
                            Diagnostic::new(&codes::Q0208, "no PCI device number is left on bus 0 for this vdev")
                                .at(v.span, "needs a PCI slot")
                                .note("bus 0 has device numbers 1 to 31 for devices (0 is the host bridge); `pass` and `reserve` take some")
                                .help("give virtio devices a `loc` and `intr` to make them memory-mapped (virtio-mmio), or drop some devices"),
                        );
                    }
                    exhausted = true;
                    v.attach = Attach::None;
                }
            }
        }
    }
}

fn place_loads(cfg: &mut VmConfig, diags: &mut Vec<Diagnostic>) {
    let ram: Vec<(u64, u64)> = cfg
        .memory
        .iter()
        .filter(|r| r.kind == MemKind::Ram)
        .map(|r| (r.start, r.end()))
        .collect();
    let Some(&(first_start, _)) = ram.first() else {
        return;
    };
    let top = ram.iter().map(|r| r.1).max().unwrap_or(0);
    let mut entry_set = false;
    // (start, end, index) of loads whose extent is known, for the overlap check.
    let mut extents: Vec<(u64, u64, usize)> = Vec::new();
    for (index, l) in cfg.loads.iter_mut().enumerate() {
        let (at, entry) = match (&l.detected, l.addr) {
            (_, Some(a)) => (Some(a), None),
            (
                ImageType::Elf {
                    entry, load_addr, ..
                },
                None,
            ) if l.kind == LoadKind::Image => (Some(*load_addr), Some(*entry)),
            (ImageType::BzImage { .. }, None) if l.kind == LoadKind::Image => {
                (Some(0x10_0000), Some(0x10_0000))
            }
            (ImageType::Arm64Image { text_offset }, None) if l.kind == LoadKind::Image => {
                let base = first_start.div_ceil(0x20_0000) * 0x20_0000;
                let a = base.saturating_add(*text_offset);
                (Some(a), Some(a))
            }
            (_, None) => match l.kind {
                LoadKind::Initrd => (
                    l.size.and_then(|s| top.checked_sub(s)).map(|a| a & !0xfff),
                    None,
                ),
                // Raw bytes and IFSs start at the first byte of RAM; an
                // image not read (its type unknown) is placed at boot.
                LoadKind::Image if l.detected != ImageType::Unknown => (Some(first_start), None),
                _ => (None, None),
            },
        };
        l.placed_at = at;
        if l.kind == LoadKind::Image && !entry_set {
            l.entry = entry.or(at);
            entry_set = l.entry.is_some();
        }
        let Some(at) = at else { continue };
        let len = match &l.detected {
            ImageType::Elf { mem_size, .. } if l.addr.is_none() => *mem_size,
            _ => l.size.unwrap_or(1),
        }
        .max(1);
        let end = at.saturating_add(len);
        let known = l.size.is_some() || matches!(l.detected, ImageType::Elf { .. });
        if known {
            extents.push((at, end, index));
        }
        if !ram.iter().any(|&(s, e)| at >= s && end <= e) {
            let ranges: Vec<String> = ram
                .iter()
                .map(|(s, e)| format!("{s:#x}-{:#x}", e - 1))
                .collect();
            diags.push(
                Diagnostic::new(
                    &codes::Q0212,
                    format!(
                        "`{}` is placed at {at:#x}-{:#x}, not inside guest RAM",
                        l.path.value,
                        end - 1
                    ),
                )
                .at(l.span, "loaded here")
                .note(format!("guest RAM: {}", ranges.join(", ")))
                .help("give the load an address inside RAM (`load ADDR,FILE`), or add RAM that covers it"),
            );
        }
    }
    load_overlaps(cfg, &mut extents, diags);
}

/// Q0201 for loads whose extents (start, end, index) overlap.
fn load_overlaps(cfg: &VmConfig, extents: &mut [(u64, u64, usize)], diags: &mut Vec<Diagnostic>) {
    extents.sort();
    let mut reach: Option<(u64, u64, usize)> = None;
    for &(start, end, i) in extents.iter() {
        if let Some((ps, pe, pi)) = reach
            && start < pe
        {
            let (a, b) = (&cfg.loads[i], &cfg.loads[pi]);
            diags.push(
                Diagnostic::new(
                    &codes::Q0201,
                    format!(
                        "`{}` ({start:#x}-{:#x}) overlaps `{}` ({ps:#x}-{:#x}) in guest memory",
                        a.path.value,
                        end - 1,
                        b.path.value,
                        pe - 1
                    ),
                )
                .at(a.span, "loaded here")
                .with(b.span, "and this one here")
                .help("give one of them an address (`load ADDR,FILE`) where it does not cover the other"),
            );
            if end > pe {
                reach = Some((start, end, i));
            }
            continue;
        }
        reach = Some((start, end, i));
    }
}

/// One region for the overlap check.
struct Region {
    space: Space,
    start: u64,
    end: u64,
    what: String,
    span: Span,
}

fn overlaps(cfg: &VmConfig, diags: &mut Vec<Diagnostic>) {
    let mut regions: Vec<Region> = Vec::new();
    for m in &cfg.memory {
        regions.push(Region {
            space: Space::Mem,
            start: m.start,
            end: m.end(),
            what: match m.kind {
                MemKind::Ram => "ram".into(),
                MemKind::Rom => "rom".into(),
            },
            span: m.span,
        });
    }
    let push_loc = |l: &Spanned<Location>, what: String, regions: &mut Vec<Region>| {
        if let Some((space, start, end)) = l.value.region() {
            regions.push(Region {
                space,
                start,
                end,
                what,
                span: l.span,
            });
        }
    };
    for r in &cfg.reserves {
        if let Some(l) = &r.loc {
            push_loc(l, "reserve".into(), &mut regions);
        }
    }
    for p in &cfg.passes {
        if let Some(l) = &p.loc {
            push_loc(l, "pass".into(), &mut regions);
        }
    }
    for v in &cfg.vdevs {
        if let Attach::Region {
            space, start, len, ..
        } = v.attach
        {
            let span = v.loc.as_ref().map(|l| l.span).unwrap_or(v.span);
            let default = if v.loc.is_none() {
                " (default location)"
            } else {
                ""
            };
            regions.push(Region {
                space,
                start,
                end: start.saturating_add(len),
                what: format!("vdev {}{default}", v.kind.name()),
                span,
            });
        }
    }
    regions.retain(|r| r.end > r.start);
    // Sort by space and start; sweep keeping the region reaching furthest.
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by_key(|&i| {
        (
            regions[i].space == Space::Io,
            regions[i].start,
            regions[i].span.start,
        )
    });
    let mut reach: Option<usize> = None;
    for &i in &order {
        let r = &regions[i];
        if let Some(j) = reach {
            let q = &regions[j];
            if q.space == r.space && r.start < q.end {
                let (lo, hi) = (r.start, r.end.min(q.end));
                let several = hi - lo > 1;
                let unit = match (r.space == Space::Io, several) {
                    (true, true) => "ports",
                    (true, false) => "port",
                    (false, true) => "addresses",
                    (false, false) => "address",
                };
                diags.push(
                    Diagnostic::new(
                        &codes::Q0201,
                        format!("{} overlaps {} at {unit} {lo:#x}-{:#x}", r.what, q.what, hi - 1),
                    )
                    .at(r.span, format!("{} {:#x}-{:#x}", r.what, r.start, r.end - 1))
                    .with(q.span, format!("{} {:#x}-{:#x}", q.what, q.start, q.end - 1))
                    .help("move one of them: every RAM/ROM region, reservation, pass-through region and device location needs its own addresses"),
                );
                if r.end > q.end {
                    reach = Some(i);
                }
                continue;
            }
        }
        reach = Some(i);
    }
}

fn names(cfg: &VmConfig, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for v in &cfg.vdevs {
        if let Some(n) = &v.name {
            if let Some(prev) = seen.get(n.value.as_str()) {
                diags.push(
                    Diagnostic::new(&codes::Q0210, format!("two vdevs are named `{}`", n.value))
                        .at(n.span, "second")
                        .with(*prev, "first")
                        .help("names identify vdevs (`/dev/qvm/<system>/<name>`, `intr name:line`): make them unique"),
                );
            } else {
                seen.insert(&n.value, n.span);
            }
        }
    }
}

fn interrupts(cfg: &VmConfig, diags: &mut Vec<Diagnostic>) {
    let arch = cfg.arch.as_ref().map(|a| a.arch);
    let mut pics: Vec<String> = cfg
        .vdevs
        .iter()
        .filter_map(|v| v.pic_name().map(str::to_string))
        .collect();
    // The implicit controllers: the GIC on ARM, the local APICs on x86.
    if arch != Some(Arch::X86_64) && !pics.iter().any(|p| p == "gic") {
        pics.push("gic".into());
    }
    if arch != Some(Arch::Aarch64) {
        pics.push("apic".into());
    }
    let mut lines: HashMap<(Option<&str>, u32), IntrUser> = HashMap::new();
    let mut users: Vec<IntrUser> = Vec::new();
    for v in &cfg.vdevs {
        for (n, i) in v.intr.iter().enumerate() {
            // HPET legacy replacement: timer 0 replaces the PIT, timer 1 the RTC.
            let shares = match (v.kind, n) {
                (VdevKind::Hpet, 0) => Some(VdevKind::Timer8254),
                (VdevKind::Hpet, 1) => Some(VdevKind::Mc146818),
                _ => None,
            };
            let what = if v.kind == VdevKind::Hpet {
                format!("vdev hpet timer {n}")
            } else {
                format!("vdev {}", v.kind.name())
            };
            users.push(IntrUser {
                intr: i,
                what,
                kind: Some(v.kind),
                shares,
            });
        }
    }
    for p in &cfg.passes {
        for i in &p.intr {
            users.push(IntrUser {
                intr: i,
                what: "pass".into(),
                kind: None,
                shares: None,
            });
        }
    }
    for r in &cfg.reserves {
        for i in &r.intr {
            users.push(IntrUser {
                intr: i,
                what: "reserve".into(),
                kind: None,
                shares: None,
            });
        }
    }
    for u in users {
        let i = u.intr;
        let Intr::Line { pic, line, .. } = &i.value else {
            continue;
        };
        if let Some(p) = pic
            && !pics.iter().any(|x| x == p)
        {
            let mut d = Diagnostic::new(
                &codes::Q0204,
                format!("`intr {p}:{line}`: there is no PIC named `{p}`"),
            )
            .at(i.span, "names a missing PIC");
            if let Some(s) = schema::did_you_mean(p, pics.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            } else {
                d = d.help(format!(
                    "the PICs of this VM are: {}; add one, e.g. `vdev ioapic loc 0xf8000000 intr apic name {p}`",
                    pics.join(", ")
                ));
            }
            diags.push(d);
            continue;
        }
        let key = (pic.as_deref(), *line);
        if let Some(prev) = lines.get(&key) {
            // Either order: the hpet timer first or the legacy device first.
            let allowed = (u.shares.is_some() && u.shares == prev.kind)
                || (prev.shares.is_some() && prev.shares == u.kind);
            if !allowed {
                let name = match pic {
                    Some(p) => format!("{p}:{line}"),
                    None => line.to_string(),
                };
                diags.push(
                    Diagnostic::new(&codes::Q0205, format!("interrupt {name} is used twice ({} and {})", u.what, prev.what))
                        .at(i.span, u.what.clone())
                        .with(prev.intr.span, prev.what.clone())
                        .help("give each device its own line; only the hpet's timers 0 and 1 may share the PIT's and RTC's lines (legacy replacement)"),
                );
            }
            continue;
        }
        lines.insert(key, u);
    }
}

/// A user of an interrupt line.
struct IntrUser<'a> {
    intr: &'a Spanned<Intr>,
    what: String,
    kind: Option<VdevKind>,
    /// The legacy device whose line this one may share (hpet timers).
    shares: Option<VdevKind>,
}

/// True when the device is a PCI device when it has no `loc`.
fn pci_without_loc(kind: VdevKind) -> bool {
    matches!(kind.decl().attachment, Attachment::Pci | Attachment::Virtio)
}
