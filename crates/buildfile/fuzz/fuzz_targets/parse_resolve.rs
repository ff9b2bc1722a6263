//! Any bytes as a buildfile: parsing and resolving must never panic or hang,
//! and every diagnostic must point inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut map = diag::SourceMap::new();
    let mut opts = buildfile::Options::default();
    opts.no_host_files = true;
    opts.host_access = false;
    opts.env.insert("LOOP".into(), "${LOOP}${LOOP}".into());
    let (_, diags) = buildfile::load(&mut map, &[], "fuzz.build", data.to_vec(), &opts);
    for d in &diags {
        for span in d.primary.iter().map(|l| l.span).chain(d.secondary.iter().map(|l| l.span)) {
            let f = map.get(span.file).expect("span in an unknown file");
            assert!(span.start <= span.end && span.end as usize <= f.bytes().len(), "span out of range: {span:?}");
        }
    }
});
