//! The three renderers on a diagnostic that points into two files.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use diag::render::{self, termcolor::NoColor};
use diag::{Catalogue, Diagnostic, Severity, SourceMap, Span};

fn sample() -> (SourceMap, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let build = map.add(
        "host.build",
        "[virtual=x86_64,bios] boot = {\n  startup-x86\n}\n",
    );
    let conf = map.add("vm/a b.qvmconf", "vdev ser8250\n  loc 0x3f8\n");
    let diags = vec![
        Diagnostic::new(&diag::G0001, "the device is claimed twice")
            .at(Span::new(conf, 15, 24), "passed to the guest here")
            .with(Span::new(build, 33, 44), "started by the host here")
            .note("a device can have one owner")
            .help("remove the host driver"),
        Diagnostic::new(&diag::G0002, "no location at all").severity(Severity::Warning),
    ];
    (map, diags)
}

#[test]
fn human_output_shows_code_both_files_and_help() {
    let (map, diags) = sample();
    let mut out = NoColor::new(Vec::new());
    render::human(&mut out, &map, &diags).unwrap();
    let text = String::from_utf8(out.into_inner()).unwrap();
    let expected = "\
error[G0001]: the device is claimed twice
  ┌─ vm/a b.qvmconf:2:3
  │
2 │   loc 0x3f8
  │   ^^^^^^^^^ passed to the guest here
  │
  ┌─ host.build:2:3
  │
2 │   startup-x86
  │   ----------- started by the host here
  │
  = note: a device can have one owner
  = help: remove the host driver

warning[G0002]: no location at all

";
    assert_eq!(text, expected);
}

#[test]
fn json_lines_has_one_object_per_diagnostic_with_locations() {
    let (map, diags) = sample();
    let mut out = Vec::new();
    render::json_lines(&mut out, &map, &diags).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["code"], "G0001");
    assert_eq!(lines[0]["severity"], "error");
    assert_eq!(lines[0]["location"]["file"], "vm/a b.qvmconf");
    assert_eq!(lines[0]["location"]["line"], 2);
    assert_eq!(lines[0]["location"]["column"], 3);
    assert_eq!(lines[0]["related"][0]["file"], "host.build");
    assert_eq!(lines[0]["related"][0]["line"], 2);
    assert_eq!(lines[0]["help"], "remove the host driver");
    assert_eq!(lines[1]["severity"], "warning");
    assert!(lines[1]["location"].is_null());
}

/// The OASIS schema, compiled. Its `language` pattern ends in an unescaped `]`,
/// legal in ECMA-262 regexes but not in Rust's: it is escaped here (hvhost never
/// writes `language`, so this changes nothing that is checked).
fn sarif_validator() -> jsonschema::Validator {
    let text = include_str!("data/sarif-schema-2.1.0.json")
        .replace(r#"-[a-zA-Z]{2}]?$"#, r#"-[a-zA-Z]{2}\\]?$"#);
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema() {
    let (map, diags) = sample();
    let mut cat = Catalogue::new();
    cat.extend(diag::ALL);
    let log = render::sarif(&cat, &map, &diags, "0.1.0");
    let validator = sarif_validator();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // Stable rule ids and indexes.
    let run = &log["runs"][0];
    assert_eq!(run["results"][0]["ruleId"], "G0001");
    assert_eq!(run["results"][0]["ruleIndex"], 0);
    assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "G0002");
    assert_eq!(
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "vm/a%20b.qvmconf"
    );
    assert_eq!(run["results"][1]["level"], "warning");
}

#[test]
fn sarif_with_a_broken_document_is_rejected_by_the_schema() {
    // The oracle itself must be able to fail.
    let validator = sarif_validator();
    let bad = serde_json::json!({"version": "2.1.0", "runs": [{"results": []}]});
    assert!(!validator.is_valid(&bad));
}

/// SARIF lists only the rules its results use, and a place in a binary
/// file (an image) is a location with a byte offset, in JSON too.
#[test]
fn sarif_lists_the_rules_used_and_binary_locations() {
    let map = SourceMap::new();
    let diags = vec![
        Diagnostic::new(&diag::G0002, "bad bytes").at_byte("out/x.ifs", 0x1234),
        Diagnostic::new(&diag::G0002, "more bad bytes"),
    ];
    let mut cat = Catalogue::new();
    cat.extend(diag::ALL);
    let log = render::sarif(&cat, &map, &diags, "0.1.0");
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let driver = &log["runs"][0]["tool"]["driver"];
    let ids: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["G0002"]);
    assert!(driver.get("informationUri").is_none());
    let r = &log["runs"][0]["results"][0];
    assert_eq!(r["ruleIndex"], 0);
    let ph = &r["locations"][0]["physicalLocation"];
    assert_eq!(ph["artifactLocation"]["uri"], "out/x.ifs");
    assert_eq!(ph["region"]["byteOffset"], 0x1234);
    let j = render::json_value(&map, &diags[0]);
    assert_eq!(j["location"]["file"], "out/x.ifs");
    assert_eq!(j["location"]["file_byte_offset"], 0x1234);
    assert!(render::json_value(&map, &diags[1])["location"].is_null());
}
