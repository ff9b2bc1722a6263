//! `vdev NAME` and its options: the common ones into the vdev's fields, its
//! own by their declaration.

use super::*;

impl<'a> Parser<'a> {
    pub(super) fn vdev(&mut self, t: &'a Token) {
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
            self.unknown_vdev(t, v);
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

    /// `vdev NAME` for a name hvhost does not know. Close to a known name
    /// (`ser8205`): a misspelling, an error (Q0105) whose options are
    /// skipped. Otherwise a vendor's own vdev, which qvm loads as
    /// `vdev-NAME.so`: kept with its words, and a warning (Q0112) that they
    /// cannot be checked.
    fn unknown_vdev(&mut self, t: &'a Token, v: &'a Token) {
        let base = schema::base_name(&v.text);
        if let Some(s) = schema::did_you_mean(base, VdevKind::ALL.iter().map(|k| k.name())) {
            let d = Diagnostic::new(&codes::Q0105, format!("unknown vdev `{}`", v.text))
                .at(v.span, "no such vdev")
                .help(format!("did you mean `{s}`?"))
                .note(format!(
                    "qvm would load `vdev-{base}.so`; a name this close to `{s}` is taken for a misspelling"
                ));
            self.err(d);
            self.ctx = Ctx::Skip;
            return;
        }
        self.err(
            Diagnostic::new(
                &codes::Q0112,
                format!("vdev `{}` is not one hvhost knows: its options cannot be checked", v.text),
            )
            .at(v.span, format!("qvm loads `vdev-{base}.so`"))
            .note(format!(
                "hvhost knows: {}; `hvhost check` says whether the host image has `vdev-{base}.so`, and hvhost's VMM does not run it",
                VdevKind::known()
            )),
        );
        self.cfg.foreign_vdevs.push(ForeignVdev {
            written: Spanned::new(v.text.clone(), v.span),
            name: base.to_string(),
            words: Vec::new(),
            safety: self.safety.0,
            safety_span: self.safety.1,
            span: t.span.to(v.span),
        });
        self.ctx = Ctx::Foreign(self.cfg.foreign_vdevs.len() - 1);
    }

    /// Handles `t` if it is an option of vdev `v`; false if it is not.
    pub(super) fn vdev_option(&mut self, v: usize, t: &'a Token) -> bool {
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
            "intr" => self.vdev_intr(v, t, &what),
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
            _ => return self.own_option(v, t),
        }
        true
    }

    /// A device's own option, read as its declaration says.
    pub(super) fn specific(
        &mut self,
        v: usize,
        decl: &'static OptDecl,
        t: &Token,
        val: Option<&Token>,
    ) {
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

    /// `intr` of vdev `v` (an hpet has one per timer, comma separated).
    fn vdev_intr(&mut self, v: usize, t: &'a Token, what: &str) {
        let kind = self.cfg.vdevs[v].kind;
        let Some(val) = self.value(t, "an interrupt (`pic:line`)") else {
            return;
        };
        if let Some(prev) = self.cfg.vdevs[v].intr.first() {
            let p = prev.span;
            self.repeated(t, p, what);
            return;
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

    /// One of the device's own options; false if `t` is none (a top-level option).
    fn own_option(&mut self, v: usize, t: &'a Token) -> bool {
        let kind = self.cfg.vdevs[v].kind;
        let word = t.text.as_str();
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
        true
    }
}
