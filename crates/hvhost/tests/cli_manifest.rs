//! `hvhost manifest` and `hvhost explain`, run as a user runs them.

mod common;

use common::*;

#[test]
fn manifest_of_the_example_host() {
    let o = hvhost(&[
        "manifest",
        "--no-host-files",
        "-nn",
        "examples/x86_64-host/host.build",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    golden("example-manifest.txt", &text(&o.stdout));
    let o = hvhost(&[
        "manifest",
        "--no-host-files",
        "-nn",
        "--format",
        "json",
        "examples/x86_64-host/host.build",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["boot"]["bootstrap"][0]["modules"][0]["name"], "qvm");
    assert_eq!(v["entries"][0]["ino"], 2);
    assert_eq!(v["entries"][0]["path"], "proc/boot/procnto-smp-instr");
    assert!(
        v["script"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"] == "[sched_aps=guests] qvm @/vm/config/probe.qvmconf &")
    );
    golden("example-manifest.json", &text(&o.stdout));
}

#[test]
fn stdin_is_read_with_a_dash() {
    let o = hvhost_stdin(
        &["manifest", "-"],
        Some("/etc/motd = {\nhi\n}\n[type=link] /bin/sh = ksh\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("<stdin>: image, not bootable"), "{out}");
    assert!(out.contains("etc/motd"));
    assert!(out.contains("bin/sh -> ksh"));
}

#[test]
fn errors_exit_1_with_located_diagnostics() {
    let o = hvhost_stdin(
        &["manifest", "-"],
        Some("[uid=0] [gid=0] /bin/ksh = {\n}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(err.contains("error[B0101]: missing filename"), "{err}");
    assert!(err.contains("<stdin>:1:9"), "{err}");
    assert!(err.contains("1 error; run `hvhost explain CODE`"), "{err}");
}

#[test]
fn unreadable_input_exits_2() {
    let o = hvhost(&["manifest", "no/such/file.build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr)
            .contains("error[G0001]: cannot read `no/such/file.build`: No such file or directory"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn json_and_sarif_diagnostics() {
    let src = "[+optinal] /x = {\n}\n";
    let o = hvhost_stdin(&["manifest", "--format", "json", "-"], Some(src));
    assert_eq!(o.status.code(), Some(1));
    let line: serde_json::Value =
        serde_json::from_str(text(&o.stderr).lines().next().unwrap()).unwrap();
    assert_eq!(line["code"], "B0104");
    assert_eq!(line["location"]["line"], 1);
    assert_eq!(line["location"]["column"], 3);
    assert_eq!(line["help"], "did you mean `optional`?");
    let o = hvhost_stdin(&["manifest", "--format", "sarif", "-"], Some(src));
    assert_eq!(o.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let r = &log["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "B0104");
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "B0104"
    );
}

#[test]
fn l_lines_come_before_the_file() {
    let o = hvhost_stdin(
        &["manifest", "-l", "[uid=42]", "-"],
        Some("/etc/x = {\n}\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("42:0"), "{}", text(&o.stdout));
}

#[test]
fn explain_prints_the_long_explanation() {
    let o = hvhost(&["explain", "b0101"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("# B0101: two attribute lists before one file name"));
    let o = hvhost(&["explain", "--list"]);
    assert_eq!(o.status.code(), Some(0));
    let list = text(&o.stdout);
    assert!(list.contains("B0203") && list.contains("G0001"));
    let o = hvhost(&["explain", "Z9999"]);
    assert_eq!(o.status.code(), Some(2));
}
