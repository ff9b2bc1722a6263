//! An image as an input where a buildfile is expected: telling the two
//! apart ([`is_image`]), and reading an image into the same [`Manifest`] a
//! buildfile resolves to, with its texts registered in a [`SourceMap`] so
//! that diagnostics about them have a place ([`load`]).
//!
//! An image has no source file: its boot script is registered as the text
//! it decodes to (one command a line), under `IMAGE:<boot script>`; every
//! regular file under `IMAGE:/PATH`, with its bytes when they are text (a
//! configuration's line:col then works), empty otherwise. Each command's and
//! entry's span points there.

use crate::read::{self, Ifs, ReadError};
use buildfile::{DataSource, EntryKind, Manifest};
use diag::{SourceMap, Span};

/// Whether `data` is an IFS image (any layout the reader finds: bare,
/// bootable, compressed, either byte order) rather than a text buildfile.
/// A buildfile has no NUL byte; every image header has some. A damaged
/// image is still an image (its reading then says what is wrong).
pub fn is_image(data: &[u8]) -> bool {
    data.contains(&0) && !matches!(read::open(data), Err(ReadError::NotAnImage))
}

/// Reads the image `data` into a Manifest: entries with their bytes inline,
/// the boot block and the decoded boot script. Texts are registered in `map`
/// under `name` (the image's name in messages), as the module says.
pub fn load(map: &mut SourceMap, name: &str, data: &[u8]) -> Result<Manifest, ReadError> {
    let c = read::open(data)?;
    let region = c.image_bytes()?;
    let fs = Ifs::parse(&region)?;
    let mut m = crate::manifest::to_manifest(&c, &fs)?;
    locate(map, name, &mut m);
    Ok(m)
}

/// Whether bytes are worth registering as text: UTF-8 without NULs.
fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

/// Gives the script's commands and the entries of an image's Manifest
/// spans in texts registered in `map` (see the module).
fn locate(map: &mut SourceMap, name: &str, m: &mut Manifest) {
    let mut text = String::new();
    let mut lines = Vec::new();
    for c in &m.script {
        let start = text.len();
        text.push_str(&c.to_string());
        lines.push((start, text.len()));
        text.push('\n');
    }
    let script = map.add(format!("{name}:<boot script>"), text);
    for (c, (start, end)) in m.script.iter_mut().zip(lines) {
        c.span = Span::new(script, start, end);
    }
    for e in &mut m.entries {
        let EntryKind::File(f) = &e.kind else {
            continue;
        };
        let file = match &f.source {
            DataSource::Inline { bytes } if is_text(bytes) => {
                map.add(format!("{name}:/{}", e.path), bytes.clone())
            }
            DataSource::Script => script,
            _ => map.add(format!("{name}:/{}", e.path), Vec::new()),
        };
        e.span = Span::new(file, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(src: &str) -> Vec<u8> {
        let mut map = SourceMap::new();
        let (m, d) = buildfile::load(&mut map, &[], "t.build", src.into(), &Default::default());
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        crate::build_to_vec(&m.unwrap(), &crate::WriteOptions::default()).unwrap()
    }

    #[test]
    fn an_image_is_told_from_its_buildfile() {
        let src =
            "[+script] .script = {\nqvm @/g.qvmconf &\n}\n/g.qvmconf = {\nsystem g\nram 1M\n}\n";
        assert!(!is_image(src.as_bytes()));
        let img = built(src);
        assert!(is_image(&img));
        // A text that mentions the signature is still text.
        assert!(!is_image(b"# imagefs\n/a = b\n"));
        // A truncated image is an image whose reading fails.
        assert!(is_image(&img[..40]));
        assert!(load(&mut SourceMap::new(), "t.ifs", &img[..40]).is_err());
    }

    #[test]
    fn commands_and_text_entries_are_located_in_the_image() {
        let src = "[+script] .script = {\ndisplay_msg hi\nqvm @/g.qvmconf &\n}\n/g.qvmconf = {\nsystem g\nram 1M\n}\n";
        let mut map = SourceMap::new();
        let m = load(&mut map, "t.ifs", &built(src)).unwrap();
        assert_eq!(map.location(m.script[1].span), "t.ifs:<boot script>:2:1");
        let g = m.entries.iter().find(|e| e.path == "g.qvmconf").unwrap();
        assert_eq!(map.location(g.span), "t.ifs:/g.qvmconf:1:1");
        assert_eq!(map.get(g.span.file).unwrap().bytes(), b"system g\nram 1M\n");
    }
}
