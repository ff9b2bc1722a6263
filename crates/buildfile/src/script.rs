//! The boot script (`[+script] name = { ... }`): lines into typed commands.
//!
//! A line is `[modifiers] VAR=val ... command args... [&]`. A line of only
//! modifiers applies them to every later command; a line of only `VAR=val`
//! words adds to the environment of every later command. The built-ins are
//! `display_msg`, `waitfor`, `reopen`, `procmgr_symlink` and `sched_aps`
//! (unless `+external` makes the name a program).

use crate::attrs::{self, Lookup, ModName, Setting};
use crate::codes;
use crate::display::tenths_text;
use crate::lexer::{Lexer, LineTok, Word};
use crate::{EnvVar, External, Policy, ScriptCommand, ScriptKind};
use diag::{Diagnostic, Span};

/// The most partitions APS allows, `System` included.
pub const MAX_APS_PARTITIONS: usize = 8;
/// The longest partition name.
pub const MAX_APS_NAME: usize = 15;
/// Default timeout of `waitfor` and `reopen`: 5 s in 100 ms checks.
pub const DEFAULT_CHECKS: u16 = 50;

/// Modifiers in force for a command.
#[derive(Debug, Clone, Default)]
struct Modifiers {
    argv0: Option<String>,
    cpu: Option<u8>,
    debug: bool,
    external: bool,
    pri: Option<(u8, Policy)>,
    session: bool,
    sched_aps: Option<String>,
}

/// Parses the script contents at `body` (a range of `src`) into commands.
///
/// `partitions` holds the APS partitions created so far (several scripts are
/// run one after another and share them).
pub fn parse_script(
    src: &[u8],
    body: Span,
    partitions: &mut Vec<(String, u8)>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ScriptCommand> {
    let mut lx = Lexer::new(src, body.file, body.start as usize, body.end as usize);
    let mut global = Modifiers::default();
    let mut out = Vec::new();
    loop {
        let lex_errors = lx.errors.len();
        let Some(line) = lx.script_line() else {
            break;
        };
        if lx.errors.len() > lex_errors {
            // The line cannot be read as its author meant (a quote that
            // runs to the end of the line takes a trailing `&` with it):
            // say so and drop the line.
            let swallowed = line.toks.last().is_some_and(
                |t| matches!(t, LineTok::Word(w) if w.quoted && w.text.trim_end().ends_with('&')),
            );
            for e in lx.errors.drain(lex_errors..) {
                let d = crate::parser::lex_diagnostic(&e);
                diags.push(if swallowed {
                    d.note("the `&` at the end of the line is inside the quote: the command would not run in the background")
                } else {
                    d
                });
            }
            continue;
        }
        if line.toks.is_empty() {
            continue;
        }
        let mut m = global.clone();
        let mut words: Vec<Word> = Vec::new();
        let mut had_mods = false;
        let mut unclosed = false;
        for t in line.toks {
            match t {
                LineTok::Attrs {
                    words: mods,
                    span,
                    closed,
                } => {
                    if !closed {
                        // The command went into the list: what its words
                        // would say as modifiers follows from the `]`.
                        diags.push(
                            Diagnostic::new(&codes::B0102, "this modifier list is never closed")
                                .at(span, "opened here; the line ends inside it")
                                .help("close the list with `]` on the same line"),
                        );
                        unclosed = true;
                        break;
                    }
                    had_mods = true;
                    for w in mods {
                        modifier(&mut m, &w, partitions, diags);
                    }
                }
                LineTok::Word(w) => words.push(w),
            }
        }
        if unclosed {
            continue;
        }
        if words.is_empty() {
            if had_mods {
                global = m;
            }
            continue;
        }
        let background = words.last().is_some_and(|w| w.text == "&" && !w.quoted);
        let amp = if background { words.pop() } else { None };
        shell_construct(&words, diags);
        let n_env = words.iter().take_while(|w| is_assignment(w)).count();
        let env: Vec<EnvVar> = words[..n_env].iter().map(env_var).collect();
        let rest = &words[n_env..];
        let span = line.span;
        if rest.is_empty() {
            if let Some(a) = amp {
                diags.push(
                    Diagnostic::new(
                        &codes::B0309,
                        "`&` with no command to run in the background",
                    )
                    .at(a.span, "nothing to run")
                    .help("remove the `&`, or put the command before it"),
                );
            }
            out.push(ScriptCommand {
                kind: ScriptKind::GlobalEnv { vars: env },
                span,
            });
            continue;
        }
        let kind = command_kind(&m, rest, env, background, partitions, diags);
        if let Some(kind) = kind {
            out.push(ScriptCommand { kind, span });
        }
    }
    out
}

/// What a word of a script line would be to a shell, when the boot script
/// has no such thing: pipes, lists, redirection, a `&` before the line's end.
fn shell_meaning(w: &Word) -> Option<&'static str> {
    if w.quoted {
        return None;
    }
    let t = w.text.as_str();
    let starts = |p: &[&str]| p.iter().any(|p| t.starts_with(p));
    if t == "&" {
        Some("a background `&` before the end of the line")
    } else if t.contains("&&") || t.contains("||") {
        Some("a conditional list (`&&`, `||`)")
    } else if t.contains('|') {
        Some("a pipe (`|`)")
    } else if t.contains(';') {
        Some("a command list (`;`)")
    } else if starts(&[">", "<", "1>", "2>", "&>"]) {
        Some("a redirection (`>`, `<`)")
    } else {
        None
    }
}

/// Warns at the first word of a line that a shell would read as an
/// operator: the boot script passes it to the command as a plain word.
fn shell_construct(words: &[Word], diags: &mut Vec<Diagnostic>) {
    let n_env = words.iter().take_while(|w| is_assignment(w)).count();
    let Some((program, args)) = words[n_env..].split_first() else {
        return;
    };
    let Some((w, what)) = args.iter().find_map(|w| shell_meaning(w).map(|m| (w, m))) else {
        return;
    };
    diags.push(
        Diagnostic::new(
            &codes::B0311,
            format!(
                "`{}` is passed to `{}` as a plain word: the boot script has no shell syntax",
                w.text, program.text
            ),
        )
        .at(w.span, format!("{what} to a shell; an argument here"))
        .with(program.span, "the one command this line runs")
        .help("put each command on its own line (a trailing `&` runs it in the background), or run a shell: `ksh -c \"a | b\"`"),
    );
}

/// The command a script line runs: a built-in, or an external program.
fn command_kind(
    m: &Modifiers,
    rest: &[Word],
    env: Vec<EnvVar>,
    background: bool,
    partitions: &mut Vec<(String, u8)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<ScriptKind> {
    let program = &rest[0];
    let args = &rest[1..];
    let builtin = !m.external && !program.quoted;
    match program.text.as_str() {
        "display_msg" if builtin => Some(ScriptKind::DisplayMsg {
            text: args
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }),
        "waitfor" if builtin => wait_like(program, args, true, diags)
            .map(|(path, checks)| ScriptKind::Waitfor { path, checks }),
        "reopen" if builtin => wait_like(program, args, false, diags)
            .map(|(path, checks)| ScriptKind::Reopen { path, checks }),
        "procmgr_symlink" if builtin => {
            if args.len() != 2 {
                diags.push(arg_count(
                    program,
                    args,
                    "procmgr_symlink target linkpath",
                    "two arguments: what the link points to, then the link's path",
                ));
                None
            } else {
                Some(ScriptKind::ProcmgrSymlink {
                    target: args[0].text.clone(),
                    link: args[1].text.clone(),
                })
            }
        }
        "sched_aps" if builtin => sched_aps(program, args, partitions, diags),
        _ => Some(ScriptKind::External(External {
            program: program.text.clone(),
            argv0: m.argv0.clone(),
            args: args.iter().map(|w| w.text.clone()).collect(),
            env,
            background,
            session: m.session,
            debug: m.debug,
            external: m.external,
            cpu: m.cpu,
            priority: m.pri,
            sched_aps: m.sched_aps.clone(),
        })),
    }
}

/// `NAME=value` with a name that can be an environment variable.
pub(crate) fn is_assignment(w: &Word) -> bool {
    if w.quoted {
        return false;
    }
    let Some((name, _)) = w.text.split_once('=') else {
        return false;
    };
    let mut b = name.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

pub(crate) fn env_var(w: &Word) -> EnvVar {
    let (name, value) = w.text.split_once('=').unwrap_or((&w.text, ""));
    EnvVar {
        name: name.to_string(),
        value: value.to_string(),
        span: w.span,
    }
}

fn arg_count(program: &Word, args: &[Word], usage: &str, what: &str) -> Diagnostic {
    let span = args.iter().fold(program.span, |s, a| s.to(a.span));
    Diagnostic::new(
        &codes::B0303,
        format!("`{}` takes {what}; {} given", program.text, args.len()),
    )
    .at(span, format!("usage: {usage}"))
    .help(format!("write `{usage}`"))
}

fn wait_like(
    program: &Word,
    args: &[Word],
    path_required: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, u16)> {
    let (usage, what) = if path_required {
        ("waitfor path [timeout]", "a path and an optional timeout")
    } else {
        (
            "reopen [path] [timeout]",
            "an optional path and an optional timeout",
        )
    };
    if args.len() > 2 || (path_required && args.is_empty()) {
        diags.push(arg_count(program, args, usage, what));
        return None;
    }
    let path = args
        .first()
        .map(|w| w.text.clone())
        .unwrap_or_else(|| "/dev/console".to_string());
    let checks = match args.get(1) {
        None => DEFAULT_CHECKS,
        Some(t) => match attrs::parse_timeout(&t.text) {
            Some((c, exact)) => {
                if !exact {
                    diags.push(
                        Diagnostic::new(
                            &codes::B0310,
                            format!(
                                "timeout `{}` is stored as {} seconds",
                                t.text,
                                tenths_text(c)
                            ),
                        )
                        .at(t.span, "rounded to tenths, at most 6553.5 seconds")
                        .help(format!(
                            "write `{}`, the value the image holds",
                            tenths_text(c)
                        )),
                    );
                }
                c
            }
            None => {
                diags.push(
                    Diagnostic::new(&codes::B0303, format!("`{}` is not a timeout", t.text))
                        .at(
                            t.span,
                            "expected seconds, optionally with tenths (`4`, `0.5`)",
                        )
                        .help("write the timeout as `secs[.tenths]`, at most 6553.5 seconds"),
                );
                return None;
            }
        },
    };
    Some((path, checks))
}

/// Checks a new partition's name: short enough, not taken.
fn aps_name_ok(name: &Word, partitions: &[(String, u8)], diags: &mut Vec<Diagnostic>) -> bool {
    let mut ok = true;
    if name.text.is_empty() || name.text.len() > MAX_APS_NAME {
        diags.push(
            Diagnostic::new(
                &codes::B0306,
                format!(
                    "partition name `{}` is {} characters long",
                    name.text,
                    name.text.len()
                ),
            )
            .at(name.span, format!("at most {MAX_APS_NAME} characters"))
            .help("choose a shorter name"),
        );
        ok = false;
    }
    if name.text == "System" || partitions.iter().any(|(n, _)| *n == name.text) {
        diags.push(
            Diagnostic::new(
                &codes::B0306,
                format!("partition `{}` already exists", name.text),
            )
            .at(name.span, "created again here")
            .help("each partition is created once; `System` always exists"),
        );
        ok = false;
    }
    ok
}

/// The budget (percent) and critical budget (ms) of `sched_aps`.
fn aps_numbers(args: &[Word], diags: &mut Vec<Diagnostic>) -> Option<(u8, u16)> {
    let budget_text = args[1].text.trim_end_matches('%');
    let budget = match budget_text.parse::<u8>() {
        Ok(b) if b <= 100 => Some(b),
        _ => {
            diags.push(
                Diagnostic::new(
                    &codes::B0303,
                    format!("`{}` is not a budget in percent", args[1].text),
                )
                .at(args[1].span, "expected 0 to 100")
                .help("the budget is a whole percentage of CPU time taken from `System`"),
            );
            None
        }
    };
    let critical = match args.get(2) {
        None => Some(0),
        Some(c) => match c.text.parse::<u16>() {
            Ok(v) if v <= 1000 => Some(v),
            _ => {
                diags.push(
                    Diagnostic::new(
                        &codes::B0303,
                        format!("`{}` is not a critical budget", c.text),
                    )
                    .at(c.span, "expected 0 to 1000 milliseconds")
                    .help("the critical budget is in milliseconds, 0 to 1000"),
                );
                None
            }
        },
    };
    Some((budget?, critical?))
}

fn sched_aps(
    program: &Word,
    args: &[Word],
    partitions: &mut Vec<(String, u8)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<ScriptKind> {
    if args.len() < 2 || args.len() > 3 {
        diags.push(arg_count(
            program,
            args,
            "sched_aps name budget% [critical_ms]",
            "a partition name, a budget in percent and an optional critical budget in ms",
        ));
        return None;
    }
    let name = &args[0];
    let mut ok = aps_name_ok(name, partitions, diags);
    let (budget, critical) = aps_numbers(args, diags)?;
    let used: u32 = partitions.iter().map(|(_, b)| u32::from(*b)).sum();
    if used + u32::from(budget) > 100 {
        diags.push(
            Diagnostic::new(
                &codes::B0306,
                format!(
                    "partition `{}` asks for {budget}% but `System` has only {}% left",
                    name.text,
                    100 - used.min(100)
                ),
            )
            .at(args[1].span, "too large a budget")
            .help("budgets are taken from `System`: together they may not exceed 100%"),
        );
        ok = false;
    }
    if partitions.len() + 1 >= MAX_APS_PARTITIONS {
        diags.push(
            Diagnostic::new(
                &codes::B0306,
                format!("more than {MAX_APS_PARTITIONS} partitions (System included)"),
            )
            .at(name.span, "one partition too many")
            .help("merge partitions; APS supports 8, counting System"),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    partitions.push((name.text.clone(), budget));
    Some(ScriptKind::SchedAps {
        name: name.text.clone(),
        budget,
        critical_ms: critical,
    })
}

fn modifier(m: &mut Modifiers, w: &Word, partitions: &[(String, u8)], diags: &mut Vec<Diagnostic>) {
    let Some(raw) = attrs::split_attr(w) else {
        diags.push(
            Diagnostic::new(&codes::B0304, format!("`{}` is not a modifier", w.text))
                .at(w.span, "expected `+name`, `-name` or `name=value`")
                .help("modifiers: argv0= cpu= +debug +external pri= +session sched_aps="),
        );
        return;
    };
    let name = match attrs::lookup(ModName::ALL, &raw.name) {
        Lookup::Found(n) => n,
        Lookup::Ambiguous(c) => {
            diags.push(
                Diagnostic::new(
                    &codes::B0304,
                    format!("`{}` is an ambiguous modifier", raw.name),
                )
                .at(raw.name_span, format!("could be {}", c.join(", ")))
                .help("write the name in full"),
            );
            return;
        }
        Lookup::Unknown(s) => {
            let mut d = Diagnostic::new(&codes::B0304, format!("unknown modifier `{}`", raw.name))
                .at(raw.name_span, "not a boot script modifier");
            d = match s {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("modifiers: argv0= cpu= +debug +external pri= +session sched_aps="),
            };
            diags.push(d);
            return;
        }
    };
    let bad = |diags: &mut Vec<Diagnostic>, msg: String, help: &str| {
        diags.push(
            Diagnostic::new(&codes::B0305, msg)
                .at(raw.span, "here")
                .help(help.to_string()),
        );
    };
    match (name, &raw.setting) {
        (ModName::Debug, s) => m.debug = *s == Setting::On,
        (ModName::External, s) => m.external = *s == Setting::On,
        (ModName::Session, s) => m.session = *s == Setting::On,
        (ModName::Argv0, Setting::Value(v)) => m.argv0 = Some(v.text.clone()),
        (ModName::Cpu, Setting::Value(v)) => {
            if v.text == "*" {
                m.cpu = None;
            } else {
                match v.text.parse::<u8>() {
                    Ok(c) if c < 64 => m.cpu = Some(c),
                    _ => bad(
                        diags,
                        format!("`cpu={}` is not a CPU number", v.text),
                        "write `cpu=N` (0 to 63) or `cpu=*`",
                    ),
                }
            }
        }
        (ModName::Pri, Setting::Value(v)) => match attrs::parse_priority(&v.text) {
            Some((p, pol)) => m.pri = Some((p, pol)),
            _ => bad(
                diags,
                format!("`pri={}` is not a priority", v.text),
                "write `pri=N` with an optional policy letter: f (FIFO), r (round-robin), o (other), e.g. `pri=10f`",
            ),
        },
        (ModName::SchedAps, Setting::Value(v)) => {
            if v.text != "System" && !partitions.iter().any(|(n, _)| *n == v.text) {
                diags.push(
                    Diagnostic::new(
                        &codes::B0307,
                        format!("no APS partition `{}` exists here", v.text),
                    )
                    .at(v.span, "not created by an earlier `sched_aps` line")
                    .help(format!(
                        "create it first: `sched_aps {} BUDGET CRITICAL_MS`",
                        v.text
                    )),
                );
            } else {
                m.sched_aps = Some(v.text.clone());
            }
        }
        (n, _) => bad(
            diags,
            format!("modifier `{}` has the wrong form", n.as_str()),
            match n.kind() {
                attrs::Kind::Bool => "this modifier is `+name` or `-name`",
                _ => "this modifier is `name=value`",
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diag::SourceMap;

    fn parse(src: &str) -> (Vec<ScriptCommand>, Vec<Diagnostic>, SourceMap) {
        let mut map = SourceMap::new();
        let id = map.add("s", src);
        let mut diags = Vec::new();
        let mut parts = Vec::new();
        let cmds = parse_script(
            src.as_bytes(),
            Span::new(id, 0, src.len()),
            &mut parts,
            &mut diags,
        );
        (cmds, diags, map)
    }

    #[test]
    fn every_command_kind() {
        let (c, d, _) = parse(concat!(
            "procmgr_symlink ../../proc/boot/libc.so.5 /usr/lib/ldqnx-64.so.2\n",
            "display_msg \"Starting\"  hypervisor host\n",
            "[pri=10f] devc-ser8250 -e -b115200 &\n",
            "waitfor /dev/ser1 4\n",
            "reopen /dev/ser1\n",
            "reopen\n",
            "TERM=qansi\n",
            "[+session] PATH=/bin ksh &\n",
            "sched_aps qvm 40 100\n",
            "[sched_aps=qvm argv0=vm1 cpu=1] qvm @/vm/a.qvmconf &\n",
            "# a comment\n",
            "[+external] display_msg hi\n",
        ));
        assert!(d.is_empty(), "{d:?}");
        let kinds: Vec<&ScriptKind> = c.iter().map(|c| &c.kind).collect();
        assert_eq!(
            kinds[0],
            &ScriptKind::ProcmgrSymlink {
                target: "../../proc/boot/libc.so.5".into(),
                link: "/usr/lib/ldqnx-64.so.2".into()
            }
        );
        assert_eq!(
            kinds[1],
            &ScriptKind::DisplayMsg {
                text: "Starting hypervisor host".into()
            }
        );
        let ScriptKind::External(e) = kinds[2] else {
            panic!()
        };
        assert_eq!(
            (e.program.as_str(), e.background, e.priority),
            ("devc-ser8250", true, Some((10, Policy::Fifo)))
        );
        assert_eq!(e.args, ["-e", "-b115200"]);
        assert_eq!(
            kinds[3],
            &ScriptKind::Waitfor {
                path: "/dev/ser1".into(),
                checks: 40
            }
        );
        assert_eq!(
            kinds[4],
            &ScriptKind::Reopen {
                path: "/dev/ser1".into(),
                checks: 50
            }
        );
        assert_eq!(
            kinds[5],
            &ScriptKind::Reopen {
                path: "/dev/console".into(),
                checks: 50
            }
        );
        assert!(
            matches!(kinds[6], ScriptKind::GlobalEnv { vars } if vars[0].name == "TERM" && vars[0].value == "qansi")
        );
        let ScriptKind::External(k) = kinds[7] else {
            panic!()
        };
        assert!(k.session && k.background);
        assert_eq!(k.env[0].name, "PATH");
        assert_eq!(
            kinds[8],
            &ScriptKind::SchedAps {
                name: "qvm".into(),
                budget: 40,
                critical_ms: 100
            }
        );
        let ScriptKind::External(q) = kinds[9] else {
            panic!()
        };
        assert_eq!(
            (q.sched_aps.as_deref(), q.argv0(), q.cpu),
            (Some("qvm"), "vm1", Some(1))
        );
        let ScriptKind::External(x) = kinds[10] else {
            panic!()
        };
        assert!(x.external);
        assert_eq!(x.program, "display_msg");
        assert_eq!(c.len(), 11);
    }

    #[test]
    fn modifier_lines_apply_to_later_commands() {
        let (c, d, _) = parse("[pri=20r]\na\nb\n[pri=5] c\nd\n");
        assert!(d.is_empty());
        let pris: Vec<_> = c
            .iter()
            .map(|c| match &c.kind {
                ScriptKind::External(e) => e.priority,
                _ => None,
            })
            .collect();
        assert_eq!(
            pris,
            [
                Some((20, Policy::RoundRobin)),
                Some((20, Policy::RoundRobin)),
                Some((5, Policy::Unchanged)),
                Some((20, Policy::RoundRobin))
            ]
        );
    }

    #[test]
    fn builtin_argument_rules() {
        let (_, d, map) =
            parse("waitfor\nwaitfor a b c\nreopen a x\nprocmgr_symlink a\nsched_aps\n");
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.code.id, map.location(d.span().unwrap())))
            .collect();
        assert_eq!(
            got,
            [
                ("B0303", "s:1:1".to_string()),
                ("B0303", "s:2:1".to_string()),
                ("B0303", "s:3:10".to_string()),
                ("B0303", "s:4:1".to_string()),
                ("B0303", "s:5:1".to_string()),
            ]
        );
    }

    #[test]
    fn aps_limits() {
        let (_, d, _) = parse(concat!(
            "sched_aps a 60 0\n",
            "sched_aps b 50 0\n",
            "sched_aps averyveryverylongname 1 0\n",
            "sched_aps a 1 0\n",
            "sched_aps c 1 2000\n",
            "[sched_aps=nope] x\n",
            "[sched_aps=a] y\n",
        ));
        let codes: Vec<_> = d.iter().map(|d| d.code.id).collect();
        assert_eq!(codes, ["B0306", "B0306", "B0306", "B0303", "B0307"]);
    }

    #[test]
    fn at_most_eight_partitions_with_system() {
        let src: String = (0..8).map(|i| format!("sched_aps p{i} 1 0\n")).collect();
        let (c, d, _) = parse(&src);
        assert_eq!(c.len(), 7);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code.id, "B0306");
    }

    #[test]
    fn bad_modifiers() {
        let (_, d, _) = parse("[prio=1] a\n[pri=x] b\n[cpu=99] c\n[+pri] d\n[s] e\n");
        let codes: Vec<_> = d.iter().map(|d| d.code.id).collect();
        assert_eq!(codes, ["B0304", "B0305", "B0305", "B0305", "B0304"]);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `pri`?"));
    }

    #[test]
    fn a_lone_ampersand_is_reported() {
        let (c, d, _) = parse("A=1 &\n");
        assert_eq!(d[0].code.id, "B0309");
        assert!(matches!(c[0].kind, ScriptKind::GlobalEnv { .. }));
    }
}
