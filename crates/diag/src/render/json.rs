use crate::{Diagnostic, Label, SourceMap, Span};
use serde_json::{Value, json};
use std::io::Write;

fn location(map: &SourceMap, span: Span) -> Value {
    match map.get(span.file) {
        Some(f) => {
            let start = f.line_col(span.start);
            let end = f.line_col(span.end);
            json!({
                "file": f.name(),
                "line": start.line,
                "column": start.col,
                "end_line": end.line,
                "end_column": end.col,
                "file_byte_start": span.start,
                "file_byte_end": span.end,
            })
        }
        None => Value::Null,
    }
}

fn label(map: &SourceMap, l: &Label) -> Value {
    let mut v = location(map, l.span);
    if let Value::Object(o) = &mut v {
        o.insert("message".into(), Value::String(l.message.clone()));
    }
    v
}

/// One diagnostic as a JSON object: `code`, `name`, `severity`, `message`,
/// `location` (`file`, `line`, `column`, `end_line`, `end_column`,
/// `file_byte_start`, `file_byte_end` (offsets in that file), `message`;
/// for a place in a binary file `file` and `file_byte_offset`; null when
/// there is none), `related` (the same shape), `notes`, `help`.
pub fn json_value(map: &SourceMap, d: &Diagnostic) -> Value {
    let location = match (&d.primary, &d.byte_at) {
        (Some(l), _) => label(map, l),
        (None, Some(b)) => json!({ "file": b.file, "file_byte_offset": b.file_offset }),
        (None, None) => Value::Null,
    };
    json!({
        "code": d.code.id,
        "name": d.code.name,
        "severity": d.severity.as_str(),
        "message": d.message,
        "location": location,
        "related": d.secondary.iter().map(|l| label(map, l)).collect::<Vec<_>>(),
        "notes": d.notes,
        "help": d.help,
    })
}

/// Writes one JSON object per line (see [`json_value`]).
pub fn json_lines(
    out: &mut dyn Write,
    map: &SourceMap,
    diagnostics: &[Diagnostic],
) -> std::io::Result<()> {
    for d in diagnostics {
        serde_json::to_writer(&mut *out, &json_value(map, d))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
