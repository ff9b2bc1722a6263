//! The qvm `logger` option: severity filters and a destination.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Message severities, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The VM cannot continue.
    Fatal,
    /// An internal VMM error.
    Internal,
    /// An error.
    Error,
    /// A warning.
    Warn,
    /// Information (progress milestones, lifecycle).
    Info,
    /// Debugging detail.
    Debug,
    /// Everything.
    Verbose,
}

impl Level {
    /// The name used in `logger` filters and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Level::Fatal => "fatal",
            Level::Internal => "internal",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Verbose => "verbose",
        }
    }
}

/// Where log messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// The system log; on Linux this VMM writes it to standard error.
    Slog,
    /// Nowhere.
    None,
}

/// The `logger filter[,filter] dest` option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggerSpec {
    /// Severities let through.
    pub filters: Vec<Level>,
    /// Destination.
    pub dest: Dest,
}

impl Default for LoggerSpec {
    /// qvm's default: `fatal,internal,error,warn,info stderr`.
    fn default() -> Self {
        LoggerSpec {
            filters: vec![
                Level::Fatal,
                Level::Internal,
                Level::Error,
                Level::Warn,
                Level::Info,
            ],
            dest: Dest::Stderr,
        }
    }
}

/// A cheap, cloneable logger; every line carries the time since the VMM
/// started: `vmm[NAME] +0.012345 info: message`.
#[derive(Clone, Debug)]
pub struct Logger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    mask: u32,
    dest: Dest,
    start: Instant,
    name: String,
}

impl Logger {
    /// A logger for the VM `name`, with times relative to `start`.
    pub fn new(spec: &LoggerSpec, name: &str, start: Instant) -> Logger {
        let mask = spec.filters.iter().fold(0, |m, l| m | 1 << *l as u32);
        Logger {
            inner: Arc::new(Inner {
                mask,
                dest: spec.dest,
                start,
                name: name.to_string(),
            }),
        }
    }

    /// True when messages of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        self.inner.dest != Dest::None && self.inner.mask & (1 << level as u32) != 0
    }

    /// When the VMM started.
    pub fn start(&self) -> Instant {
        self.inner.start
    }

    /// Write one message.
    pub fn log(&self, level: Level, msg: impl std::fmt::Display) {
        if !self.enabled(level) {
            return;
        }
        let t = self.inner.start.elapsed();
        let line = format!(
            "vmm[{}] +{}.{:06} {}: {}\n",
            self.inner.name,
            t.as_secs(),
            t.subsec_micros(),
            level.name(),
            msg
        );
        // A failed log write has nowhere to be reported; it is dropped.
        let _ = match self.inner.dest {
            Dest::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            Dest::Stderr | Dest::Slog => std::io::stderr().lock().write_all(line.as_bytes()),
            Dest::None => Ok(()),
        };
    }

    /// `log(Level::Info, ..)`.
    pub fn info(&self, msg: impl std::fmt::Display) {
        self.log(Level::Info, msg)
    }
    /// `log(Level::Warn, ..)`.
    pub fn warn(&self, msg: impl std::fmt::Display) {
        self.log(Level::Warn, msg)
    }
    /// `log(Level::Error, ..)`.
    pub fn error(&self, msg: impl std::fmt::Display) {
        self.log(Level::Error, msg)
    }
    /// `log(Level::Debug, ..)`.
    pub fn debug(&self, msg: impl std::fmt::Display) {
        self.log(Level::Debug, msg)
    }
}
