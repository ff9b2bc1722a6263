//! How far a build has got: work done out of a total, in bytes, shared with
//! a thread that shows it (the CLI's progress bar).
//!
//! The work of writing an image is every byte written; a compressed image
//! also assembles its image region in memory and compresses it, so its
//! total counts the region twice (assembled, then compressed) and the
//! startup area once. The total is known before the first byte, and `done`
//! never passes it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// Work done and total work, updated by the writer as it goes.
#[derive(Debug, Default)]
pub struct Meter {
    done: AtomicU64,
    total: AtomicU64,
}

impl Meter {
    /// A meter with nothing done yet.
    pub fn new() -> Meter {
        Meter::default()
    }

    /// Bytes of work done so far (at most [`Meter::total`]).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed).min(self.total())
    }

    /// Bytes of work in all; 0 until the writer starts.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Starts a piece of work of `total` bytes.
    pub(crate) fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    /// The counter that compression adds to.
    pub(crate) fn counter(&self) -> &AtomicU64 {
        &self.done
    }

    /// Adds `n` bytes of work done.
    pub(crate) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks everything done.
    pub(crate) fn finish(&self) {
        self.done.store(self.total(), Ordering::Relaxed);
    }
}

/// A writer that adds what passes through it to a meter.
pub(crate) struct Counted<'a> {
    pub(crate) inner: &'a mut dyn Write,
    pub(crate) meter: &'a Meter,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.meter.add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_never_passes_the_total() {
        let m = Meter::new();
        m.start(10);
        let mut sink = Vec::new();
        let mut w = Counted {
            inner: &mut sink,
            meter: &m,
        };
        w.write_all(b"0123456").unwrap();
        assert_eq!((m.done(), m.total()), (7, 10));
        w.write_all(b"0123456").unwrap();
        assert_eq!(m.done(), 10);
        m.start(3);
        assert_eq!(m.done(), 0);
        m.finish();
        assert_eq!(m.done(), 3);
    }
}
