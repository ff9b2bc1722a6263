//! The dry-run plan: the VM qvm would assemble, as `hvhost qvm ... dryrun`
//! prints it — for people ([`Plan`]'s `Display`) and for scripts
//! ([`Plan::json`]). Each line points to the configuration line it comes from.

use crate::config::*;
use diag::SourceMap;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// A VM with the sources its spans point into.
pub struct Plan<'a> {
    /// The VM.
    pub vm: &'a VmConfig,
    /// Its sources.
    pub map: &'a SourceMap,
}

impl std::fmt::Display for Plan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (vm, map) = (self.vm, self.map);
        let mut o = String::new();
        header(&mut o, vm);
        memory(&mut o, vm, map);
        vcpus(&mut o, vm, map);
        loads(&mut o, vm, map);
        devices(&mut o, vm, map);
        passes(&mut o, vm, map);
        globals(&mut o, vm);
        f.write_str(&o)
    }
}

fn header(o: &mut String, vm: &VmConfig) {
    let name = vm
        .system
        .as_ref()
        .map(|s| s.value.as_str())
        .unwrap_or("(unnamed)");
    let arch = match &vm.arch {
        Some(a) => format!("{} (from {})", a.arch.as_str(), a.reason),
        None => "not determined".into(),
    };
    let _ = writeln!(o, "VM {name}: {arch}");
}

/// RAM, ROM and reserved regions by address; then other reservations.
fn memory(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    let _ = writeln!(o, "\nmemory map:");
    // RAM, ROM and reserved regions by address; then other reservations.
    let mut rows: Vec<(u64, String)> = Vec::new();
    for m in &vm.memory {
        let (kind, note) = match m.kind {
            MemKind::Ram => ("ram", ""),
            MemKind::Rom => ("rom", ", read-only, not in the guest's memory map"),
        };
        let placed = if m.explicit_start {
            ""
        } else {
            ", placed after the highest RAM/ROM"
        };
        rows.push((
            m.start,
            format!(
                "  {kind:<8} {:#012x}-{:#012x} {:>9}  ({}{placed}{note})",
                m.start,
                m.end() - 1,
                size(m.len),
                line(map, m.span)
            ),
        ));
    }
    let mut other = Vec::new();
    for r in &vm.reserves {
        if let Some(l) = &r.loc {
            match &l.value {
                Location::Region {
                    space: Space::Mem,
                    start,
                    len,
                    ..
                } => rows.push((
                    *start,
                    format!(
                        "  {:<8} {:#012x}-{:#012x} {:>9}  ({})",
                        "reserve",
                        start,
                        start.saturating_add(*len).saturating_sub(1),
                        size(*len),
                        line(map, l.span)
                    ),
                )),
                other_loc => other.push(format!(
                    "  reserve  {}  ({})",
                    location_text(other_loc),
                    line(map, l.span)
                )),
            }
        }
        for i in &r.intr {
            other.push(format!(
                "  reserve  intr {}  ({})",
                i.value,
                line(map, i.span)
            ));
        }
    }
    rows.sort_by_key(|r| r.0);
    for r in rows.iter().map(|r| &r.1).chain(&other) {
        let _ = writeln!(o, "{r}");
    }
    if rows.is_empty() && other.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
}

/// One line per vCPU.
fn vcpus(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    let _ = writeln!(o, "\nvCPUs ({}):", vm.cpus.len());
    for c in &vm.cpus {
        let mut parts = Vec::new();
        match &c.sched {
            Some(s) => {
                let pol = match s.value.policy {
                    Some(SchedPolicy::RoundRobin) => "r",
                    Some(SchedPolicy::Fifo) => "f",
                    Some(SchedPolicy::Other) => "o",
                    None => "",
                };
                parts.push(format!("sched {}{pol}", s.value.priority));
            }
            None => parts.push("sched default".into()),
        }
        if c.runmask.is_empty() {
            parts.push("runmask any".into());
        } else {
            let r: Vec<String> = c.runmask.iter().map(u32::to_string).collect();
            parts.push(format!("runmask {}", r.join(",")));
        }
        if let Some(p) = &c.partition {
            parts.push(format!("partition {}", p.value));
        }
        if let Some(p) = &c.cluster {
            parts.push(format!("cluster {}", p.value));
        }
        let at = if c.implicit {
            "(default: no `cpu` option)".to_string()
        } else {
            line(map, c.span)
        };
        let _ = writeln!(o, "  {:<3} {}  {at}", c.index, parts.join(", "));
    }
}

/// The loads, and the command line.
fn loads(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    let _ = writeln!(o, "\nloads ({}):", vm.loads.len());
    for l in &vm.loads {
        let at = match l.placed_at {
            Some(a) => format!("at {a:#x}"),
            None => "at ? (depends on the contents)".into(),
        };
        let mut extra = Vec::new();
        if let Some(s) = l.size {
            extra.push(format!("{s} bytes"));
        } else {
            extra.push("size unknown".into());
        }
        if let Some(e) = l.entry {
            extra.push(format!("entry {e:#x}"));
        }
        let _ = writeln!(
            o,
            "  {:<6} {}  {at}  {}, {}  {}",
            load_kind(l.kind),
            l.path.value,
            image_text(&l.detected),
            extra.join(", "),
            line(map, l.span)
        );
    }
    if let Some(c) = &vm.cmdline {
        let _ = writeln!(o, "\ncmdline: {:?}", c.value);
    }
}

/// One line per vdev, then its options.
fn devices(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    let _ = writeln!(o, "\ndevices ({}):", vm.vdevs.len());
    for (i, v) in vm.vdevs.iter().enumerate() {
        let loc = match &v.attach {
            Attach::Region {
                space,
                start,
                len,
                explicit,
            } => format!(
                "{}{}",
                region_text(*space, *start, *len),
                if *explicit { "" } else { " (default)" }
            ),
            Attach::Pci { addr, explicit } => {
                format!("pci {addr}{}", if *explicit { "" } else { " (allocated)" })
            }
            Attach::None => "-".into(),
        };
        let intr = if v.intr.is_empty() {
            "-".to_string()
        } else {
            v.intr
                .iter()
                .map(|i| i.value.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let name = v.name.as_ref().map(|n| n.value.as_str()).unwrap_or("-");
        let _ = writeln!(
            o,
            "  {i:<3} {:<15} {name:<16} {loc:<34} intr {intr:<22} safety {:<8} {}",
            v.kind.name(),
            v.safety.as_str(),
            line(map, v.span)
        );
        let mut opts = v.options.shown();
        if let Some(s) = &v.sched {
            opts.push(format!("sched {}", s.value.priority));
        }
        if let Some(d) = &v.delayed {
            opts.push(match d.value {
                Delayed::Secs(n) => format!("delayed {n}"),
                Delayed::Forever => "delayed forever".into(),
            });
        }
        if let Some(h) = &v.hostvector {
            opts.push(format!("hostvector {}", h.value));
        }
        if let Some(l) = &v.log {
            opts.push(format!("log {}", l.value));
        }
        if !opts.is_empty() {
            let _ = writeln!(o, "      {}", opts.join(", "));
        }
    }
    foreign_vdevs(o, vm, map);
}

/// The vdevs hvhost does not know, with their words as written.
fn foreign_vdevs(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    if vm.foreign_vdevs.is_empty() {
        return;
    }
    let n = vm.foreign_vdevs.len();
    let _ = writeln!(
        o,
        "
vdevs hvhost does not know ({n}; options not checked):"
    );
    for f in &vm.foreign_vdevs {
        let words: Vec<&str> = f.words.iter().map(|w| w.value.as_str()).collect();
        let _ = writeln!(
            o,
            "  {:<19} {:<51} safety {:<8} {}",
            f.shared_object(),
            words.join(" "),
            f.safety.as_str(),
            line(map, f.span)
        );
    }
}

/// Pass-through entries.
fn passes(o: &mut String, vm: &VmConfig, map: &SourceMap) {
    if !vm.passes.is_empty() {
        let _ = writeln!(o, "\npass-through ({}):", vm.passes.len());
        for p in &vm.passes {
            let loc = p
                .loc
                .as_ref()
                .map(|l| location_text(&l.value))
                .unwrap_or_else(|| "-".into());
            let intr: Vec<String> = p.intr.iter().map(|i| i.value.to_string()).collect();
            let intr = if intr.is_empty() {
                "-".into()
            } else {
                intr.join(" ")
            };
            let _ = writeln!(o, "  {loc:<44} intr {intr:<12} {}", line(map, p.span));
        }
    }
}

/// The global settings.
fn globals(o: &mut String, vm: &VmConfig) {
    let _ = writeln!(o, "\nsafety: {} (global components)", vm.safety.as_str());
    let u = &vm.unsupported;
    let _ = writeln!(
        o,
        "unsupported: instruction {}, reference {}, register {}",
        u.instruction.as_str(),
        u.reference.as_str(),
        u.register.as_str()
    );
    let _ = writeln!(
        o,
        "logger: {} {}",
        vm.logger.filters.join(","),
        vm.logger.dest
    );
    if let Some(t) = &vm.tolerance_us {
        let _ = writeln!(o, "tolerance: {} µs", t.value);
    }
    if let Some(d) = &vm.dump {
        let _ = writeln!(o, "dump: {}", d.value);
    }
    for s in &vm.settings {
        let _ = writeln!(o, "set {} {}", s.variable.value, s.value.value);
    }
}

impl Plan<'_> {
    /// The dry-run plan for scripts: the VmConfig, with source locations.
    pub fn json(&self) -> Value {
        let (vm, map) = (self.vm, self.map);
        let mut v = serde_json::to_value(vm).unwrap_or(Value::Null);
        if let Some(devs) = v.get_mut("vdevs").and_then(Value::as_array_mut) {
            for (dv, d) in devs.iter_mut().zip(&vm.vdevs) {
                if let Value::Object(o) = dv {
                    o.insert("location".into(), json!(map.location(d.span)));
                    o.insert("shared_object".into(), json!(d.shared_object()));
                }
            }
        }
        if let Some(devs) = v.get_mut("foreign_vdevs").and_then(Value::as_array_mut) {
            for (dv, d) in devs.iter_mut().zip(&vm.foreign_vdevs) {
                if let Value::Object(o) = dv {
                    o.insert("location".into(), json!(map.location(d.span)));
                    o.insert("shared_object".into(), json!(d.shared_object()));
                }
            }
        }
        let spans: [(&str, Vec<diag::Span>); 5] = [
            ("loads", vm.loads.iter().map(|l| l.span).collect()),
            ("memory", vm.memory.iter().map(|m| m.span).collect()),
            ("passes", vm.passes.iter().map(|p| p.span).collect()),
            ("reserves", vm.reserves.iter().map(|r| r.span).collect()),
            ("cpus", vm.cpus.iter().map(|c| c.span).collect()),
        ];
        for (key, spans) in spans {
            if let Some(items) = v.get_mut(key).and_then(Value::as_array_mut) {
                for (i, (iv, span)) in items.iter_mut().zip(&spans).enumerate() {
                    let implicit = key == "cpus" && vm.cpus.get(i).is_some_and(|c| c.implicit);
                    if let Value::Object(o) = iv {
                        let loc = if implicit {
                            Value::Null
                        } else {
                            json!(map.location(*span))
                        };
                        o.insert("location".into(), loc);
                    }
                }
            }
        }
        v
    }
}

fn size(n: u64) -> String {
    const K: u64 = 1024;
    if n >= K * K * K && n.is_multiple_of(K * K * K) {
        format!("{} GiB", n / (K * K * K))
    } else if n >= K * K && n.is_multiple_of(K * K) {
        format!("{} MiB", n / (K * K))
    } else if n >= K && n.is_multiple_of(K) {
        format!("{} KiB", n / K)
    } else {
        format!("{n} B")
    }
}

fn line(map: &SourceMap, span: diag::Span) -> String {
    map.get(span.file)
        .map(|f| format!("{}:{}", f.name(), f.line_col(span.start).line))
        .unwrap_or_default()
}

fn region_text(space: Space, start: u64, len: u64) -> String {
    let sp = match space {
        Space::Mem => "mem",
        Space::Io => "io",
    };
    format!(
        "{sp} {start:#x}-{:#x}",
        start.saturating_add(len).saturating_sub(1)
    )
}

fn location_text(l: &Location) -> String {
    match l {
        Location::Region {
            space,
            start,
            len,
            access,
            host,
        } => {
            let mut s = region_text(*space, *start, *len);
            if let Some(a) = access {
                let mut f = String::new();
                for (on, c) in [
                    (a.read, 'r'),
                    (a.write, 'w'),
                    (a.exec, 'x'),
                    (a.nocache, 'n'),
                ] {
                    if on {
                        f.push(c);
                    }
                }
                let _ = write!(s, " {f}");
            }
            if let Some(h) = host {
                let _ = write!(s, " host {h:#x}");
            }
            s
        }
        Location::Pci { addr, host } => {
            let mut s = format!("pci {addr}");
            match host {
                Some(PciHost::Addr(a)) => {
                    let _ = write!(s, " = host pci {a}");
                }
                Some(PciHost::Id { vendor, device }) => {
                    let _ = write!(s, " = host pci {vendor:#06x}/{device:#06x}");
                }
                None => {}
            }
            s
        }
        Location::PciId { vendor, device } => format!("pci {vendor:#06x}/{device:#06x}"),
    }
}

fn image_text(t: &ImageType) -> String {
    match t {
        ImageType::Elf {
            machine, class64, ..
        } => {
            format!("ELF{} {machine}", if *class64 { "64" } else { "32" })
        }
        ImageType::BzImage { protocol } => {
            format!(
                "Linux bzImage (boot protocol {}.{:02})",
                protocol >> 8,
                protocol & 0xff
            )
        }
        ImageType::Arm64Image { .. } => "Linux arm64 Image".into(),
        ImageType::Ifs => "QNX IFS".into(),
        ImageType::Raw => "raw".into(),
        ImageType::Unknown => "not read".into(),
    }
}

fn load_kind(k: LoadKind) -> &'static str {
    match k {
        LoadKind::Image => "image",
        LoadKind::Acpi => "acpi",
        LoadKind::Data => "data",
        LoadKind::Fdt => "fdt",
        LoadKind::Initrd => "initrd",
    }
}
