//! Buildfile text for boot script commands: what `hvhost manifest` prints,
//! and the form a compiled script decodes back to.

use crate::{External, Policy, ScriptCommand, ScriptKind};

/// A count of 100 ms checks as seconds (`40` → `4`, `5` → `0.5`).
pub fn tenths_text(checks: u16) -> String {
    if checks.is_multiple_of(10) {
        format!("{}", checks / 10)
    } else {
        format!("{}.{}", checks / 10, checks % 10)
    }
}
use std::fmt;

/// Quotes a word when the boot script would otherwise split or misread it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\\' || b == b'#' || b == b'[');
    if plain {
        word.to_string()
    } else {
        let mut s = String::with_capacity(word.len() + 2);
        s.push('"');
        for c in word.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

impl External {
    /// The modifiers in force, as written in a buildfile (`[pri=10f +session]`),
    /// or an empty string.
    pub fn modifiers(&self) -> String {
        let mut m = Vec::new();
        if let Some(a) = &self.argv0 {
            m.push(format!("argv0={}", quote(a)));
        }
        if let Some(c) = self.cpu {
            m.push(format!("cpu={c}"));
        }
        if self.debug {
            m.push("+debug".into());
        }
        if self.external {
            m.push("+external".into());
        }
        if let Some((p, pol)) = self.priority {
            let l = match pol {
                Policy::Unchanged => "",
                Policy::Fifo => "f",
                Policy::RoundRobin => "r",
                Policy::Other => "o",
            };
            m.push(format!("pri={p}{l}"));
        }
        if self.session {
            m.push("+session".into());
        }
        if let Some(s) = &self.sched_aps {
            m.push(format!("sched_aps={s}"));
        }
        if m.is_empty() {
            String::new()
        } else {
            format!("[{}]", m.join(" "))
        }
    }
}

impl fmt::Display for ScriptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptKind::External(e) => {
                let mut parts = Vec::new();
                let m = e.modifiers();
                if !m.is_empty() {
                    parts.push(m);
                }
                parts.extend(
                    e.env
                        .iter()
                        .map(|v| format!("{}={}", v.name, quote(&v.value))),
                );
                parts.push(quote(&e.program));
                parts.extend(e.args.iter().map(|a| quote(a)));
                if e.background {
                    parts.push("&".into());
                }
                f.write_str(&parts.join(" "))
            }
            ScriptKind::GlobalEnv { vars } => f.write_str(
                &vars
                    .iter()
                    .map(|v| format!("{}={}", v.name, quote(&v.value)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ScriptKind::Waitfor { path, checks } => {
                write!(f, "waitfor {} {}", quote(path), tenths_text(*checks))
            }
            ScriptKind::Reopen { path, checks } => {
                write!(f, "reopen {} {}", quote(path), tenths_text(*checks))
            }
            ScriptKind::DisplayMsg { text } => {
                if text.is_empty() {
                    f.write_str("display_msg")
                } else if text.trim().is_empty() || text.contains("  ") || text != text.trim() {
                    write!(f, "display_msg {}", quote(text))
                } else {
                    let words: Vec<String> = text.split(' ').map(quote).collect();
                    write!(f, "display_msg {}", words.join(" "))
                }
            }
            ScriptKind::ProcmgrSymlink { target, link } => {
                write!(f, "procmgr_symlink {} {}", quote(target), quote(link))
            }
            ScriptKind::SchedAps {
                name,
                budget,
                critical_ms,
            } => write!(f, "sched_aps {} {budget} {critical_ms}", quote(name)),
        }
    }
}

impl fmt::Display for ScriptCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use crate::script::parse_script;
    use diag::{SourceMap, Span};

    /// Printing a parsed script and parsing the print gives the same commands.
    #[test]
    fn printed_commands_parse_back_to_the_same() {
        let src = concat!(
            "[pri=10f +session argv0=sh2] PATH=/bin:/sbin ksh -c \"echo a  b\" &\n",
            "display_msg \"  padded  \"\n",
            "display_msg Starting hypervisor host\n",
            "display_msg\n",
            "waitfor /dev/ser1 0.5\n",
            "reopen\n",
            "TERM=qansi HOME=/\n",
            "procmgr_symlink \"../a b\" /x\n",
            "sched_aps guests 40 10\n",
            "[sched_aps=guests cpu=1 +debug +external] waitfor x\n",
        );
        let mut map = SourceMap::new();
        let id = map.add("a", src);
        let mut d = Vec::new();
        let first = parse_script(
            src.as_bytes(),
            Span::new(id, 0, src.len()),
            &mut Vec::new(),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        let printed: String = first.iter().map(|c| format!("{c}\n")).collect();
        let id2 = map.add("b", printed.clone());
        let second = parse_script(
            printed.as_bytes(),
            Span::new(id2, 0, printed.len()),
            &mut Vec::new(),
            &mut d,
        );
        assert!(d.is_empty(), "{printed}\n{d:?}");
        let kinds =
            |c: &[crate::ScriptCommand]| c.iter().map(|c| c.kind.clone()).collect::<Vec<_>>();
        // Spans of env vars differ; compare the text forms and kinds without spans.
        assert_eq!(
            printed,
            second.iter().map(|c| format!("{c}\n")).collect::<String>()
        );
        assert_eq!(kinds(&first).len(), kinds(&second).len());
        assert!(
            printed
                .contains("[argv0=sh2 pri=10f +session] PATH=/bin:/sbin ksh -c \"echo a  b\" &\n")
        );
        assert!(printed.contains("display_msg \"  padded  \"\n"));
        assert!(printed.contains("waitfor /dev/ser1 0.5\n"));
        assert!(printed.contains("reopen /dev/console 5\n"));
    }
}
