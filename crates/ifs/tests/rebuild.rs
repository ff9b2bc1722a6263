//! Image → extracted tree + buildfile → image: byte-identical for every
//! image the writer makes (the goldens, the example hosts, generated images
//! of every shape), equal in content where a field cannot come back.

use buildfile::{Options, Times};
use ifs::read::{Ifs, open};
use std::path::Path;

/// Extracts `image` under `dir/tree`, writes its buildfile's helper files
/// to `dir/helper`, builds the buildfile and returns the new image with the
/// buildfile text and the differences the rebuild reported.
fn round_trip(image: &[u8], dir: &Path) -> (Vec<u8>, String, Vec<String>) {
    let c = open(image).expect("open");
    let region = c.image_bytes().expect("region");
    let fs = Ifs::parse(&region).expect("parse");
    let (tree, helper) = (dir.join("tree"), dir.join("helper"));
    let entries: Vec<_> = fs.entries().map(|e| e.expect("dirent")).collect();
    let opts = ifs::extract::Options::for_image(&c, "image");
    let done = ifs::extract::extract(&fs, &entries, &tree, &opts);
    // Entries the tree cannot hold (a path twice) go to helper files.
    assert!(
        done.problems
            .iter()
            .all(|d| d.message.contains("same path")),
        "{:?}",
        done.problems
    );
    let r = ifs::rebuild(&c, &fs, &tree, &helper).expect("rebuild");
    ifs::rebuild::write_helpers(&r, &helper).expect("helpers");
    let mut map = diag::SourceMap::new();
    let o = Options {
        cwd: dir.to_path_buf(),
        times: Times::ZeroAll,
        ..Options::default()
    };
    let (m, d) = buildfile::load(
        &mut map,
        &[],
        "rebuilt.build",
        r.text.clone().into_bytes(),
        &o,
    );
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}\n{}", r.text);
    let opts = ifs::WriteOptions {
        trailer_v2: r.format_version >= 8,
        ..Default::default()
    };
    let m = m.unwrap_or_else(|| panic!("no manifest:\n{}", r.text));
    let img = ifs::build_to_vec(&m, &opts).unwrap_or_else(|e| panic!("{e:?}\n{}", r.text));
    (img, r.text, r.differences)
}

fn assert_identical(name: &str, want: &[u8]) {
    let d = tempfile::tempdir().unwrap();
    let (got, text, diffs) = round_trip(want, d.path());
    assert!(diffs.is_empty(), "{name}: {diffs:?}");
    if got != want {
        let at = want.iter().zip(&got).position(|(a, b)| a != b);
        panic!(
            "{name}: rebuilt image differs: {} bytes expected, {} built, first difference at {at:?}\n{text}",
            want.len(),
            got.len()
        );
    }
}

#[test]
fn every_golden_image_rebuilds_byte_identical() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ifs"))
        .collect();
    names.sort();
    assert!(names.len() >= 13, "{names:?}");
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert_identical(&name, &std::fs::read(&p).unwrap());
    }
}
