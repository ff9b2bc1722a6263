//! Each crate's top-level modules form layers: no module reaches, through
//! `crate::` paths (directly or through an item the crate root re-exports),
//! a module that reaches it back. A cycle found here names the modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Source text without comments' lines and without the unit-test module.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read a source file");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let joined = kept.join("\n");
    match joined.find("#[cfg(test)]\nmod tests") {
        Some(i) => joined[..i].to_string(),
        None => joined,
    }
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers in `text` (ASCII words).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// What follows each `prefix` in `text`: one word, or the words of a `{...}` group.
fn after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            found.extend(words(&group[..end]));
        } else if let Some(w) = words(rest).next().filter(|w| rest.starts_with(w)) {
            found.push(w);
        }
    }
    found
}

/// The top-level module graph of the crate whose `src` is `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut root = None;
    for f in files {
        let rel = f.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let first = first.as_os_str().to_string_lossy().to_string();
        if first == "bin" {
            continue;
        }
        if first == "lib.rs" || first == "main.rs" {
            root = Some(f);
            continue;
        }
        let name = first.trim_end_matches(".rs").to_string();
        modules.entry(name).or_default().push(f);
    }
    // Items the root re-exports, by the module that defines them.
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    if let Some(root) = root {
        let text = code(&root);
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("pub use "))
        {
            let path = line.trim_start().trim_start_matches("pub use ");
            let Some((module, items)) = path.split_once("::") else {
                continue;
            };
            if modules.contains_key(module) && !items.starts_with('*') {
                for item in words(items) {
                    reexported.insert(item.to_string(), module.to_string());
                }
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, files) in &modules {
        let set = edges.entry(module.clone()).or_default();
        for f in files {
            for target in after(&code(f), "crate::") {
                let to = if modules.contains_key(target) {
                    Some(target.to_string())
                } else {
                    reexported.get(target).cloned()
                };
                if let Some(to) = to.filter(|t| t != module) {
                    set.insert(to);
                }
            }
        }
    }
    edges
}

/// One cycle of `g`, if it has any.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in g.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut c = stack[start..].to_vec();
                    c.push(next.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(g, next, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in g.keys() {
        if !state.contains_key(node.as_str())
            && let Some(c) = visit(g, node, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_crate_has_a_cycle_between_its_modules() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    let mut cycles = Vec::new();
    for entry in fs::read_dir(&crates).expect("read crates/") {
        let src = entry.expect("an entry").path().join("src");
        if !src.is_dir() {
            continue;
        }
        checked += 1;
        if let Some(c) = cycle(&graph(&src)) {
            cycles.push(format!("{}: {}", src.display(), c.join(" -> ")));
        }
    }
    assert!(checked >= 9, "only {checked} crates found under {crates:?}");
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    fs::write(src.join("lib.rs"), "mod a;\nmod b;\npub use b::Thing;\n").expect("write");
    fs::write(src.join("a.rs"), "use crate::Thing;\npub struct A;\n").expect("write");
    fs::write(src.join("b.rs"), "use crate::a::A;\npub struct Thing;\n").expect("write");
    let c = cycle(&graph(src)).expect("a -> b -> a");
    assert_eq!(c.first(), c.last());
    assert!(
        c.contains(&"a".to_string()) && c.contains(&"b".to_string()),
        "{c:?}"
    );
    // Without the back edge, no cycle.
    fs::write(src.join("b.rs"), "pub struct Thing;\n").expect("write");
    assert_eq!(cycle(&graph(src)), None);
}
