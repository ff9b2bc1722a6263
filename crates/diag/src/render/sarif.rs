use crate::{Catalogue, Diagnostic, Severity, SourceMap, Span};
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes a path into a relative URI reference.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn physical(map: &SourceMap, span: Span) -> Option<Value> {
    let f = map.get(span.file)?;
    let start = f.line_col(span.start);
    let end = f.line_col(span.end);
    Some(json!({
        "artifactLocation": { "uri": uri(f.name()) },
        "region": {
            "startLine": start.line,
            "startColumn": start.col,
            "endLine": end.line,
            "endColumn": end.col,
            "snippet": { "text": map.snippet(span) },
        }
    }))
}

/// The primary location of `d`: its text span, or its place in a binary
/// file (`region.byteOffset`, from the file's start).
fn primary(map: &SourceMap, d: &Diagnostic) -> Option<Value> {
    if let Some(l) = &d.primary {
        let ph = physical(map, l.span)?;
        let mut loc = json!({ "physicalLocation": ph });
        if !l.message.is_empty() {
            loc["message"] = json!({ "text": l.message });
        }
        return Some(loc);
    }
    let b = d.byte_at.as_ref()?;
    Some(json!({ "physicalLocation": {
        "artifactLocation": { "uri": uri(&b.file) },
        "region": { "byteOffset": b.file_offset },
    }}))
}

/// A whole SARIF 2.1.0 log with one run. The rules are the codes of
/// `catalogue` that the results use, sorted by id; results refer to them
/// by `ruleId` and `ruleIndex`. The log names no `informationUri`: hvhost
/// has no published web page, and every rule carries its explanation in
/// `help`.
pub fn sarif(
    catalogue: &Catalogue,
    map: &SourceMap,
    diagnostics: &[Diagnostic],
    tool_version: &str,
) -> Value {
    let used: Vec<&crate::Code> = catalogue
        .codes()
        .iter()
        .copied()
        .filter(|c| diagnostics.iter().any(|d| d.code.id == c.id))
        .collect();
    let rules: Vec<Value> = used
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "shortDescription": { "text": c.summary },
                "fullDescription": { "text": c.summary },
                "help": { "text": c.explanation, "markdown": c.explanation },
                "defaultConfiguration": { "level": level(c.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut r = json!({
                "ruleId": d.code.id,
                "level": level(d.severity),
                "message": { "text": d.message },
            });
            if let Some(i) = used.iter().position(|c| c.id == d.code.id) {
                r["ruleIndex"] = json!(i);
            }
            if let Some(p) = primary(map, d) {
                r["locations"] = json!([p]);
            }
            let related: Vec<Value> = d
                .secondary
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    physical(map, l.span).map(|ph| {
                        json!({ "id": i, "physicalLocation": ph, "message": { "text": l.message } })
                    })
                })
                .collect();
            if !related.is_empty() {
                r["relatedLocations"] = json!(related);
            }
            let mut props = serde_json::Map::new();
            if let Some(h) = &d.help {
                props.insert("help".into(), json!(h));
            }
            if !d.notes.is_empty() {
                props.insert("notes".into(), json!(d.notes));
            }
            if !props.is_empty() {
                r["properties"] = Value::Object(props);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hvhost",
                "version": tool_version,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn uri_escapes_what_is_not_allowed() {
        assert_eq!(uri("a b/<stdin>.build"), "a%20b/%3Cstdin%3E.build");
        assert_eq!(
            uri("examples/x86_64-host/host.build"),
            "examples/x86_64-host/host.build"
        );
    }
}
