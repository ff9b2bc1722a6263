//! The option stream → a [`VmConfig`] draft: every option read, typed and
//! placed in its context. Checks that need the whole configuration are in
//! `validate`.

use crate::codes;
use crate::config::*;
use crate::lexer::Token;
use crate::options;
use crate::schema::{self, Arity, CPU_OPTIONS, PASS_OPTIONS, TOP_OPTIONS, is_common};
use crate::value;
use diag::{Diagnostic, Span};
use vdev::decl::OptDecl;

/// What the parser learned besides the config itself, for validation.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// For each load: true when a `ram` came before it.
    pub load_after_ram: Vec<bool>,
    /// The first `ram` option.
    pub first_ram: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    None,
    Vdev(usize),
    /// An unknown vdev: its options are skipped.
    Skip,
    Cpu(usize),
    Pass(usize),
    Reserve(usize),
}

pub(crate) struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    pub diags: Vec<Diagnostic>,
    pub cfg: VmConfig,
    pub facts: Facts,
    ctx: Ctx,
    safety: (SafetyLevel, Option<Span>),
    /// Highest end of RAM/ROM so far (for placement without a start).
    high: u64,
    seen_system: Option<Span>,
    seen_cmdline: Option<Span>,
}

const CONTEXT_OPENERS: &[&str] = &["vdev", "cpu", "pass", "reserve"];

impl<'a> Parser<'a> {
    pub fn new(toks: &'a [Token], default_safety: SafetyLevel) -> Parser<'a> {
        Parser {
            toks,
            i: 0,
            diags: Vec::new(),
            cfg: VmConfig {
                system: None,
                arch: None,
                memory: Vec::new(),
                reserves: Vec::new(),
                cpus: Vec::new(),
                loads: Vec::new(),
                cmdline: None,
                passes: Vec::new(),
                vdevs: Vec::new(),
                unsupported: Unsupported::default(),
                tolerance_us: None,
                safety: default_safety,
                safety_span: None,
                logger: Logger::default(),
                dump: None,
                settings: Vec::new(),
                dryrun: false,
            },
            facts: Facts::default(),
            ctx: Ctx::None,
            safety: (default_safety, None),
            high: 0,
            seen_system: None,
            seen_cmdline: None,
        }
    }

    pub fn run(mut self) -> Self {
        while self.i < self.toks.len() {
            let t = &self.toks[self.i];
            self.i += 1;
            self.option(t);
        }
        self.cfg.safety = self.safety.0;
        self.cfg.safety_span = self.safety.1;
        self
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The value of option `opt`, or a Q0103 diagnostic.
    fn value(&mut self, opt: &Token, what: &str) -> Option<&'a Token> {
        let next = self.toks.get(self.i);
        match next {
            Some(v) if v.quoted || !CONTEXT_OPENERS.contains(&v.text.as_str()) => {
                self.i += 1;
                Some(v)
            }
            _ => {
                self.err(
                    Diagnostic::new(&codes::Q0103, format!("`{}` needs {what}", opt.text))
                        .at(opt.span, format!("expects {what} after this")),
                );
                None
            }
        }
    }

    fn bad(&mut self, tok: &Token, opt: &str, reason: String) {
        self.err(
            Diagnostic::new(&codes::Q0104, format!("bad value for `{opt}`: {reason}"))
                .at(tok.span, "this value"),
        );
    }

    /// After an unknown word: skip words until one that is an option somewhere.
    fn skip_unknown(&mut self) {
        while let Some(t) = self.toks.get(self.i) {
            if !t.quoted && is_known_word(&t.text) {
                break;
            }
            self.i += 1;
        }
    }

    fn option(&mut self, t: &'a Token) {
        let word = if t.quoted { "" } else { t.text.as_str() };
        // Context options first.
        match self.ctx {
            Ctx::Vdev(v) => {
                if self.vdev_option(v, t) {
                    return;
                }
            }
            Ctx::Skip => {
                if !TOP_OPTIONS.contains(&word) {
                    return;
                }
            }
            Ctx::Cpu(c) => {
                if CPU_OPTIONS.contains(&word) {
                    self.cpu_option(c, t);
                    return;
                }
            }
            Ctx::Pass(p) => {
                if PASS_OPTIONS.contains(&word) {
                    self.pass_option(p, t, false);
                    return;
                }
            }
            Ctx::Reserve(r) => {
                if PASS_OPTIONS.contains(&word) {
                    self.pass_option(r, t, true);
                    return;
                }
            }
            Ctx::None => {}
        }
        match word {
            "system" => {
                if let Some(v) = self.value(t, "a VM name") {
                    if let Some(prev) = self.seen_system {
                        self.repeated_top(t, prev, "system");
                    }
                    self.seen_system = Some(t.span);
                    self.cfg.system = Some(Spanned::new(v.text.clone(), v.span));
                }
            }
            "ram" | "rom" => self.memory(t),
            "cpu" => {
                let index = self.cfg.cpus.len() as u32;
                self.cfg.cpus.push(Vcpu {
                    index,
                    sched: None,
                    runmask: Vec::new(),
                    runmask_span: None,
                    partition: None,
                    cluster: None,
                    implicit: false,
                    span: t.span,
                });
                self.ctx = Ctx::Cpu(index as usize);
            }
            "load" => self.load(t, LoadKind::Image, t.span),
            "acpi" | "data" | "fdt" | "initrd" => {
                let kind = match word {
                    "acpi" => LoadKind::Acpi,
                    "data" => LoadKind::Data,
                    "fdt" => LoadKind::Fdt,
                    _ => LoadKind::Initrd,
                };
                match self.toks.get(self.i) {
                    Some(l) if !l.quoted && l.text == "load" => {
                        self.i += 1;
                        self.load(l, kind, t.span);
                    }
                    other => {
                        let mut d = Diagnostic::new(
                            &codes::Q0111,
                            format!("`{word}` must be followed by `load`"),
                        )
                        .at(t.span, "a load type")
                        .help(format!("write `{word} load FILE`"));
                        if let Some(o) = other {
                            d = d.with(o.span, "found this instead");
                            if word == "fdt" && o.text == "generate" {
                                d = d.note("the qvmconf language has `fdt load FILE` only; without it qvm builds the guest's device tree itself from the vdevs");
                            }
                        }
                        self.err(d);
                        self.skip_unknown();
                    }
                }
            }
            "cmdline" => {
                if let Some(v) = self.value(t, "a command line") {
                    if let Some(prev) = self.seen_cmdline {
                        self.repeated_top(t, prev, "cmdline");
                    }
                    self.seen_cmdline = Some(t.span);
                    self.cfg.cmdline = Some(Spanned::new(v.text.clone(), v.span));
                }
            }
            "pass" => {
                self.cfg.passes.push(Pass {
                    loc: None,
                    intr: Vec::new(),
                    span: t.span,
                });
                self.ctx = Ctx::Pass(self.cfg.passes.len() - 1);
            }
            "reserve" => {
                self.cfg.reserves.push(Reserve {
                    loc: None,
                    intr: Vec::new(),
                    span: t.span,
                });
                self.ctx = Ctx::Reserve(self.cfg.reserves.len() - 1);
            }
            "vdev" => self.vdev(t),
            "unsupported" => self.unsupported(t),
            "tolerance" => {
                if let Some(v) = self.value(t, "a time in microseconds") {
                    match value::number(&v.text) {
                        Ok(n) => self.cfg.tolerance_us = Some(Spanned::new(n, v.span)),
                        Err(e) => self.bad(v, "tolerance", e),
                    }
                }
            }
            "safety" => {
                if let Some(v) = self.value(t, "`none`, `warn` or `required`") {
                    let level = match v.text.as_str() {
                        "none" => Some(SafetyLevel::None),
                        "warn" => Some(SafetyLevel::Warn),
                        "required" => Some(SafetyLevel::Required),
                        _ => None,
                    };
                    match level {
                        Some(l) => self.safety = (l, Some(t.span.to(v.span))),
                        None => self.bad(
                            v,
                            "safety",
                            format!("`{}` is not `none`, `warn` or `required`", v.text),
                        ),
                    }
                }
            }
            "logger" => self.logger(t),
            "dump" => {
                if let Some(v) = self.value(t, "a directory or `|command`") {
                    self.cfg.dump = Some(Spanned::new(v.text.clone(), v.span));
                }
            }
            "set" => {
                let Some(var) = self.value(t, "a variable name and a value") else {
                    return;
                };
                let Some(val) = self.value(var, "a value") else {
                    return;
                };
                self.cfg.settings.push(Setting {
                    variable: Spanned::new(var.text.clone(), var.span),
                    value: Spanned::new(val.text.clone(), val.span),
                });
            }
            "dryrun" => self.cfg.dryrun = true,
            _ => self.unknown(t),
        }
    }

    fn repeated_top(&mut self, t: &Token, prev: Span, opt: &str) {
        self.err(
            Diagnostic::new(
                &codes::Q0215,
                format!("`{opt}` is given twice; the last one is used"),
            )
            .at(t.span, "this one is used")
            .with(prev, "this one is ignored")
            .help(format!("keep one `{opt}`")),
        );
    }

    fn unknown(&mut self, t: &Token) {
        let (what, candidates): (String, Vec<&str>) = match self.ctx {
            Ctx::Vdev(v) => {
                let kind = self.cfg.vdevs[v].kind;
                let mut c: Vec<&str> = vdev::decl::common_names().collect();
                c.extend(kind.decl().options.iter().map(|o| o.name));
                (format!("an option of `vdev {}`", kind.name()), c)
            }
            Ctx::Cpu(_) => ("an option of `cpu`".into(), CPU_OPTIONS.to_vec()),
            Ctx::Pass(_) => ("an option of `pass`".into(), PASS_OPTIONS.to_vec()),
            Ctx::Reserve(_) => ("an option of `reserve`".into(), PASS_OPTIONS.to_vec()),
            _ => ("an option".into(), Vec::new()),
        };
        let all = candidates
            .iter()
            .copied()
            .chain(TOP_OPTIONS.iter().copied());
        let shown = if t.quoted {
            format!("\"{}\"", t.text)
        } else {
            t.text.clone()
        };
        if self.is_context_word(&t.text) {
            let opener = if CPU_OPTIONS.contains(&t.text.as_str()) && !is_common(&t.text) {
                "`cpu`"
            } else {
                "a `vdev`, `cpu`, `pass` or `reserve`"
            };
            self.err(
                Diagnostic::new(
                    &codes::Q0106,
                    format!("`{shown}` belongs to {opener}, but none comes before it"),
                )
                .at(t.span, "no context")
                .help(format!("write `{shown}` after the {opener} it applies to")),
            );
            self.skip_unknown();
            return;
        }
        let mut d = Diagnostic::new(&codes::Q0102, format!("`{shown}` is not {what}"))
            .at(t.span, "unknown option");
        // An option of other vdevs, written in the wrong place.
        let owners: Vec<&str> = VdevKind::ALL
            .iter()
            .filter(|k| schema::own_option(**k, &t.text).is_some())
            .map(|k| k.name())
            .collect();
        if !t.quoted && !owners.is_empty() {
            d = d.note(format!(
                "`{}` is an option of: {}",
                t.text,
                owners
                    .iter()
                    .map(|o| format!("vdev {o}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(s) = schema::did_you_mean(&t.text, all) {
            d = d.help(format!("did you mean `{s}`?"));
        } else if !candidates.is_empty() {
            d = d.help(format!("{what} is one of: {}", candidates.join(", ")));
        } else {
            d = d.help("check the spelling against the options of qvmconf files (`hvhost explain Q0102` says how options are read)");
        }
        self.err(d);
        self.skip_unknown();
    }

    fn is_context_word(&self, w: &str) -> bool {
        matches!(self.ctx, Ctx::None)
            && (is_common(w) || CPU_OPTIONS.contains(&w) || schema::is_device_option(w))
    }

    fn memory(&mut self, t: &'a Token) {
        let kind = if t.text == "ram" {
            MemKind::Ram
        } else {
            MemKind::Rom
        };
        let Some(v) = self.value(t, "`[start,]length`") else {
            return;
        };
        match value::range(&v.text) {
            Ok((start, len)) => {
                let explicit = start.is_some();
                let start = start.unwrap_or(self.high);
                let span = t.span.to(v.span);
                if len == 0 {
                    self.err(
                        Diagnostic::new(&codes::Q0214, format!("`{}` of zero length", t.text))
                            .at(v.span, "length 0")
                            .help("give the length in bytes, e.g. `128M`"),
                    );
                    return;
                }
                let Some(last) = start.checked_add(len - 1) else {
                    self.err(
                        Diagnostic::new(
                            &codes::Q0214,
                            format!(
                                "{:#x} + {:#x} wraps past the end of the address space",
                                start, len
                            ),
                        )
                        .at(v.span, "this region"),
                    );
                    return;
                };
                self.high = self.high.max(last.saturating_add(1));
                if kind == MemKind::Ram && self.facts.first_ram.is_none() {
                    self.facts.first_ram = Some(span);
                }
                self.cfg.memory.push(MemRegion {
                    kind,
                    start,
                    len,
                    explicit_start: explicit,
                    span,
                });
            }
            Err(e) => self.bad(v, &t.text, e),
        }
    }

    fn load(&mut self, load_tok: &'a Token, kind: LoadKind, first: Span) {
        let Some(v) = self.value(load_tok, "a file (`[addr,]path`)") else {
            return;
        };
        let (addr, path, path_span) = match v.text.split_once(',') {
            Some((a, p)) if value::number(a).is_ok() => {
                let off = if v.quoted { 0 } else { a.len() + 1 };
                let ps = Span::new(
                    v.span.file,
                    v.span.start as usize + off,
                    v.span.end as usize,
                );
                (value::number(a).ok(), p.to_string(), ps)
            }
            _ => (None, v.text.clone(), v.span),
        };
        if path.is_empty() {
            self.err(
                Diagnostic::new(&codes::Q0103, "`load` needs a file name")
                    .at(v.span, "no path here"),
            );
            return;
        }
        self.facts
            .load_after_ram
            .push(self.facts.first_ram.is_some());
        self.cfg.loads.push(Load {
            kind,
            path: Spanned::new(path, path_span),
            addr,
            placed_at: None,
            size: None,
            detected: ImageType::Unknown,
            entry: None,
            span: first.to(v.span),
        });
    }

    fn vdev(&mut self, t: &'a Token) {
        // `vdev` followed by a top-level option: the device name is missing.
        if let Some(n) = self.toks.get(self.i)
            && !n.quoted
            && TOP_OPTIONS.contains(&n.text.as_str())
        {
            self.err(
                Diagnostic::new(&codes::Q0103, "`vdev` needs a device name")
                    .at(t.span, "expects a device name after this")
                    .with(n.span, "an option, not a device")
                    .help("write `vdev NAME [options]`, e.g. `vdev ser8250 loc 0x3f8`"),
            );
            self.ctx = Ctx::Skip;
            return;
        }
        let Some(v) = self.value(t, "a device name") else {
            self.ctx = Ctx::Skip;
            return;
        };
        let Some(kind) = VdevKind::from_written(&v.text) else {
            let base = schema::base_name(&v.text);
            let mut d = Diagnostic::new(&codes::Q0105, format!("unknown vdev `{}`", v.text))
                .at(v.span, "no such vdev");
            if let Some(s) = schema::did_you_mean(base, VdevKind::ALL.iter().map(|k| k.name())) {
                d = d.help(format!("did you mean `{s}`?"));
            } else {
                d = d.help(format!("hvhost knows: {}", VdevKind::known()));
            }
            d = d.note(format!(
                "qvm would load `vdev-{base}.so`; hvhost cannot check or run a device it does not know"
            ));
            self.err(d);
            self.ctx = Ctx::Skip;
            return;
        };
        self.cfg.vdevs.push(Vdev {
            kind,
            written: Spanned::new(v.text.clone(), v.span),
            name: None,
            loc: None,
            attach: Attach::None,
            intr: Vec::new(),
            log: None,
            hostvector: None,
            delayed: None,
            sched: None,
            options: VdevOptions::new(kind),
            safety: self.safety.0,
            safety_span: self.safety.1,
            span: t.span.to(v.span),
        });
        self.ctx = Ctx::Vdev(self.cfg.vdevs.len() - 1);
    }

    fn repeated(&mut self, t: &Token, prev: Span, what: &str) {
        self.err(
            Diagnostic::new(
                &codes::Q0110,
                format!("`{}` is given twice for {what}", t.text),
            )
            .at(t.span, "second time")
            .with(prev, "first time")
            .help(format!("keep one `{}`", t.text)),
        );
    }

    /// Handles `t` if it is an option of vdev `v`; false if it is not.
    fn vdev_option(&mut self, v: usize, t: &'a Token) -> bool {
        if t.quoted {
            return false;
        }
        let kind = self.cfg.vdevs[v].kind;
        let word = t.text.as_str();
        let what = format!("`vdev {}`", kind.name());
        match word {
            "loc" => {
                let Some(val) = self.value(t, "a location") else {
                    return true;
                };
                if let Some(prev) = &self.cfg.vdevs[v].loc {
                    let p = prev.span;
                    self.repeated(t, p, &what);
                    return true;
                }
                let d = kind.decl();
                match value::location(&val.text, d.space, d.len) {
                    Ok(l) => self.cfg.vdevs[v].loc = Some(Spanned::new(l, val.span)),
                    Err(e) => self.bad(val, "loc", e),
                }
            }
            "intr" => {
                let Some(val) = self.value(t, "an interrupt (`pic:line`)") else {
                    return true;
                };
                if let Some(prev) = self.cfg.vdevs[v].intr.first() {
                    let p = prev.span;
                    self.repeated(t, p, &what);
                    return true;
                }
                // hpet: one interrupt per timer, comma separated.
                let parts: Vec<&str> = if kind == VdevKind::Hpet {
                    val.text.split(',').collect()
                } else {
                    vec![val.text.as_str()]
                };
                let mut off = val.span.start as usize + usize::from(val.quoted);
                for p in parts {
                    let span = if val.quoted {
                        val.span
                    } else {
                        Span::new(val.span.file, off, off + p.len())
                    };
                    off += p.len() + 1;
                    match value::intr(p, false) {
                        Ok(i) => self.cfg.vdevs[v].intr.push(Spanned::new(i, span)),
                        Err(e) => self.bad(val, "intr", e),
                    }
                }
            }
            "name" => {
                let Some(val) = self.value(t, "a name") else {
                    return true;
                };
                if let Some(prev) = &self.cfg.vdevs[v].name {
                    let p = prev.span;
                    self.repeated(t, p, &what);
                    return true;
                }
                self.cfg.vdevs[v].name = Some(Spanned::new(val.text.clone(), val.span));
            }
            "log" => {
                if let Some(val) = self.value(t, "a log setting") {
                    self.cfg.vdevs[v].log = Some(Spanned::new(val.text.clone(), val.span));
                }
            }
            "hostvector" => {
                if let Some(val) = self.value(t, "a host vector") {
                    match value::number_u32(&val.text) {
                        Ok(n) => self.cfg.vdevs[v].hostvector = Some(Spanned::new(n, val.span)),
                        Err(e) => self.bad(val, "hostvector", e),
                    }
                }
            }
            "delayed" => {
                if let Some(val) = self.value(t, "seconds or `forever`") {
                    let d = if val.text == "forever" {
                        Ok(Delayed::Forever)
                    } else {
                        value::number(&val.text).map(Delayed::Secs)
                    };
                    match d {
                        Ok(d) => self.cfg.vdevs[v].delayed = Some(Spanned::new(d, val.span)),
                        Err(e) => self.bad(val, "delayed", e),
                    }
                }
            }
            "sched" => {
                if let Some(val) = self.value(t, "a priority") {
                    match value::sched(&val.text) {
                        Ok(s) => self.cfg.vdevs[v].sched = Some(Spanned::new(s, val.span)),
                        Err(e) => self.bad(val, "sched", e),
                    }
                }
            }
            _ => {
                let Some(decl) = schema::own_option(kind, word) else {
                    if TOP_OPTIONS.contains(&word) {
                        return false;
                    }
                    self.unknown(t);
                    return true;
                };
                let val = match Arity::of(decl.value) {
                    Arity::Flag => None,
                    Arity::One => match self.value(t, "a value") {
                        Some(x) => Some(x),
                        None => return true,
                    },
                    Arity::OptionalNumber => match self.toks.get(self.i) {
                        Some(x) if !x.quoted && value::number(&x.text).is_ok() => {
                            self.i += 1;
                            Some(x)
                        }
                        _ => None,
                    },
                };
                self.specific(v, decl, t, val);
            }
        }
        true
    }

    /// A device's own option, read as its declaration says.
    fn specific(&mut self, v: usize, decl: &'static OptDecl, t: &Token, val: Option<&Token>) {
        let vt = val.unwrap_or(t);
        let kind = self.cfg.vdevs[v].kind;
        let text = val.map(|x| x.text.as_str()).unwrap_or("");
        let value = match options::parse(decl, text, kind.name()) {
            Ok(value) => value,
            Err(e) => return self.bad(vt, decl.name, e),
        };
        let given = GivenOption {
            decl,
            value,
            span: vt.span,
        };
        if self.cfg.vdevs[v].options.add(given).is_err() {
            let word = decl.name;
            self.err(
                Diagnostic::new(
                    &codes::Q0110,
                    format!("`{word}` is given twice for `vdev {}`", kind.name()),
                )
                .at(t.span, "second time")
                .help(format!("keep one `{word}`")),
            );
        }
    }

    fn cpu_option(&mut self, c: usize, t: &'a Token) {
        let word = t.text.as_str();
        let Some(v) = self.value(t, "a value") else {
            return;
        };
        let span = v.span;
        match word {
            "sched" => match value::sched(&v.text) {
                Ok(s) => self.cfg.cpus[c].sched = Some(Spanned::new(s, span)),
                Err(e) => self.bad(v, "sched", e),
            },
            "runmask" => match value::cpu_list(&v.text) {
                Ok(l) if l.iter().all(|&n| n < 64) => {
                    self.cfg.cpus[c].runmask = l;
                    self.cfg.cpus[c].runmask_span = Some(span);
                }
                Ok(_) => self.bad(v, "runmask", "host CPU numbers are 0–63".into()),
                Err(e) => self.bad(v, "runmask", e),
            },
            "partition" => self.cfg.cpus[c].partition = Some(Spanned::new(v.text.clone(), span)),
            _ => self.cfg.cpus[c].cluster = Some(Spanned::new(v.text.clone(), span)),
        }
    }

    fn pass_option(&mut self, p: usize, t: &'a Token, reserve: bool) {
        let word = t.text.as_str();
        let Some(v) = self.value(
            t,
            if word == "loc" {
                "a location"
            } else {
                "an interrupt"
            },
        ) else {
            return;
        };
        if word == "loc" {
            let loc = if reserve {
                value::location(&v.text, Space::Mem, 0).and_then(|l| match l {
                    Location::Region { len: 0, .. } => {
                        Err("a reserved region needs a length (`addr,len`)".into())
                    }
                    l => Ok(l),
                })
            } else {
                value::pass_location(&v.text)
            };
            let prev = if reserve {
                self.cfg.reserves[p].loc.as_ref().map(|l| l.span)
            } else {
                self.cfg.passes[p].loc.as_ref().map(|l| l.span)
            };
            if let Some(prev) = prev {
                self.repeated(
                    t,
                    prev,
                    if reserve {
                        "one `reserve`"
                    } else {
                        "one `pass`"
                    },
                );
                return;
            }
            match loc {
                Ok(l) => {
                    let l = Spanned::new(l, v.span);
                    if reserve {
                        self.cfg.reserves[p].loc = Some(l);
                    } else {
                        self.cfg.passes[p].loc = Some(l);
                    }
                }
                Err(e) => self.bad(v, "loc", e),
            }
        } else {
            match value::intr(&v.text, !reserve) {
                Ok(i) => {
                    let i = Spanned::new(i, v.span);
                    if reserve {
                        self.cfg.reserves[p].intr.push(i);
                    } else {
                        self.cfg.passes[p].intr.push(i);
                    }
                }
                Err(e) => self.bad(v, "intr", e),
            }
        }
    }

    fn unsupported(&mut self, t: &'a Token) {
        let Some(what) = self.value(t, "`instruction`, `reference` or `register` and an action")
        else {
            return;
        };
        let Some(act) = self.value(what, "`abort`, `fail` or `ignore`") else {
            return;
        };
        let action = match act.text.as_str() {
            "abort" => UnsupportedAction::Abort,
            "fail" => UnsupportedAction::Fail,
            "ignore" => UnsupportedAction::Ignore,
            _ => {
                self.bad(
                    act,
                    "unsupported",
                    format!("`{}` is not `abort`, `fail` or `ignore`", act.text),
                );
                return;
            }
        };
        match what.text.as_str() {
            "instruction" => self.cfg.unsupported.instruction = action,
            "reference" => self.cfg.unsupported.reference = action,
            "register" => self.cfg.unsupported.register = action,
            _ => self.bad(
                what,
                "unsupported",
                format!(
                    "`{}` is not `instruction`, `reference` or `register`",
                    what.text
                ),
            ),
        }
    }

    fn logger(&mut self, t: &'a Token) {
        let Some(f) = self.value(t, "filters and a destination") else {
            return;
        };
        let Some(dest) = self.value(f, "a destination (`stdout`, `stderr`, `slog`, `none`)") else {
            return;
        };
        const FILTERS: &[&str] = &[
            "fatal", "internal", "error", "warn", "info", "debug", "verbose",
        ];
        let filters: Vec<String> = f.text.split(',').map(str::to_string).collect();
        if let Some(bad) = filters.iter().find(|x| !FILTERS.contains(&x.as_str())) {
            let mut d = format!("`{bad}` is not a filter ({})", FILTERS.join(" "));
            if let Some(s) = schema::did_you_mean(bad, FILTERS.iter().copied()) {
                d.push_str(&format!("; did you mean `{s}`?"));
            }
            self.bad(f, "logger", d);
            return;
        }
        if !["stdout", "stderr", "slog", "none"].contains(&dest.text.as_str()) {
            self.bad(
                dest,
                "logger",
                format!(
                    "`{}` is not a destination (stdout, stderr, slog, none)",
                    dest.text
                ),
            );
            return;
        }
        self.cfg.logger = Logger {
            filters,
            dest: dest.text.clone(),
            span: Some(t.span.to(dest.span)),
        };
    }
}

/// A word that is an option in some context (where skipping stops).
fn is_known_word(w: &str) -> bool {
    TOP_OPTIONS.contains(&w)
        || is_common(w)
        || CPU_OPTIONS.contains(&w)
        || schema::is_device_option(w)
}
