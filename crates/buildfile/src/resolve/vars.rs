//! `${VAR}` expansion.

use super::*;

impl Resolver<'_> {
    pub(super) fn var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.opts.env.get(name) {
            return Some(v.clone());
        }
        match name {
            // The path-list separator of the build host.
            "PFS" => Some(":".into()),
            "MKIFS_PATH" => Some(
                self.default_search()
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        }
    }

    /// Expands the `${...}` parts of a word. A loop or a runaway expansion
    /// is reported once (B0208) and the word keeps what was expanded so far.
    pub(super) fn expand<'w>(&mut self, w: &'w Word) -> Cow<'w, str> {
        let Some(parts) = &w.parts else {
            return Cow::Borrowed(&w.text);
        };
        let mut out = String::with_capacity(w.text.len() + 64);
        for p in parts {
            match p {
                lexer::Part::Lit(s) => out.push_str(s),
                lexer::Part::Var { name, span } => {
                    if !self.expand_var(name, *span, 0, &mut out) {
                        break;
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// [`Self::expand`] giving a `String`: the word's own when it has no
    /// `${...}` (the word is left empty).
    pub(super) fn expand_owned(&mut self, w: &mut Word) -> String {
        if w.parts.is_none() {
            return std::mem::take(&mut w.text);
        }
        self.expand(w).into_owned()
    }

    /// Appends the value of `name` to `out`, expanding the `${...}` it holds.
    /// Returns false (after reporting B0208) when the expansion is too deep
    /// or too long, so that the caller stops.
    pub(super) fn expand_var(
        &mut self,
        name: &str,
        span: Span,
        depth: usize,
        out: &mut String,
    ) -> bool {
        let problem = if depth >= MAX_EXPANSION_DEPTH {
            Some(format!(
                "`${{{name}}}` expands more than {MAX_EXPANSION_DEPTH} levels deep"
            ))
        } else if out.len() > MAX_EXPANSION_LEN {
            Some(format!(
                "`${{{name}}}` expands to more than {MAX_EXPANSION_LEN} bytes"
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            self.diags.push(
                Diagnostic::new(&codes::B0208, message)
                    .at(span, "expanded here")
                    .help("a variable's value refers back to itself; break the loop"),
            );
            return false;
        }
        // A value without `$` (the usual case) is appended without a copy.
        if let Some(v) = self.vars.get(name).or_else(|| self.opts.env.get(name))
            && memchr::memchr(b'$', v.as_bytes()).is_none()
        {
            out.push_str(v);
            return true;
        }
        let Some(value) = self.var(name) else {
            if !self.reported_unset.contains(name) && self.reported_unset.insert(name.to_string()) {
                self.diags.push(
                    Diagnostic::new(&codes::B0207, format!("`${{{name}}}` is not set: it expands to nothing"))
                        .at(span, "first used here")
                        .help(format!("set `{name}` in the environment, as on the machine the buildfile was written for")),
                );
            }
            return true;
        };
        // The value may itself hold `${...}`.
        let mut rest = value.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            match rest[i + 2..].find('}') {
                Some(j) => {
                    let inner = rest[i + 2..i + 2 + j].to_string();
                    if !self.expand_var(&inner, span, depth + 1, out) {
                        return false;
                    }
                    rest = &rest[i + 2 + j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        true
    }
}
