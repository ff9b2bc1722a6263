//! `hvhost qvm [@FILE...] [OPTION...] [dryrun]`: read a VM's configuration
//! as qvm does; with `dryrun` print the VM it would assemble, otherwise run it.

use crate::output::{Format, emit};
use clap::Args;
use diag::SourceMap;
use qvmconf::{
    Attach, Delayed, ImageType, Intr, LoadKind, Location, MemKind, PciHost, Space, VdevOptions,
    VmConfig,
};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// qvm's exit code for a fatal configuration error.
pub const EXIT_CONFIG: i32 = crate::codes::QvmExit::Config as i32;
/// qvm's exit code for a fatal error before the guest started.
pub const EXIT_BEFORE_START: i32 = crate::codes::QvmExit::BeforeStart as i32;

/// Arguments of `hvhost qvm`.
#[derive(Debug, Args)]
pub struct QvmArgs {
    /// Output format of the dry-run plan (`sarif` prints only the diagnostics).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Plan without the host's files: files named by `load` and `hostdev` need not exist (sizes and image types unknown).
    #[arg(long)]
    no_host_files: bool,
    /// Assemble the VM and print it without running it (the same as the word `dryrun`).
    #[arg(long)]
    dryrun: bool,
    /// qvm's own words: `@FILE` (a configuration file), options, and `dryrun`.
    /// hvhost's flags may also appear among them.
    #[arg(
        value_name = "WORDS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    words: Vec<String>,
}

/// The words and flags after separating hvhost's flags from qvm's words.
struct Split {
    words: Vec<String>,
    format: Format,
    no_host_files: bool,
    dryrun: bool,
}

fn split(args: &QvmArgs) -> Result<Split, String> {
    let mut s = Split {
        words: Vec::new(),
        format: args.format,
        no_host_files: args.no_host_files,
        dryrun: args.dryrun,
    };
    let mut it = args.words.iter();
    while let Some(w) = it.next() {
        let fmt = match w.as_str() {
            "--no-host-files" => {
                s.no_host_files = true;
                continue;
            }
            "--dryrun" => {
                s.dryrun = true;
                continue;
            }
            "--format" => Some(
                it.next()
                    .ok_or("`--format` needs a value: text, json or sarif")?
                    .as_str(),
            ),
            _ => w.strip_prefix("--format="),
        };
        match fmt {
            Some("text") => s.format = Format::Text,
            Some("json") => s.format = Format::Json,
            Some("sarif") => s.format = Format::Sarif,
            Some(other) => {
                return Err(format!(
                    "`--format {other}`: the formats are text, json and sarif"
                ));
            }
            None => s.words.push(w.clone()),
        }
    }
    Ok(s)
}

/// Runs the subcommand; returns qvm's exit code: 0 for a good dry run, 65
/// for configuration errors, 64 when the VM cannot be started.
pub fn run(args: &QvmArgs) -> i32 {
    let s = match split(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    if s.words.is_empty() {
        eprintln!(
            "error: no configuration: give `@FILE` (a *.qvmconf) and/or options, e.g. `hvhost qvm @vm.qvmconf dryrun`"
        );
        return EXIT_CONFIG;
    }
    let opts = qvmconf::Options {
        host_files: !s.no_host_files,
        cwd: ".".into(),
        ..qvmconf::Options::default()
    };
    let mut map = SourceMap::new();
    let (vm, mut diags) = qvmconf::load(&mut map, &s.words, &opts);
    // What this KVM VMM cannot run: a configuration error for a real run; a
    // dry run plans for QNX qvm and says what would stop a run here.
    if let Some(vm) = vm.as_ref().filter(|_| !diags.iter().any(|d| d.is_error())) {
        let found = vmm::preflight(vm);
        if s.dryrun || vm.dryrun {
            diags.extend(dry_run_findings(found));
        } else {
            diags.extend(found);
        }
    }
    let (errors, _) = emit(s.format, &map, &mut diags);
    let Some(vm) = vm.filter(|_| errors == 0) else {
        return EXIT_CONFIG;
    };
    if !(s.dryrun || vm.dryrun) {
        return run_vm(&map, &vm, &s.words);
    }
    match s.format {
        Format::Text => print!("{}", plan_text(&vm, &map)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&vm, &map)).unwrap_or_default()
        ),
        Format::Sarif => {}
    }
    0
}

/// The VMM's refusals as a dry run shows them: warnings (the plan is QNX
/// qvm's, which has these devices), each saying that a run here stops.
pub fn dry_run_findings(found: Vec<diag::Diagnostic>) -> Vec<diag::Diagnostic> {
    found
        .into_iter()
        .map(|d| {
            if d.is_error() {
                d.severity(diag::Severity::Warning).note(
                    "QNX qvm runs this; hvhost's KVM VMM does not: without `dryrun` this is an error (exit 65)",
                )
            } else {
                d
            }
        })
        .collect()
}

/// Runs the VM on KVM: converts the configuration into the VMM's
/// [`vmm::VmSpec`] (host paths relative to the current directory, as qvm
/// resolves them) and returns qvm's exit code.
pub fn run_vm(_map: &SourceMap, vm: &VmConfig, _words: &[String]) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: hvhost qvm: current directory: {e}");
            return EXIT_BEFORE_START;
        }
    };
    let spec = match vmm::spec_from_config(vm, &cwd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: hvhost qvm: {e}");
            return i32::from(e.exit_code().code());
        }
    };
    i32::from(vmm::run(&spec, &vmm::RunOptions::default()).code.code())
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

fn intr_text(i: &Intr) -> String {
    match i {
        Intr::Apic => "apic".into(),
        Intr::Line {
            pic,
            line,
            host_vector,
            flags,
        } => {
            let mut s = match pic {
                Some(p) => format!("{p}:{line}"),
                None => line.to_string(),
            };
            if let Some(f) = flags {
                s.push(',');
                s.push_str(f);
            }
            if let Some(h) = host_vector {
                let _ = write!(s, "={h}");
            }
            s
        }
    }
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

/// The options proper to a vdev, as `key value` words.
fn vdev_options(o: &VdevOptions) -> Vec<String> {
    let mut v = Vec::new();
    let hd = |h: &qvmconf::HostDev| {
        let d = match h.direction {
            Some(qvmconf::Direction::Input) => "<",
            Some(qvmconf::Direction::Output) => ">",
            None => "",
        };
        format!("hostdev {d}{}", h.path)
    };
    match o {
        VdevOptions::Mc146818 { regs } => {
            for (i, x) in regs {
                v.push(format!("reg {i:#04x},{x:#04x}"));
            }
        }
        VdevOptions::Hpet {
            frequency,
            legacy_free,
        } => {
            v.push(format!("frequency {frequency}"));
            if *legacy_free {
                v.push("legacy-free".into());
            }
        }
        VdevOptions::PciDummy { regs, clone } => {
            for r in regs {
                match r {
                    qvmconf::PciReg::Named { name, value } => {
                        v.push(format!("reg {name}={value:#x}"))
                    }
                    qvmconf::PciReg::Offset {
                        offset,
                        size,
                        value,
                    } => v.push(format!("reg {offset:#x}/{size}={value:#x}")),
                }
            }
            if let Some(c) = clone {
                v.push(format!("clone pci {c}"));
            }
        }
        VdevOptions::Ser8250 { hostdev, batch_us } | VdevOptions::Pl011 { hostdev, batch_us } => {
            v.extend(hostdev.as_ref().map(hd));
            v.extend(batch_us.map(|b| format!("batch {b}")));
        }
        VdevOptions::VirtioConsole { hostdev, legacy } => {
            v.extend(hostdev.as_ref().map(hd));
            if *legacy {
                v.push("legacy".into());
            }
        }
        VdevOptions::VirtioBlk {
            hostdev,
            legacy,
            dio,
            threads,
        } => {
            v.extend(hostdev.as_ref().map(hd));
            if *legacy {
                v.push("legacy".into());
            }
            v.extend(dio.map(|d| format!("dio {}", if d { "enable" } else { "disable" })));
            v.extend(threads.map(|t| format!("threads {t}")));
        }
        VdevOptions::VirtioNet {
            mac,
            peer,
            peerfeats,
            legacy,
        } => {
            if let Some(m) = mac {
                v.push(format!(
                    "mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    m[0], m[1], m[2], m[3], m[4], m[5]
                ));
            }
            v.extend(peer.as_ref().map(|p| format!("peer {p}")));
            v.extend(peerfeats.map(|p| format!("peerfeats {p:#x}")));
            if *legacy {
                v.push("legacy".into());
            }
        }
        VdevOptions::VirtioEntropy { legacy } => {
            if *legacy {
                v.push("legacy".into());
            }
        }
        VdevOptions::Shmem {
            create,
            allow,
            deny,
        } => {
            for (n, s) in create {
                v.push(format!("create {n},{s:#x}"));
            }
            v.extend(allow.iter().map(|a| format!("allow {a}")));
            v.extend(deny.iter().map(|d| format!("deny {d}")));
        }
        VdevOptions::Gic {
            version,
            gicc,
            gicr,
            its,
            msi,
        } => {
            v.extend(version.map(|x| format!("version {x}")));
            for (key, val) in [("gicc", gicc), ("gicr", gicr), ("its", its)] {
                match val {
                    Some(Some(a)) => v.push(format!("{key} {a:#x}")),
                    Some(None) => v.push(key.to_string()),
                    None => {}
                }
            }
            if !msi.is_empty() {
                let m: Vec<String> = msi.iter().map(|x| format!("{x:#x}")).collect();
                v.push(format!("msi {}", m.join(",")));
            }
        }
        VdevOptions::Pic8259
        | VdevOptions::Ioapic
        | VdevOptions::Timer8254
        | VdevOptions::Pckeyboard
        | VdevOptions::Progress
        | VdevOptions::VgpuGvtg
        | VdevOptions::WdtIb700
        | VdevOptions::WdtSp805 => {}
    }
    v
}

/// The dry-run plan for people.
pub fn plan_text(vm: &VmConfig, map: &SourceMap) -> String {
    let mut o = String::new();
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
                intr_text(&i.value),
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

    let _ = writeln!(o, "\nvCPUs ({}):", vm.cpus.len());
    for c in &vm.cpus {
        let mut parts = Vec::new();
        match &c.sched {
            Some(s) => {
                let pol = match s.value.policy {
                    Some(qvmconf::SchedPolicy::RoundRobin) => "r",
                    Some(qvmconf::SchedPolicy::Fifo) => "f",
                    Some(qvmconf::SchedPolicy::Other) => "o",
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
                .map(|i| intr_text(&i.value))
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
        let mut opts = vdev_options(&v.options);
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

    if !vm.passes.is_empty() {
        let _ = writeln!(o, "\npass-through ({}):", vm.passes.len());
        for p in &vm.passes {
            let loc = p
                .loc
                .as_ref()
                .map(|l| location_text(&l.value))
                .unwrap_or_else(|| "-".into());
            let intr: Vec<String> = p.intr.iter().map(|i| intr_text(&i.value)).collect();
            let intr = if intr.is_empty() {
                "-".into()
            } else {
                intr.join(" ")
            };
            let _ = writeln!(o, "  {loc:<44} intr {intr:<12} {}", line(map, p.span));
        }
    }

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
    o
}

/// The dry-run plan for scripts: the VmConfig, with source locations.
pub fn plan_json(vm: &VmConfig, map: &SourceMap) -> Value {
    let mut v = serde_json::to_value(vm).unwrap_or(Value::Null);
    if let Some(devs) = v.get_mut("vdevs").and_then(Value::as_array_mut) {
        for (dv, d) in devs.iter_mut().zip(&vm.vdevs) {
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
