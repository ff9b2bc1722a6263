//! Writing an image atomically: the bytes go to a temporary file beside the
//! output, renamed over it only when everything succeeded. On an error, on
//! drop, and on SIGINT, SIGTERM, SIGHUP or SIGPIPE the temporary file is
//! removed and an existing output is left untouched.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let out = dir.path().join("x.ifs");
//! let f = ifs::atomic::AtomicFile::create(&out)?;
//! std::io::Write::write_all(&mut f.file(), b"image")?;
//! f.commit()?;
//! assert_eq!(std::fs::read(&out)?, b"image");
//! # Ok::<(), std::io::Error>(())
//! ```

#![allow(
    unsafe_code,
    reason = "signal handlers that remove the temporary output (libc::sigaction)"
)]

use diag::io::with_path;
use std::ffi::{CString, c_char, c_int};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

/// How many temporary files can be pending at once and still be removed on
/// a signal (one more is still removed on an error or drop).
const SLOTS: usize = 32;

/// The paths of the pending temporary files, as C strings for `unlink`
/// (null: a free slot). A signal handler reads them.
static PENDING: [AtomicPtr<c_char>; SLOTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

static INSTALL: Once = Once::new();

/// The signals that remove the pending temporary files before the process
/// ends as the signal ends it.
const SIGNALS: [c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE];

extern "C" fn on_signal(sig: c_int) {
    for slot in &PENDING {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: a non-null slot holds a NUL-terminated string that is
            // never freed (see `Pending::drop`); unlink is async-signal-safe.
            unsafe { libc::unlink(p) };
        }
    }
    // SAFETY: signal and raise are async-signal-safe; with the default
    // disposition back, the process ends as the signal would have ended it.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs the handler for each of [`SIGNALS`] whose disposition is the
/// default: a program that ignores or handles one keeps its choice (Rust
/// programs ignore SIGPIPE unless they restore it).
fn install_handlers() {
    INSTALL.call_once(|| {
        for sig in SIGNALS {
            // SAFETY: sigaction with a zeroed struct and a null new action
            // only reads the current disposition into `old`.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: as above; `old` is a valid out-pointer.
            if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            // SAFETY: a zeroed sigaction is a valid value to fill in.
            let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
            new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            new.sa_flags = libc::SA_RESTART;
            // SAFETY: `new` is fully initialised, its handler only calls
            // async-signal-safe functions, and the old action is not needed.
            unsafe {
                libc::sigemptyset(&mut new.sa_mask);
                libc::sigaction(sig, &new, std::ptr::null_mut());
            }
        }
    });
}

/// A path registered for removal on a signal; unregistered on drop.
struct Pending(Option<usize>);

impl Pending {
    fn register(path: &Path) -> Pending {
        install_handlers();
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return Pending(None);
        };
        let raw = c.into_raw();
        for (i, slot) in PENDING.iter().enumerate() {
            if slot
                .compare_exchange(
                    std::ptr::null_mut(),
                    raw,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                return Pending(Some(i));
            }
        }
        // Every slot is taken: removed on error and drop only.
        // SAFETY: `raw` came from `into_raw` above and was never shared.
        drop(unsafe { CString::from_raw(raw) });
        Pending(None)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            // The string is not freed: a handler on another thread may be
            // reading it at this moment. It is a path's length, once per
            // image written.
            PENDING[i].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// A temporary file that is removed on drop and on the signals of this
/// module unless it is renamed into place first.
pub struct TempFile {
    // Field order matters: the file is removed before its registration is
    // dropped, so a signal between the two finds nothing left behind.
    file: tempfile::NamedTempFile,
    _pending: Pending,
}

impl TempFile {
    /// Creates `DIR/.PREFIX.XXXXXX.tmp`, with mode 0666 less the umask.
    pub fn new_in(dir: &Path, prefix: &str) -> std::io::Result<TempFile> {
        let file = tempfile::Builder::new()
            .prefix(&format!(".{prefix}."))
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| with_path("create a temporary file in", dir, &e))?;
        let pending = Pending::register(file.path());
        Ok(TempFile {
            file,
            _pending: pending,
        })
    }

    /// The open file.
    pub fn file(&self) -> &File {
        self.file.as_file()
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// An output file written through a [`TempFile`] beside it (beside its
/// target when the output is a symbolic link, so that the link is kept and
/// its target replaced).
pub struct AtomicFile {
    target: PathBuf,
    dir: PathBuf,
    name: String,
    mode: u32,
    tmp: TempFile,
}

impl AtomicFile {
    /// Starts writing `path`. An existing output keeps its permissions; a
    /// new one gets 0666 less the umask, as any file a Unix tool creates.
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let target = resolve_links(path).map_err(|e| with_path("write", path, &e))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let existing = std::fs::metadata(&target)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.permissions().mode() & 0o7777);
        let tmp = TempFile::new_in(&dir, &name)?;
        let mode = match existing {
            Some(m) => m,
            None => {
                tmp.file()
                    .metadata()
                    .map_err(|e| with_path("write", tmp.path(), &e))?
                    .permissions()
                    .mode()
                    & 0o7777
            }
        };
        Ok(AtomicFile {
            target,
            dir,
            name,
            mode,
            tmp,
        })
    }

    /// The temporary file being written.
    pub fn file(&self) -> &File {
        self.tmp.file()
    }

    /// The temporary file's path.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// A new temporary file beside the output (for a filter that writes
    /// its result to another file); see [`AtomicFile::replace`].
    pub fn new_temp(&self) -> std::io::Result<TempFile> {
        TempFile::new_in(&self.dir, &self.name)
    }

    /// Makes `t` the file that becomes the output; the current temporary
    /// file is removed.
    pub fn replace(&mut self, t: TempFile) {
        self.tmp = t;
    }

    /// Renames the temporary file over the output, with the output's mode.
    pub fn commit(self) -> std::io::Result<()> {
        let AtomicFile {
            target, mode, tmp, ..
        } = self;
        tmp.file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| with_path("write", &target, &e))?;
        let TempFile { file, _pending } = tmp;
        file.persist(&target)
            .map_err(|e| with_path("write", &target, &e.error))?;
        Ok(())
    }
}

/// Follows `path` while it is a symbolic link (at most 40 links, as the
/// kernel does). A path that does not exist (or a dangling link's target)
/// is returned as it is: the file is created there.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if t.is_relative() => dir.join(t),
                    _ => t,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn dropped_without_commit_leaves_the_old_file_and_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("a.ifs");
        std::fs::write(&out, b"old").unwrap();
        let f = AtomicFile::create(&out).unwrap();
        f.file().write_all(b"new").unwrap();
        assert_eq!(names(d.path()).len(), 2);
        drop(f);
        assert_eq!(names(d.path()), ["a.ifs"]);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
    }

    #[test]
    fn a_replaced_temporary_is_removed_and_its_successor_committed() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("b.ifs");
        let mut f = AtomicFile::create(&out).unwrap();
        f.file().write_all(b"raw").unwrap();
        let t = f.new_temp().unwrap();
        t.file().write_all(b"filtered").unwrap();
        f.replace(t);
        assert_eq!(names(d.path()).len(), 1);
        f.commit().unwrap();
        assert_eq!(names(d.path()), ["b.ifs"]);
        assert_eq!(std::fs::read(&out).unwrap(), b"filtered");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let e = AtomicFile::create(Path::new("/nonexistent-hvhost-dir/x.ifs"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot create a temporary file in `/nonexistent-hvhost-dir`: No such file or directory"
        );
    }

    #[test]
    fn pending_paths_are_registered_until_dropped() {
        let d = tempfile::tempdir().unwrap();
        let t = TempFile::new_in(d.path(), "x").unwrap();
        let i = t._pending.0.unwrap();
        let p = PENDING[i].load(Ordering::SeqCst);
        // SAFETY: a registered slot holds a live NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        assert_eq!(s.to_bytes(), t.path().as_os_str().as_bytes());
        drop(t);
        assert!(PENDING[i].load(Ordering::SeqCst) != p);
    }
}
