//! Reading a buildfile from the command line: the options every subcommand
//! that reads one shares (`-l`, `-r`, `--no-host-files`). `check`, `manifest`
//! and `run` also take an IFS image there ([`BuildfileInput::load_host`]):
//! it is read into the same Manifest (see [`ifs::sniff`]).

use buildfile::{Manifest, Options, Times};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use std::io::Read;
use std::path::PathBuf;

/// Where a buildfile comes from, and how host files are found.
#[derive(Debug, Clone, Args)]
pub(crate) struct BuildfileInput {
    /// The buildfile; `-` reads standard input. `check`, `manifest` and `run`
    /// also take an IFS image (bootable or not, compressed or not).
    #[arg(value_name = "BUILDFILE")]
    pub buildfile: String,
    /// A buildfile line processed before the file (repeatable, in order), as mkifs -l.
    #[arg(short = 'l', long = "line", value_name = "LINE")]
    pub lines: Vec<String>,
    /// Search the default paths under ROOT before ${QNX_TARGET} (as mkifs -r; ignored when MKIFS_PATH is set).
    #[arg(short = 'r', long = "root", value_name = "ROOT")]
    pub root: Option<PathBuf>,
    /// Resolve without the SDK's files: a host file that exists is read, one that does not is assumed present (size unknown).
    #[arg(long)]
    pub no_host_files: bool,
}

/// Why the input could not be read at all (exit code 2).
pub(crate) struct Unreadable(pub Box<Diagnostic>);

impl BuildfileInput {
    /// The name shown in messages.
    pub(crate) fn display_name(&self) -> String {
        if self.buildfile == "-" {
            "<stdin>".into()
        } else {
            self.buildfile.clone()
        }
    }

    /// Reads the buildfile's bytes.
    pub(crate) fn read(&self) -> Result<Vec<u8>, Unreadable> {
        let r = if self.buildfile == "-" {
            let mut b = Vec::new();
            std::io::stdin().lock().read_to_end(&mut b).map(|_| b)
        } else {
            std::fs::read(&self.buildfile)
        };
        r.map_err(|e| {
            Unreadable(Box::new(
                Diagnostic::new(
                    &diag::G0001,
                    diag::io::cannot("read", std::path::Path::new(&self.display_name()), &e),
                )
                .help("check the path; `-` reads the buildfile from standard input"),
            ))
        })
    }

    /// Resolver options from this process and these arguments.
    pub(crate) fn options(&self, times: Times) -> Options {
        let mut o = Options::from_process();
        o.root = self.root.clone();
        o.no_host_files = self.no_host_files;
        o.times = times;
        o
    }

    /// Reads and resolves the buildfile; when it cannot be read, prints why
    /// (for `format`) and returns `None` (exit status 2).
    pub(crate) fn load_or_report(
        &self,
        map: &mut SourceMap,
        times: Times,
        format: crate::output::Format,
    ) -> Option<(Option<Manifest>, Vec<Diagnostic>)> {
        let r = self.load(map, times);
        reported(r, map, format)
    }

    /// Reads and resolves the buildfile, or reads the image it is. An image
    /// that cannot be read is unreadable input, with the reader's code (I0xxx).
    pub(crate) fn load_host(
        &self,
        map: &mut SourceMap,
        times: Times,
    ) -> Result<(Option<Manifest>, Vec<Diagnostic>), Unreadable> {
        let bytes = self.read()?;
        if !ifs::sniff::is_image(&bytes) {
            return Ok(self.resolve(map, times, bytes));
        }
        let name = self.display_name();
        match ifs::sniff::load(map, &name, &bytes) {
            Ok(m) => Ok((Some(m), Vec::new())),
            Err(e) => Err(Unreadable(Box::new(
                Diagnostic::new(e.code(), format!("{name}: the image cannot be read: {e}")).help(
                    format!("`hvhost dump --verify {name}` checks the whole image"),
                ),
            ))),
        }
    }

    /// Reads and resolves the buildfile.
    pub(crate) fn load(
        &self,
        map: &mut SourceMap,
        times: Times,
    ) -> Result<(Option<Manifest>, Vec<Diagnostic>), Unreadable> {
        let bytes = self.read()?;
        Ok(self.resolve(map, times, bytes))
    }

    fn resolve(
        &self,
        map: &mut SourceMap,
        times: Times,
        bytes: Vec<u8>,
    ) -> (Option<Manifest>, Vec<Diagnostic>) {
        buildfile::load(
            map,
            &self.lines,
            &self.display_name(),
            bytes,
            &self.options(times),
        )
    }
}

/// The loaded input, or `None` after printing why it is unreadable (for
/// `format`; exit status 2).
pub(crate) fn reported<T>(
    r: Result<T, Unreadable>,
    map: &SourceMap,
    format: crate::output::Format,
) -> Option<T> {
    r.map_err(|Unreadable(d)| crate::output::emit(format, map, &mut [*d]))
        .ok()
}

/// The times `-n` (1) or `-nn` (2 or more) zero, as mkifs.
pub(crate) fn times(zero: u8) -> Times {
    match zero {
        0 => Times::Host,
        1 => Times::ZeroGenerated,
        _ => Times::ZeroAll,
    }
}
