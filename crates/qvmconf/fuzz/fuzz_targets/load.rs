//! Any bytes as a qvm configuration: reading and validating must never panic
//! or hang, and every diagnostic must point inside a known file. The first
//! byte chooses between a file (`load_source`) and command-line words (one
//! per line, `load`). `@/` is rewritten so that no host file is ever read;
//! relative `@file`s are looked up in a directory that does not exist.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b'@' && bytes[i + 1] == b'/' {
            bytes[i + 1] = b'x';
        }
    }
    let opts = qvmconf::Options {
        host_files: false,
        cwd: "/nonexistent-qvmconf-fuzz".into(),
        default_safety: qvmconf::SafetyLevel::None,
        root: None,
    };
    let mut map = diag::SourceMap::new();
    let (vm, diags) = if mode & 1 == 0 {
        qvmconf::load_source(&mut map, "fuzz.qvmconf", bytes, &opts)
    } else {
        let words: Vec<String> = String::from_utf8_lossy(&bytes)
            .split('\n')
            .map(str::to_string)
            .collect();
        qvmconf::load(&mut map, &words, &opts)
    };
    for d in &diags {
        for span in d.primary.iter().chain(d.secondary.iter()).map(|l| l.span) {
            let f = map.get(span.file).expect("span in an unknown file");
            assert!(
                span.start <= span.end && span.end as usize <= f.bytes().len(),
                "span out of range: {span:?}"
            );
        }
    }
    // A VM without errors has resolved every placement.
    if let Some(vm) = vm {
        assert!(!diags.iter().any(|d| d.is_error()));
        for v in &vm.vdevs {
            match v.attach {
                qvmconf::Attach::Pci {
                    addr,
                    explicit: false,
                } => {
                    assert!(addr.bus == 0 && (1..32).contains(&addr.dev), "{addr}")
                }
                qvmconf::Attach::Pci {
                    addr,
                    explicit: true,
                } => assert_eq!(addr.bus, 0),
                _ => {}
            }
        }
    }
});
