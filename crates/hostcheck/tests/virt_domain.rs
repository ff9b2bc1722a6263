//! Families 1 (virtualization present) and 2 (host domain code).

mod common;
use common::{check, host};
use hostcheck::{Sdp, SdpSource};

#[test]
fn clean_sdp7_host() {
    let (_, r, f) = check(&host(None, None, None), None);
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.sdp, Sdp::V7);
    assert_eq!(r.sdp_source, SdpSource::NoStartupQ);
    assert_eq!(r.qvm_starts, 1);
    assert!(r.generation_text().contains("no -Q"));
    assert!(r.virtualization_enabled());
}

#[test]
fn h0101_sdp7_kernel_without_module_qvm() {
    let boot = "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -v\n    [module=aps] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
    let (_, _, f) = check(&host(Some(boot), None, None), None);
    assert_eq!(f, ["H0101 host.build:3:5"]);
}

#[test]
fn h0101_sdp8_startup_without_q_enable() {
    // Given as 8.0, a 7.x-style host fails twice: no -Q, and module=qvm.
    let (map, r, f) = check(&host(None, None, None), Some(Sdp::V8));
    assert_eq!(f, ["H0101 host.build:2:5", "H0102 host.build:3:6"]);
    assert!(r.diagnostics[0].notes[0].contains("--sdp"));
    let _ = map;
    // The summary says what was found, not what the generation would need.
    assert!(!r.virtualization_enabled());
    assert_eq!(
        r.generation_text(),
        "SDP 8.0 (as given by --sdp): virtualization not enabled: the startup line has no -Q enable"
    );
    // -Q with another value.
    let boot = "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -Q disable\n    PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
    let (_, r, f) = check(&host(Some(boot), None, None), None);
    assert_eq!(r.sdp, Sdp::V8);
    assert_eq!(f, ["H0101 host.build:2:5"]);
    assert!(r.diagnostics[0].message.contains("-Q disable"));
    assert!(!r.virtualization_enabled());
    assert!(
        r.generation_text().ends_with(
            "virtualization not enabled: the startup line has -Q disable, not -Q enable"
        ),
        "{}",
        r.generation_text()
    );
}

#[test]
fn sdp8_detected_from_startup_q() {
    for q in ["-Q enable", "-Qenable", "-Q enable,el2-host"] {
        let boot = format!(
            "[virtual=aarch64le,raw] boot = {{\n    startup-imx8 -P1 {q} -W\n    PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}}\n"
        );
        let (_, r, f) = check(&host(Some(&boot), None, None), None);
        assert!(f.is_empty(), "{q}: {f:?}");
        assert_eq!(r.sdp, Sdp::V8);
        assert!(matches!(r.sdp_source, SdpSource::StartupQ(_)));
        assert_eq!(r.arch, Some(hostcheck::Arch::Aarch64));
    }
}

#[test]
fn h0102_module_qvm_on_sdp8_and_q_on_sdp7() {
    let boot = "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -Q enable\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n";
    let (_, _, f) = check(&host(Some(boot), None, None), None);
    assert_eq!(f, ["H0102 host.build:3:6"]);
    let (_, r, f) = check(&host(Some(boot), None, None), Some(Sdp::V7));
    assert_eq!(f, ["H0102 host.build:2:5"]);
    assert_eq!(r.sdp_source, SdpSource::Given);
}

#[test]
fn h0103_not_bootable() {
    let (_, _, f) = check("/usr/bin/qvm = qvm\n", None);
    assert_eq!(f, ["H0103"]);
}

#[test]
fn h0201_qvm_missing_or_off_path() {
    // Not in the image at all.
    let (_, _, f) = check(
        &host(None, None, Some("/vm/a.qvmconf = {\nsystem a\n}\n")),
        None,
    );
    assert_eq!(f, ["H0201 host.build:6:5"]);
    // In the image, but not along PATH.
    let (_, r, f) = check(
        &host(
            None,
            None,
            Some("/opt/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n"),
        ),
        None,
    );
    assert_eq!(f, ["H0201 host.build:6:5"]);
    assert!(
        r.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("/opt/qvm")
    );
    // By absolute path, and through a script-wide PATH.
    let (_, _, f) = check(
        &host(
            None,
            Some("    /opt/qvm @/vm/a.qvmconf &\n"),
            Some("/opt/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n"),
        ),
        None,
    );
    assert!(f.is_empty(), "{f:?}");
    let (_, _, f) = check(
        &host(
            None,
            Some("    PATH=/opt\n    qvm @/vm/a.qvmconf &\n"),
            Some("/opt/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n"),
        ),
        None,
    );
    assert!(f.is_empty(), "{f:?}");
    // No qvm anywhere and none started.
    let (_, _, f) = check(
        &host(None, Some("    ksh &\n"), Some("/bin/ksh = ksh\n")),
        None,
    );
    assert_eq!(f, ["H0201 host.build:1:2"]);
}

#[test]
fn h0202_qvm_never_started() {
    let (_, _, f) = check(&host(None, Some("    ksh &\n"), None), None);
    assert_eq!(f, ["H0202 host.build:8:1"]);
}

#[test]
fn h0203_qvmconf_not_in_image() {
    let files = "/usr/bin/qvm = qvm\n/vm/config/a.qvmconf = {\nsystem a\n}\n[type=dir] /vm/b\n";
    let script =
        "    qvm @/vm/a.qvmconf &\n    qvm @vm/config/../config/a.qvmconf &\n    qvm @/vm/b &\n";
    let (_, r, f) = check(&host(None, Some(script), Some(files)), None);
    assert_eq!(f, ["H0203 host.build:6:5", "H0203 host.build:8:5"]);
    assert_eq!(
        r.diagnostics[0].help.as_deref(),
        Some("the image holds `/vm/config/a.qvmconf`: did you mean `qvm @/vm/config/a.qvmconf`?")
    );
    assert!(r.diagnostics[1].message.contains("not a file"));
}

#[test]
fn h0203_follows_links() {
    let files = "/usr/bin/qvm = qvm\n/vm/real.qvmconf = {\nsystem a\n}\n[type=link] /vm/a.qvmconf = real.qvmconf\n";
    let (_, _, f) = check(&host(None, None, Some(files)), None);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn h0205_foreground_qvm_blocks_the_script() {
    let script = "    qvm @/vm/a.qvmconf\n    display_msg after\n";
    let (map, r, f) = check(&host(None, Some(script), None), None);
    assert_eq!(f, ["H0205 host.build:6:5"]);
    assert_eq!(
        map.location(r.diagnostics[0].secondary[0].span),
        "host.build:7:5"
    );
    // The last command may run in the foreground.
    let (_, _, f) = check(&host(None, Some("    qvm @/vm/a.qvmconf\n"), None), None);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn h0207_qvm_without_config() {
    let (_, _, f) = check(&host(None, Some("    qvm ram 128M &\n"), None), None);
    assert_eq!(f, ["H0207 host.build:6:5"]);
}

#[test]
fn h0201_is_a_warning_when_an_assumed_directory_may_hold_qvm() {
    let (_, r, f) = check(
        &host(
            None,
            None,
            Some("/usr/bin = /nonexistent/sdk/usr/bin\n/vm/a.qvmconf = {\nsystem a\n}\n"),
        ),
        None,
    );
    assert_eq!(f, ["H0201 host.build:6:5"]);
    assert_eq!(r.diagnostics[0].severity, diag::Severity::Warning);
}

#[test]
fn h0203_is_a_warning_when_an_assumed_directory_may_hold_the_config() {
    let files = "/usr/bin/qvm = qvm\n/vm = /nonexistent/guests/vm\n";
    let (_, r, f) = check(&host(None, None, Some(files)), None);
    assert_eq!(f, ["H0203 host.build:6:5"]);
    assert_eq!(r.diagnostics[0].severity, diag::Severity::Warning);
}

#[test]
fn qvm_started_through_on() {
    let (_, r, f) = check(
        &host(None, Some("    on -C 1 -p 20 qvm @/vm/a.qvmconf &\n"), None),
        None,
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.qvm_starts, 1);
    let (_, _, f) = check(
        &host(None, Some("    on -C 1 qvm @/vm/nope.qvmconf &\n"), None),
        None,
    );
    assert_eq!(f, ["H0203 host.build:6:5"]);
}
