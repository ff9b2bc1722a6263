//! Reading a buildfile from the command line: the options every subcommand
//! that reads one shares (`-l`, `-r`, `--no-host-files`).

use buildfile::{Manifest, Options, Times};
use clap::Args;
use diag::{Diagnostic, SourceMap};
use std::io::Read;
use std::path::PathBuf;

/// Where a buildfile comes from, and how host files are found.
#[derive(Debug, Clone, Args)]
pub(crate) struct BuildfileInput {
    /// The buildfile; `-` reads standard input.
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
        match self.load(map, times) {
            Ok(r) => Some(r),
            Err(Unreadable(d)) => {
                crate::output::emit(format, map, &mut [*d]);
                None
            }
        }
    }

    /// Reads and resolves the buildfile.
    pub(crate) fn load(
        &self,
        map: &mut SourceMap,
        times: Times,
    ) -> Result<(Option<Manifest>, Vec<Diagnostic>), Unreadable> {
        let bytes = self.read()?;
        Ok(buildfile::load(
            map,
            &self.lines,
            &self.display_name(),
            bytes,
            &self.options(times),
        ))
    }
}

/// The times `-n` (1) or `-nn` (2 or more) zero, as mkifs.
pub(crate) fn times(zero: u8) -> Times {
    match zero {
        0 => Times::Host,
        1 => Times::ZeroGenerated,
        _ => Times::ZeroAll,
    }
}
