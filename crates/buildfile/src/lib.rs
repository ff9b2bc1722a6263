//! The mkifs buildfile language.
//!
//! [`parse`] turns a buildfile into a [`Buildfile`] syntax tree (every node
//! with its span), reporting every error with recovery; [`resolve`] turns
//! that into a [`Manifest`]: the complete list of what the image will hold.
//! [`load`] does both for a buildfile and the `-l` lines given before it, as
//! mkifs reads them.
//!
//! Modules are layered, each using only the rows above it (checked by
//! `crates/testkit/tests/layers.rs`):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 1 | [`manifest`], [`codes`], [`lexer`] | the resolved image description; the B codes; tokens |
//! | 2 | [`attrs`], `display`, [`host`] | attributes and their values; printing script commands; host files and ELF facts |
//! | 3 | `bootfile`, [`script`], [`parser`] | bootfiles; the boot-script language; the buildfile syntax tree |
//! | 4 | [`resolve`] | syntax tree + host files → [`Manifest`] |
//!
//! ```
//! use buildfile::{load, Options};
//! let mut map = diag::SourceMap::new();
//! let src = b"[type=link] /bin/sh = /proc/boot/ksh\n/etc/motd = {\nhello\n}\n";
//! let (manifest, diags) = load(&mut map, &[], "host.build", src.to_vec(), &Options::default());
//! assert!(diags.is_empty());
//! let m = manifest.unwrap();
//! assert_eq!(m.entries[0].path, "bin/sh");
//! assert_eq!(m.entries[1].file().unwrap().size, Some(6));
//! ```

pub mod attrs;
mod bootfile;
pub mod codes;
pub mod display;
pub mod host;
pub mod lexer;
pub mod manifest;
pub mod parser;
mod resolve;
pub mod script;

pub use bootfile::parse_bootfile;
pub use manifest::*;
pub use parser::{Buildfile, parse};
pub use resolve::{MAX_EXPANSION_DEPTH, MAX_EXPANSION_LEN, Options, Times, resolve};

use diag::{Diagnostic, SourceMap};

/// Reads a buildfile as mkifs does: the `-l` lines first (each registered in
/// `map` as `<-l N>`), then the file named `name` with contents `bytes`.
/// Returns the Manifest when there is no error, and every diagnostic.
pub fn load(
    map: &mut SourceMap,
    lines: &[String],
    name: &str,
    bytes: Vec<u8>,
    opts: &Options,
) -> (Option<Manifest>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let id = map.add(format!("<-l {}>", i + 1), format!("{l}\n"));
        let (b, d) = parse(map, id);
        diags.extend(d);
        files.push(b);
    }
    if let Some(at) = memchr::memchr(0, &bytes) {
        let id = map.add(name, Vec::new());
        let _ = id;
        diags.push(
            Diagnostic::new(
                &diag::G0002,
                format!("`{name}` is not a text file (NUL byte at offset {at})"),
            )
            .help("give the buildfile; `hvhost dump` reads images"),
        );
        return (None, diags);
    }
    let id = map.add(name, bytes);
    let (b, d) = parse(map, id);
    diags.extend(d);
    if b.foreign || files.iter().any(|f| f.foreign) {
        return (None, diags);
    }
    files.push(b);
    let (m, d) = resolve::resolve_owned(map, files, opts);
    diags.extend(d);
    let ok = !diags.iter().any(Diagnostic::is_error);
    (m.filter(|_| ok), diags)
}
