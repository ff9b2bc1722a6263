//! Where the bytes of an image entry are on this machine, for running a VM
//! from the files an image is built from.
//!
//! A file the Manifest takes from the host is that host file; an inline
//! file (or one read out of an image) is written once to a private
//! temporary directory that lives as long as the [`Staged`] value.

use std::io;
use std::path::PathBuf;

use buildfile::{DataSource, EntryKind};
use diag::Span;

use crate::host::HostView;

/// Why an image path has no file on this machine.
#[derive(Debug)]
pub enum Unavailable {
    /// No entry of the image has that path.
    NotInImage,
    /// The entry (at `entry`) is not a regular file.
    NotRegular {
        /// The entry's buildfile location.
        entry: Span,
    },
    /// The entry comes from a host file that is not on this machine.
    Assumed {
        /// The host file's name as the buildfile gives it.
        name: String,
        /// The entry's buildfile location.
        entry: Span,
    },
    /// The entry is the boot script.
    Script {
        /// The entry's buildfile location.
        entry: Span,
    },
    /// The entry's contents could not be written to the staging directory.
    Staging {
        /// The entry's buildfile location.
        entry: Span,
        /// What failed.
        error: io::Error,
    },
}

/// Files written for inline image entries; removed when this value is dropped.
#[derive(Debug, Default)]
pub struct Staged {
    dir: Option<tempfile::TempDir>,
}

/// Where an entry's bytes are: a host file, or in the Manifest.
enum Found<'m> {
    Host(PathBuf),
    Bytes(&'m [u8]),
}

impl Staged {
    /// The host path holding the contents of the image file `target`
    /// (symlinks in the image followed).
    pub fn host_path(&mut self, host: &HostView, target: &str) -> Result<PathBuf, Unavailable> {
        let (found, entry) = find(host, target)?;
        match found {
            Found::Host(path) => Ok(path),
            // Named after the normalised path: one file name, never `..`.
            Found::Bytes(bytes) => self
                .write(
                    &crate::host::absolute(target)
                        .trim_start_matches('/')
                        .replace('/', "_"),
                    bytes,
                )
                .map_err(|error| Unavailable::Staging { entry, error }),
        }
    }

    /// The image file `target` at its own path under [`Self::tree`] (a host
    /// file linked there, inline contents written there), for a program that
    /// looks image paths up under a root directory (`hvhost qvm --root`).
    pub fn in_tree(&mut self, host: &HostView, target: &str) -> Result<PathBuf, Unavailable> {
        let (found, entry) = find(host, target)?;
        let rel = crate::host::absolute(target)
            .trim_start_matches('/')
            .to_string();
        let staging = |error| Unavailable::Staging { entry, error };
        match found {
            Found::Host(path) => {
                let to = std::path::absolute(&path).map_err(staging)?;
                let at = self.tree().map_err(staging)?.join(&rel);
                if let Some(dir) = at.parent() {
                    std::fs::create_dir_all(dir).map_err(staging)?;
                }
                if !at.exists() {
                    std::os::unix::fs::symlink(&to, &at).map_err(staging)?;
                }
                Ok(at)
            }
            Found::Bytes(bytes) => self.write(&rel, bytes).map_err(staging),
        }
    }

    /// The staging directory (made on first use).
    pub fn tree(&mut self) -> io::Result<PathBuf> {
        let dir = match &self.dir {
            Some(d) => d,
            None => self.dir.insert(tempfile::tempdir()?),
        };
        Ok(dir.path().to_path_buf())
    }

    /// A host path holding `bytes`, at `rel` under the staging directory.
    fn write(&mut self, rel: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let file = self.tree()?.join(rel);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, bytes)?;
        Ok(file)
    }
}

/// The bytes of the image file `target` and its entry's location.
fn find<'m>(host: &HostView<'m>, target: &str) -> Result<(Found<'m>, Span), Unavailable> {
    let Some(e) = host.find_followed(target) else {
        return Err(Unavailable::NotInImage);
    };
    let entry = e.span;
    let EntryKind::File(f) = &e.kind else {
        return Err(Unavailable::NotRegular { entry });
    };
    match &f.source {
        DataSource::Host { path } => Ok((Found::Host(path.clone()), entry)),
        DataSource::Inline { bytes } => Ok((Found::Bytes(bytes), entry)),
        DataSource::Assumed { name } => Err(Unavailable::Assumed {
            name: name.clone(),
            entry,
        }),
        DataSource::Script => Err(Unavailable::Script { entry }),
    }
}
