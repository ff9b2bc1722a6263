//! Shared helpers: resolve a buildfile written in the test, check it, and
//! list the findings as `CODE file:line:col`.

#![allow(dead_code)]

use buildfile::{Manifest, Options as BOptions, load};
use diag::{Diagnostic, SourceMap};
use hostcheck::{Options, Report, Sdp, VmFacts};

/// Resolves `src` as `host.build` without touching the host filesystem.
pub(crate) fn manifest(map: &mut SourceMap, src: &str) -> Manifest {
    let opts = BOptions {
        no_host_files: true,
        host_access: false,
        ..BOptions::default()
    };
    let (m, d) = load(map, &[], "host.build", src.as_bytes().to_vec(), &opts);
    assert!(
        !d.iter().any(Diagnostic::is_error),
        "buildfile errors: {:?}",
        d.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    m.expect("manifest")
}

/// Resolves `src` as `host.build`, reading host files that exist (as `--no-host-files`).
pub(crate) fn manifest_reading_host(map: &mut SourceMap, src: &str) -> Manifest {
    let opts = BOptions {
        no_host_files: true,
        ..BOptions::default()
    };
    let (m, d) = load(map, &[], "host.build", src.as_bytes().to_vec(), &opts);
    assert!(!d.iter().any(Diagnostic::is_error));
    m.expect("manifest")
}

/// `CODE location` for each diagnostic, in order.
pub(crate) fn found(map: &SourceMap, d: &[Diagnostic]) -> Vec<String> {
    d.iter()
        .map(|d| match d.span() {
            Some(s) => format!("{} {}", d.code.id, map.location(s)),
            None => d.code.id.to_string(),
        })
        .collect()
}

/// Checks `src` with `vms` (built by `f` once the buildfile is in the map).
pub(crate) fn check_with(
    src: &str,
    sdp: Option<Sdp>,
    vms: impl FnOnce(&mut SourceMap) -> Vec<VmFacts>,
) -> (SourceMap, Report, Vec<String>) {
    let mut map = SourceMap::new();
    let m = manifest(&mut map, src);
    let vms = vms(&mut map);
    let r = hostcheck::check(&m, &vms, &Options { sdp });
    let f = found(&map, &r.diagnostics);
    (map, r, f)
}

/// Checks `src` alone.
pub(crate) fn check(src: &str, sdp: Option<Sdp>) -> (SourceMap, Report, Vec<String>) {
    check_with(src, sdp, |_| Vec::new())
}

/// A clean SDP 7.x x86_64 host with one VM, `/vm/a.qvmconf`; `boot`,
/// `script` and `files` replace the parts given.
pub(crate) fn host(boot: Option<&str>, script: Option<&str>, files: Option<&str>) -> String {
    let boot = boot.unwrap_or(
        "[virtual=x86_64,multiboot] boot = {\n    startup-x86 -v\n    [module=qvm] PATH=/proc/boot:/usr/bin procnto-smp-instr -v\n}\n",
    );
    let script = script.unwrap_or("    qvm @/vm/a.qvmconf &\n");
    let files = files.unwrap_or("/usr/bin/qvm = qvm\n/vm/a.qvmconf = {\nsystem a\n}\n");
    format!("{boot}[+script] .script = {{\n{script}}}\n{files}")
}

/// Adds a qvmconf-like file and returns the span of each of its lines (1-based index 0 unused).
pub(crate) fn vm_file(map: &mut SourceMap, name: &str, text: &str) -> Vec<diag::Span> {
    let id = map.add(name, text);
    let mut spans = vec![diag::Span::new(id, 0, 0)];
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        spans.push(diag::Span::new(id, at, at + l.trim_end().len()));
        at += l.len();
    }
    spans
}

/// An empty VM named `name`, started by `qvm @config`.
pub(crate) fn vm(name: &str, config: &str) -> VmFacts {
    VmFacts {
        name: name.into(),
        configs: vec![config.into()],
        ..VmFacts::default()
    }
}

/// A vdev use at a line, with an optional safety line in force.
pub(crate) fn vdev(
    name: &str,
    span: diag::Span,
    safety: Option<(hostcheck::SafetyLevel, diag::Span)>,
) -> hostcheck::VdevUse {
    hostcheck::VdevUse {
        name: name.into(),
        span,
        safety: safety.map(|(level, span)| hostcheck::Safety { level, span }),
    }
}
