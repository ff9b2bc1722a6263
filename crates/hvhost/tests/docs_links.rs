//! The user documentation stands alone and says what hvhost does: every
//! markdown link in `README.md` and under `docs/` points at a file of the
//! repository that exists (and, with a `#fragment`, at one of its headings),
//! no document names the developers' reference folder (`../shared`) that
//! users do not have, and the tutorial's commands print what it shows.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{kvm, root};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// What names the developers' reference folder or one of its documents,
/// which are not in the repository.
const OUTSIDE: &[&str] = &[
    "../shared",
    "/work/shared",
    "ifs-format.md",
    "buildfile-language.md",
    "qvmconf-language.md",
    "hypervisor-host.md",
];

/// `README.md` and every `.md` file under `docs/`, relative to the root.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut out = vec![PathBuf::from("README.md")];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p.strip_prefix(&root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A link target found in a document, with its line.
#[derive(Debug, PartialEq)]
struct Link {
    line: usize,
    target: String,
}

/// The link targets of a markdown text: inline links and images
/// (`[text](target "title")`, `<target>` form too) and reference
/// definitions (`[id]: target`), outside code spans and fenced code.
fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let prose = without_code_spans(line);
        let mut push = |t: &str| {
            out.push(Link {
                line: i + 1,
                target: link_target(t),
            })
        };
        if let Some(def) = reference_definition(&prose) {
            push(def);
            continue;
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = closing_paren(after) else {
                break;
            };
            push(&after[..end]);
            rest = &after[end..];
        }
    }
    out
}

/// `line` with every `` `code span` `` blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

/// The target of `[id]: target` at the start of a line.
fn reference_definition(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix('[')?;
    let close = rest.find("]:")?;
    if close == 0 || rest[..close].contains('[') {
        return None;
    }
    Some(rest[close + 2..].trim())
}

/// Where the `(` ... `)` of a link ends: the first unbalanced `)`.
fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The destination part of a link's parentheses: without a title, and
/// without the angle brackets of `<target>`.
fn link_target(inner: &str) -> String {
    let inner = inner.trim();
    if let Some(rest) = inner.strip_prefix('<') {
        return rest.split('>').next().unwrap_or("").to_string();
    }
    inner.split_whitespace().next().unwrap_or("").to_string()
}

/// What is wrong with `target`, linked from the document `doc` (relative to
/// the repository root), or `None` when it is a good link.
fn problem(doc: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("an empty link".into());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (target, None),
    };
    if path.starts_with('/') {
        return Some(format!(
            "`{target}` is an absolute path, outside the repository"
        ));
    }
    let file = if path.is_empty() {
        doc.to_path_buf()
    } else {
        let joined = doc.parent().unwrap_or(Path::new("")).join(path);
        match normalize(&joined) {
            Some(p) => p,
            None => return Some(format!("`{target}` leaves the repository")),
        }
    };
    let on_disk = root().join(&file);
    if !on_disk.exists() {
        return Some(format!("`{target}`: {} does not exist", file.display()));
    }
    let fragment = fragment.filter(|f| !f.is_empty())?;
    if on_disk.extension().is_none_or(|x| x != "md") {
        return None;
    }
    let text = std::fs::read_to_string(&on_disk).unwrap();
    if headings(&text).iter().any(|h| h == fragment) {
        None
    } else {
        Some(format!(
            "`{target}`: {} has no heading `#{fragment}`",
            file.display()
        ))
    }
}

/// `p` with `.` and `..` resolved; `None` when `..` climbs above the root.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The anchors of a markdown text's headings, as GitHub makes them:
/// lower case, punctuation other than `-` and `_` dropped, spaces to `-`.
fn headings(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.push(slug);
    }
    out
}

#[test]
fn every_link_in_the_docs_points_at_a_file_of_the_repository() {
    let mut bad = Vec::new();
    let docs = documents();
    assert!(docs.len() > 5, "documents found: {docs:?}");
    for doc in &docs {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        for l in links(&text) {
            if let Some(why) = problem(doc, &l.target) {
                bad.push(format!("{}:{}: {why}", doc.display(), l.line));
            }
        }
    }
    assert!(bad.is_empty(), "bad links:\n{}", bad.join("\n"));
}

#[test]
fn no_document_names_the_developers_reference_folder() {
    let mut bad = Vec::new();
    for doc in documents() {
        let name = doc.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(root().join(&doc)).unwrap();
        for (i, line) in text.lines().enumerate() {
            if OUTSIDE.iter().any(|o| line.contains(o)) {
                bad.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "documents naming ../shared:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_link_checker_finds_what_it_must() {
    let text = "See [a](a.md), ![b](img/b.png \"title\") and [c](<c d.md>).\n\
                `[not](code.md)` and [e](https://example.org/x).\n\
                ```\n[fenced](f.md)\n```\n\
                [ref]: ../up.md\n";
    let got: Vec<_> = links(text)
        .into_iter()
        .map(|l| (l.line, l.target))
        .collect();
    let want = [
        (1, "a.md"),
        (1, "img/b.png"),
        (1, "c d.md"),
        (2, "https://example.org/x"),
        (6, "../up.md"),
    ];
    let want: Vec<_> = want.iter().map(|(l, t)| (*l, t.to_string())).collect();
    assert_eq!(got, want);

    let doc = Path::new("docs/cli.md");
    for (target, why) in [
        (
            "../../shared/reference/ifs-format.md",
            "leaves the repository",
        ),
        ("/work/shared/x.md", "absolute"),
        ("no-such-file.md", "does not exist"),
        ("cli.md#no-such-heading", "no heading"),
    ] {
        let got = problem(doc, target).unwrap_or_default();
        assert!(got.contains(why), "{target}: {got:?}");
    }
    assert_eq!(problem(doc, "../README.md"), None);
    assert_eq!(problem(doc, "#exit-status"), None);
    assert_eq!(problem(doc, "vdevs.md"), None);
}

/// A command of the tutorial's console sessions and the output shown under it.
#[derive(Debug)]
struct Step {
    command: String,
    output: String,
}

/// The `$ COMMAND` lines of the ```` ```console ```` blocks, each with the
/// lines under it.
fn console_steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                output: String::new(),
            });
        } else if let Some(s) = steps.last_mut() {
            s.output.push_str(line);
            s.output.push('\n');
        }
    }
    steps
}

/// The files the tutorial has the reader write: a paragraph starting
/// ``Write `NAME` `` and the first ```` ```text ```` block after it.
fn written_files(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut body: Option<String> = None;
    for line in text.lines() {
        if let Some(b) = &mut body {
            if line == "```" {
                out.push((name.take().unwrap(), body.take().unwrap()));
            } else {
                b.push_str(line);
                b.push('\n');
            }
        } else if let Some(rest) = line.strip_prefix("Write `") {
            name = rest.split('`').next().map(str::to_owned);
        } else if line == "```text" && name.is_some() {
            body = Some(String::new());
        }
    }
    out
}

/// Runs `command` with `sh` in `dir`, hvhost on the PATH, its standard
/// error and output in one stream as on a terminal; the status and output.
fn shell(dir: &Path, command: &str) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_hvhost")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} 2>&1"))
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("QNX_TARGET")
        .env_remove("MKIFS_PATH")
        .env_remove("PROCESSOR")
        .output()
        .expect("run sh");
    (o.status.code().unwrap_or(-1), common::text(&o.stdout))
}

/// The probe's own lines of a run, without the clock's (which says the time).
fn probe_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.starts_with("probe: ") && !l.starts_with("probe: rtc: "))
        .collect()
}

#[test]
fn the_tutorial_prints_what_it_shows() {
    let text = std::fs::read_to_string(root().join("docs/tutorial.md")).unwrap();
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("examples/x86_64-host/vm/images/probe.elf"),
        d.path().join("probe.elf"),
    )
    .unwrap();
    let files = written_files(&text);
    let names: Vec<_> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["probe.qvmconf", "host.build"]);
    for (name, body) in &files {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    let steps = console_steps(&text);
    assert!(steps.len() >= 10, "{steps:#?}");
    let runs_vm = kvm();
    let mut last: Option<i32> = None;
    for s in &steps {
        let boots = s.command.contains("--vm probe");
        if s.command == "echo $?" {
            if let Some(status) = last {
                assert_eq!(format!("{status}\n"), s.output, "status of the step before");
            }
            continue;
        }
        if boots && !runs_vm {
            last = None;
            continue;
        }
        let (status, got) = shell(d.path(), &s.command);
        last = Some(status);
        if boots {
            assert_eq!(
                probe_lines(&got),
                probe_lines(&s.output),
                "{}\n{got}",
                s.command
            );
            assert!(probe_lines(&got).len() >= 6, "{got}");
        } else {
            assert_eq!(got, s.output, "`{}` prints something else", s.command);
        }
    }
    assert!(
        !d.path().join("host.ifs").exists(),
        "no image without the SDP"
    );
}
