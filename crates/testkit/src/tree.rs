//! Temporary host trees: a directory that a test fills with the files a
//! buildfile or a VM configuration names, removed when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A temporary directory with helpers to fill it.
pub struct HostTree {
    dir: tempfile::TempDir,
}

impl HostTree {
    /// An empty tree.
    pub fn new() -> HostTree {
        HostTree {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// Its root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` inside the tree.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `rel` (creating its directories) and return its path.
    pub fn file(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("create directories");
        }
        std::fs::write(&p, contents).expect("write a file");
        p
    }

    /// Write `rel` as an executable (mode 0755) and return its path.
    pub fn exe(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.file(rel, contents);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        p
    }

    /// Create the directory `rel` and return its path.
    pub fn dir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.join(rel);
        std::fs::create_dir_all(&p).expect("create a directory");
        p
    }
}

impl Default for HostTree {
    fn default() -> Self {
        HostTree::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_directories_and_executables_land_in_the_tree_and_go_with_it() {
        let t = HostTree::new();
        let f = t.file("etc/a/b.txt", "x");
        let e = t.exe("bin/tool", "#!/bin/sh\n");
        let d = t.dir("empty/dir");
        assert_eq!(std::fs::read(&f).expect("read"), b"x");
        let mode = std::fs::metadata(&e).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(d.is_dir() && f.starts_with(t.path()));
        let root = t.path().to_path_buf();
        drop(t);
        assert!(!root.exists(), "removed when dropped");
    }
}
