//! A word that is no option where it stands: Q0102 with a did-you-mean, or
//! Q0106 for an option written before its context.

use super::*;

impl<'a> Parser<'a> {
    pub(super) fn unknown(&mut self, t: &Token) {
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

    pub(super) fn is_context_word(&self, w: &str) -> bool {
        matches!(self.ctx, Ctx::None)
            && (is_common(w) || CPU_OPTIONS.contains(&w) || schema::is_device_option(w))
    }
}
