//! MSI-X on KVM: each vector a function routes gets a GSI (from 24 up) with
//! a `KVM_IRQ_ROUTING_MSI` entry carrying its message, and an irqfd on that
//! GSI; signalling the vector writes the irqfd. A masked or disabled vector
//! loses its route (the device keeps its pending bit).

use std::sync::{Arc, Mutex};

use vdev::pci::{MsiMessage, MsiSink};

use crate::irq::{IrqFd, Routes};

/// The MSI-X sink of one function.
pub(crate) struct KvmMsi {
    routes: Arc<Routes>,
    vectors: Mutex<Vec<Option<(u32, IrqFd)>>>,
}

impl KvmMsi {
    /// A sink adding routes to `routes`.
    pub(crate) fn new(routes: Arc<Routes>) -> KvmMsi {
        KvmMsi {
            routes,
            vectors: Mutex::new(Vec::new()),
        }
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("MSI-X state poisoned")
}

impl MsiSink for KvmMsi {
    fn route(&self, vector: u16, msg: Option<MsiMessage>) -> std::io::Result<()> {
        let mut v = self.vectors.lock().map_err(|_| poisoned())?;
        let i = usize::from(vector);
        if v.len() <= i {
            v.resize_with(i + 1, || None);
        }
        if v[i].is_none() {
            if msg.is_none() {
                return Ok(());
            }
            let gsi = self.routes.allocate()?;
            let fd = IrqFd::new(self.routes.vm(), gsi)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            v[i] = Some((gsi, fd));
        }
        let gsi = v[i].as_ref().map_or(0, |(g, _)| *g);
        self.routes.set_msi(gsi, msg)
    }

    fn signal(&self, vector: u16) -> std::io::Result<()> {
        let v = self.vectors.lock().map_err(|_| poisoned())?;
        match v.get(usize::from(vector)).and_then(Option::as_ref) {
            Some((_, fd)) => fd.fd().write(1),
            None => Ok(()),
        }
    }
}
