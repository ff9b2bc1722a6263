//! Extracting an image's entries into a directory, as `dumpifs -x`, and
//! choosing entries by name, as `dumpifs -f NAME` and `dumpifs image NAME…`.
//!
//! Nothing is ever written outside the target directory: an absolute path
//! or a `..` component is refused, parent directories are created only
//! through real directories (never through a symbolic link an earlier entry
//! made), and an existing file or link at an entry's place is replaced, not
//! written through.

use crate::format::{Dirent, DirentKind, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::read::{Container, Ifs, ReadError};
use diag::Diagnostic;
use diag::io::cannot;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What to extract, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these entries (a path in the image, with or without its leading
    /// `/`, or a basename); empty: every entry.
    pub names: Vec<String>,
    /// Extract under basenames only (no directories), as `dumpifs -b`.
    pub basenames: bool,
    /// The image's name, for messages.
    pub image: String,
    /// The offset in the image file of the image header (of the compressed
    /// stream for a compressed image), to locate problems in the file.
    pub image_at: u64,
    /// The image filesystem is compressed: its entries are not at a place
    /// in the file; problems are located at the stream's start.
    pub compressed: bool,
}

impl Options {
    /// Every entry of the image `c` named `image` (for messages).
    pub fn for_image(c: &Container<'_>, image: &str) -> Options {
        Options {
            image: image.to_string(),
            image_at: c.image_at as u64,
            compressed: c.compression.is_some(),
            ..Options::default()
        }
    }
}

/// The offset in the image file of `image_offset` (from the image header);
/// `None` for a compressed image, whose image filesystem is not in the file
/// as it is.
pub fn file_offset(c: &Container<'_>, image_offset: u64) -> Option<u64> {
    c.compression
        .is_none()
        .then(|| c.image_at as u64 + image_offset)
}

/// Where in the image file `e` is: the structure or entry it is about, or
/// the start of the region it concerns (the compressed stream for a place
/// inside a compressed image).
pub fn error_offset(c: &Container<'_>, e: &ReadError) -> u64 {
    let image = c.image_at as u64;
    match e {
        ReadError::BadDirent { offset, .. } | ReadError::DataOutOfBounds { offset, .. } => {
            file_offset(c, *offset).unwrap_or(image)
        }
        ReadError::Checksum { region, .. } | ReadError::Sha512 { region, .. }
            if region.starts_with("startup") =>
        {
            c.startup.as_ref().map_or(0, |(at, _)| *at as u64)
        }
        ReadError::NotAnImage => 0,
        _ => image,
    }
}

/// An entry's path as text (lossy for bytes that are not UTF-8).
pub fn path_text(d: &Dirent<'_>) -> String {
    String::from_utf8_lossy(d.path).into_owned()
}

/// Whether the entry at `path` is named by `name`: its path in the image
/// (a leading `/` is allowed) or its basename.
pub fn is_named(path: &str, name: &str) -> bool {
    name.trim_start_matches('/') == path || path.rsplit('/').next() == Some(name)
}

/// Whether `d` is chosen by `names` (every entry when `names` is empty).
pub fn is_chosen(names: &[String], d: &Dirent<'_>) -> bool {
    let p = path_text(d);
    names.is_empty() || names.iter().any(|n| is_named(&p, n))
}

/// The names of `names` that no entry answers to, each an I0003 error
/// located at the image (`opts`).
pub fn missing(
    names: &[String],
    entries: &[(usize, Dirent<'_>)],
    opts: &Options,
) -> Vec<Diagnostic> {
    names
        .iter()
        .filter(|n| !entries.iter().any(|(_, d)| is_named(&path_text(d), n)))
        .map(|n| {
            Diagnostic::new(&crate::codes::I0003, format!("`{n}` is not in the image"))
                .at_byte(&opts.image, opts.image_at)
        })
        .collect()
}

/// Checks an opened image beyond its header: the sizes the startup header
/// gives, the image checksum and digest, every directory entry and every
/// file's data. Returns the entries that could be read, and every problem
/// in that order.
pub fn check<'b>(c: &Container<'_>, fs: &Ifs<'b>) -> (Vec<(usize, Dirent<'b>)>, Vec<ReadError>) {
    let mut problems = Vec::new();
    if let Err(e) = c.verify_sizes(fs) {
        problems.push(e);
    }
    if let Err(e) = fs.verify() {
        problems.push(e);
    }
    let mut entries = Vec::new();
    for e in fs.entries() {
        match e {
            Ok(x) => entries.push(x),
            Err(e) => problems.push(e),
        }
    }
    for (_, d) in &entries {
        if let Err(e) = fs.data(d) {
            problems.push(e);
        }
    }
    (entries, problems)
}

/// The MD5 digest of `data` in lowercase hex, as `dumpifs -m` shows it.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` atomically (see [`crate::atomic`]).
pub fn save(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let f = crate::atomic::AtomicFile::create(path)?;
    std::io::Write::write_all(&mut f.file(), bytes)
        .map_err(|e| diag::io::with_path("write", path, &e))?;
    f.commit()
}

/// The relative path an entry is extracted to, or why it is refused.
pub fn safe_relative(path: &[u8], basename: bool) -> Result<PathBuf, String> {
    let s = std::str::from_utf8(path).map_err(|_| "its path is not UTF-8".to_string())?;
    if s.starts_with('/') {
        return Err("its path is absolute".into());
    }
    let comps: Vec<&str> = s.split('/').filter(|c| !c.is_empty()).collect();
    let comps = if basename {
        comps.last().map(|c| vec![*c]).unwrap_or_default()
    } else {
        comps
    };
    let mut out = PathBuf::new();
    for c in comps {
        if c == ".." || c == "." {
            return Err(format!("its path has a `{c}` component"));
        }
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        return Err("its path is empty".into());
    }
    Ok(out)
}

/// Creates the directories of `rel` under `root`, refusing to pass through
/// anything that is not a real directory (a symlink from an earlier entry).
fn make_parents(root: &Path, rel: &Path) -> Result<(), String> {
    let mut cur = root.to_path_buf();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "`{}` is not a directory (a symlink or file from the image); nothing is written through it",
                    cur.display()
                ));
            }
            Err(_) => std::fs::create_dir(&cur).map_err(|e| cannot("create", &cur, &e))?,
        }
    }
    Ok(())
}

/// Removes what is at `p` (a file or symlink itself, never what a link
/// points to) so that a new entry can take its place.
fn clear(p: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_dir() => Err(format!("`{}` is a directory", p.display())),
        Ok(_) => std::fs::remove_file(p).map_err(|e| cannot("replace", p, &e)),
        Err(_) => Ok(()),
    }
}

/// The permission bits an extracted file or directory gets from its
/// entry's mode: the permissions and the sticky bit; set-user-ID and
/// set-group-ID are not restored (as `tar` does for an ordinary user).
pub const MODE_BITS: u32 = 0o1777;

/// Writes `data` to a new file at `p` (never through a link at `p`).
pub fn write_new_file(p: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    clear(p)?;
    // create_new: O_EXCL, which never follows a symlink.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
        .map_err(|e| cannot("create", p, &e))?;
    std::io::Write::write_all(&mut f, data).map_err(|e| cannot("write", p, &e))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode & MODE_BITS))
        .map_err(|e| cannot("set the mode of", p, &e))
}

fn extract_one(root: &Path, rel: &Path, d: &Dirent<'_>, data: &[u8]) -> Result<(), String> {
    make_parents(root, rel)?;
    let p = root.join(rel);
    match d.mode & S_IFMT {
        S_IFREG => write_new_file(&p, data, d.mode)?,
        S_IFDIR => match std::fs::symlink_metadata(&p) {
            // Its own mode is set once everything is extracted (a 0500
            // directory can still be filled); until then it must be
            // writable, also when an earlier extraction left it read-only.
            Ok(m) if m.file_type().is_dir() => {
                let mode = m.permissions().mode();
                if mode & 0o700 != 0o700 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o700))
                        .map_err(|e| cannot("make writable", &p, &e))?;
                }
            }
            Ok(_) => return Err(format!("`{}` exists and is not a directory", p.display())),
            Err(_) => std::fs::create_dir(&p).map_err(|e| cannot("create", &p, &e))?,
        },
        S_IFLNK => {
            let DirentKind::Symlink { target } = d.kind else {
                return Ok(());
            };
            clear(&p)?;
            let t = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target);
            std::os::unix::fs::symlink(t, &p).map_err(|e| cannot("create", &p, &e))?;
        }
        _ => {} // Devices and FIFOs are listed, not created.
    }
    Ok(())
}

/// An extraction in progress: where entries went and what went wrong.
struct Run<'o> {
    opts: &'o Options,
    dir: &'o Path,
    /// Where each extracted entry went, to refuse a second entry that would
    /// replace it (two paths with the same basename under -b, or the same
    /// path twice).
    taken: HashMap<PathBuf, String>,
    /// Directories extracted, with their modes: set at the end.
    dirs: Vec<(PathBuf, u32)>,
    diags: Vec<Diagnostic>,
    /// An entry was left out without a diagnostic of its own.
    incomplete: bool,
    /// The offset (from the image header) of the entry being extracted.
    at: u64,
}

impl Run<'_> {
    /// Where the entry being extracted is in the image file.
    fn here(&self) -> u64 {
        let o = self.opts;
        o.image_at + if o.compressed { 0 } else { self.at }
    }

    fn refuse(&mut self, n: &str, why: String, help: Option<&str>) {
        let d = Diagnostic::new(&crate::codes::I0007, format!("`{n}` not extracted: {why}"))
            .at_byte(&self.opts.image, self.here());
        self.diags.push(match help {
            Some(h) => d.help(h.to_string()),
            None => d,
        });
    }

    fn empty_path(&mut self, at: usize, d: &Dirent<'_>) {
        self.diags.push(
            Diagnostic::new(
                &crate::codes::I0003,
                format!(
                    "{}: the entry at image offset {at:#x} (inode {:#x}, mode 0{:o}) has an empty path: not extracted",
                    self.opts.image, d.ino, d.mode
                ),
            )
            .help("only the root directory has an empty path; the image is malformed")
            .at_byte(&self.opts.image, self.here()),
        );
    }

    /// The message when `rel` is already taken by `first`.
    fn collision(&mut self, n: &str, first: &str, rel: &Path) {
        let at = self.dir.join(rel);
        let b = self.opts.basenames;
        let why = if first == n {
            format!(
                "an earlier entry has the same path (`{}` holds that one)",
                at.display()
            )
        } else {
            format!(
                "`{first}` and `{n}` collide ({}both are extracted as `{}`, which holds `{first}`)",
                if b { "with -b " } else { "" },
                at.display()
            )
        };
        let help = if b {
            "extract without -b, or extract one of them with -f PATH"
        } else {
            "the image holds two entries with the same path; the first one was kept"
        };
        self.refuse(n, why, Some(help));
    }

    fn entry(&mut self, fs: &Ifs<'_>, at: usize, d: &Dirent<'_>) {
        self.at = at as u64;
        if d.path.is_empty() {
            return self.empty_path(at, d);
        }
        let n = path_text(d);
        if self.opts.basenames && d.mode & S_IFMT == S_IFDIR {
            return;
        }
        let rel = match safe_relative(d.path, self.opts.basenames) {
            Ok(r) => r,
            Err(why) => return self.refuse(&n, why, Some("the image was made to write outside the extraction directory; nothing was written for this entry")),
        };
        let Ok(data) = fs.data(d) else {
            // Reported by the check of the directory (`Ifs::data`), once.
            self.incomplete = true;
            return;
        };
        if let Some(first) = self.taken.get(&rel).cloned() {
            return self.collision(&n, &first, &rel);
        }
        match extract_one(self.dir, &rel, d, data) {
            Ok(()) => {
                if d.mode & S_IFMT == S_IFDIR {
                    self.dirs.push((self.dir.join(&rel), d.mode & MODE_BITS));
                }
                self.taken.insert(rel, n);
            }
            Err(why) => self.refuse(&n, why, None),
        }
    }

    /// Sets the directories' modes, deepest first, so that a parent
    /// without write or search permission is set after its children.
    fn finish(mut self) -> Extracted {
        self.dirs
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (p, mode) in std::mem::take(&mut self.dirs) {
            if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)) {
                self.diags.push(
                    Diagnostic::new(&crate::codes::I0007, cannot("set the mode of", &p, &e))
                        .at_byte(&self.opts.image, self.opts.image_at),
                );
            }
        }
        Extracted {
            complete: !self.incomplete && self.diags.is_empty(),
            problems: self.diags,
        }
    }
}

/// What [`extract`] did.
#[derive(Debug, Default)]
pub struct Extracted {
    /// What went wrong, each an error.
    pub problems: Vec<Diagnostic>,
    /// Every entry chosen was extracted. False when there are problems, and
    /// also when an entry's data lies outside the image (an error
    /// [`Ifs::data`] reports, not repeated here).
    pub complete: bool,
}

/// Extracts the entries `opts` chooses into `dir` (created if needed).
pub fn extract(
    fs: &Ifs<'_>,
    entries: &[(usize, Dirent<'_>)],
    dir: &Path,
    opts: &Options,
) -> Extracted {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Extracted {
            problems: vec![
                Diagnostic::new(&crate::codes::I0007, cannot("create", dir, &e))
                    .at_byte(&opts.image, opts.image_at),
            ],
            complete: false,
        };
    }
    let mut run = Run {
        opts,
        dir,
        taken: HashMap::new(),
        dirs: Vec::new(),
        diags: Vec::new(),
        incomplete: false,
        at: 0,
    };
    let mut seen_root = false;
    for (at, d) in entries {
        if d.path.is_empty() && d.mode & S_IFMT == S_IFDIR && !seen_root {
            seen_root = true; // the root directory
            continue;
        }
        if is_chosen(&opts.names, d) {
            run.entry(fs, *at, d);
        }
    }
    let mut done = run.finish();
    let missing = missing(&opts.names, entries, opts);
    done.complete &= missing.is_empty();
    done.problems.extend(missing);
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(src: &str) -> Vec<u8> {
        let mut map = diag::SourceMap::new();
        let (m, d) = buildfile::load(
            &mut map,
            &[],
            "t.build",
            src.as_bytes().to_vec(),
            &Default::default(),
        );
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        crate::build_to_vec(&m.unwrap(), &Default::default()).unwrap()
    }

    fn run(img: &[u8], dir: &Path, opts: &Options) -> Vec<String> {
        let c = crate::read::open(img).unwrap();
        let region = c.image_bytes().unwrap();
        let fs = Ifs::parse(&region).unwrap();
        let entries: Vec<_> = fs.entries().map(|e| e.unwrap()).collect();
        extract(&fs, &entries, dir, opts)
            .problems
            .iter()
            .map(|d| format!("{}: {}", d.code.id, d.message))
            .collect()
    }

    #[test]
    fn hostile_paths_are_refused() {
        assert_eq!(
            safe_relative(b"/etc/passwd", false).unwrap_err(),
            "its path is absolute"
        );
        assert_eq!(
            safe_relative(b"a/../../x", false).unwrap_err(),
            "its path has a `..` component"
        );
        assert_eq!(
            safe_relative(b"a/./x", false).unwrap_err(),
            "its path has a `.` component"
        );
        assert_eq!(
            safe_relative(b"a/\xff", false).unwrap_err(),
            "its path is not UTF-8"
        );
        assert_eq!(safe_relative(b"a//b/", false).unwrap(), Path::new("a/b"));
        assert_eq!(safe_relative(b"a/b/c", true).unwrap(), Path::new("c"));
    }

    #[test]
    fn a_link_out_of_the_directory_is_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let target = outside.display().to_string();
        // `evil` links out of the directory; `evil/x` would go through it.
        let img = image(&format!(
            "[type=link] /evil = {target}\n/evil/x = {{\npwned\n}}\n"
        ));
        let into = d.path().join("into");
        let problems = run(&img, &into, &Options::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("I0007: `evil/x` not extracted: `"),
            "{problems:?}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(
            std::fs::symlink_metadata(into.join("evil"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn names_choose_entries_and_unknown_names_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let img = image("/etc/motd = {\nhi\n}\n/etc/other = {\nno\n}\n");
        let opts = Options {
            names: vec!["motd".into(), "/etc/nope".into()],
            ..Default::default()
        };
        let problems = run(&img, d.path(), &opts);
        assert_eq!(problems, ["I0003: `/etc/nope` is not in the image"]);
        assert_eq!(std::fs::read(d.path().join("etc/motd")).unwrap(), b"hi\n");
        assert!(!d.path().join("etc/other").exists());
    }
}
