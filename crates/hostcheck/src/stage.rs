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

impl Staged {
    /// The host path holding the contents of the image file `target`
    /// (symlinks in the image followed).
    pub fn host_path(&mut self, host: &HostView, target: &str) -> Result<PathBuf, Unavailable> {
        let Some(e) = host.find_followed(target) else {
            return Err(Unavailable::NotInImage);
        };
        let entry = e.span;
        let EntryKind::File(f) = &e.kind else {
            return Err(Unavailable::NotRegular { entry });
        };
        match &f.source {
            DataSource::Host { path } => Ok(path.clone()),
            DataSource::Inline { bytes } => self
                .write(target, bytes)
                .map_err(|error| Unavailable::Staging { entry, error }),
            DataSource::Assumed { name } => Err(Unavailable::Assumed {
                name: name.clone(),
                entry,
            }),
            DataSource::Script => Err(Unavailable::Script { entry }),
        }
    }

    /// A host path holding `bytes`, named after the image path `name`.
    fn write(&mut self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let dir = match &self.dir {
            Some(d) => d,
            None => self.dir.insert(tempfile::tempdir()?),
        };
        let file = dir
            .path()
            .join(name.trim_start_matches('/').replace('/', "_"));
        std::fs::write(&file, bytes)?;
        Ok(file)
    }
}
