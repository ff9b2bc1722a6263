//! Top-level options: `system`, `ram`/`rom`, `load` and the typed loads,
//! `cmdline`, the context openers, `unsupported`, `safety`, `logger`, `set`, ...

use super::*;

impl<'a> Parser<'a> {
    /// A top-level option (or an unknown word).
    pub(super) fn top(&mut self, t: &'a Token, word: &str) {
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
            "acpi" | "data" | "fdt" | "initrd" => self.typed_load(t, word),
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
            "safety" => self.safety_option(t),
            "logger" => self.logger(t),
            "dump" => {
                if let Some(v) = self.value(t, "a directory or `|command`") {
                    self.cfg.dump = Some(Spanned::new(v.text.clone(), v.span));
                }
            }
            "set" => self.set(t),
            "dryrun" => self.cfg.dryrun = true,
            _ => self.unknown(t),
        }
    }

    pub(super) fn memory(&mut self, t: &'a Token) {
        let kind = if t.text == "ram" {
            MemKind::Ram
        } else {
            MemKind::Rom
        };
        self.facts.ram_written |= kind == MemKind::Ram;
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

    pub(super) fn load(&mut self, load_tok: &'a Token, kind: LoadKind, first: Span) {
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
        self.facts.load_after_ram.push(self.facts.ram_written);
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

    pub(super) fn unsupported(&mut self, t: &'a Token) {
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

    pub(super) fn logger(&mut self, t: &'a Token) {
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

    /// `acpi|data|fdt|initrd load ...`.
    fn typed_load(&mut self, t: &'a Token, word: &str) {
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

    /// `safety none|warn|required`.
    fn safety_option(&mut self, t: &'a Token) {
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

    /// `set variable value`.
    fn set(&mut self, t: &'a Token) {
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
}
