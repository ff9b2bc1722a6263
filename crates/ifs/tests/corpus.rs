//! Every corpus buildfile through the writer: without the SDK the files are
//! assumed, so planning stops at the first file whose bytes are missing
//! (I0101) or, for a buildfile of inline files only, builds; it never
//! panics, and the error names an entry of the buildfile.

use buildfile::Options;
use std::path::Path;

#[test]
fn corpus_buildfiles_plan_or_name_the_missing_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/buildfiles");
    let mut seen = 0;
    let mut built = 0;
    for e in std::fs::read_dir(&dir).expect("corpus") {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let mut map = diag::SourceMap::new();
        let opts = Options {
            no_host_files: true,
            host_access: false,
            cwd: dir.clone(),
            ..Options::default()
        };
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let (m, _) = buildfile::load(&mut map, &[], &name, bytes, &opts);
        let Some(m) = m else { continue };
        seen += 1;
        match ifs::prepare(&m, &ifs::WriteOptions::default()) {
            Ok(p) => {
                built += 1;
                let mut out = Vec::new();
                p.write_to(&mut out).unwrap();
                let c = ifs::read::open(&out).unwrap();
                c.verify_outer().unwrap();
            }
            Err(e) => {
                assert_eq!(e.code().id, "I0101", "{name}: {e}");
                let d = e.to_diagnostic();
                let span = d.primary.as_ref().expect("located").span;
                assert!(map.get(span.file).is_some(), "{name}: {e}");
            }
        }
    }
    assert!(seen >= 20, "only {seen} corpus buildfiles resolved");
    eprintln!("{seen} resolved, {built} built without host files");
}
