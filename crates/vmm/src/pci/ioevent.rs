//! Notifiers on KVM: each is an ioeventfd (`KVM_IOEVENTFD`) at the address
//! its BAR decodes, port or MMIO, with or without a data match.

use std::sync::Arc;

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use vdev::Space;
use vdev::pci::{Datamatch, Notifier};

use super::Ioevents;

/// KVM's ioeventfds of one VM.
pub(crate) struct KvmIoevents(pub Arc<VmFd>);

fn address(space: Space, addr: u64) -> IoEventAddress {
    match space {
        Space::Io => IoEventAddress::Pio(addr),
        Space::Mem => IoEventAddress::Mmio(addr),
    }
}

fn io(e: kvm_ioctls::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.errno())
}

impl Ioevents for KvmIoevents {
    fn register(&self, space: Space, addr: u64, n: &Notifier) -> std::io::Result<()> {
        let a = address(space, addr);
        match n.datamatch {
            Datamatch::Any => self.0.register_ioevent(&n.fd, &a, NoDatamatch),
            Datamatch::U16(v) => self.0.register_ioevent(&n.fd, &a, v),
            Datamatch::U32(v) => self.0.register_ioevent(&n.fd, &a, v),
        }
        .map_err(io)
    }

    fn unregister(&self, space: Space, addr: u64, n: &Notifier) -> std::io::Result<()> {
        let a = address(space, addr);
        match n.datamatch {
            Datamatch::Any => self.0.unregister_ioevent(&n.fd, &a, NoDatamatch),
            Datamatch::U16(v) => self.0.unregister_ioevent(&n.fd, &a, v),
            Datamatch::U32(v) => self.0.unregister_ioevent(&n.fd, &a, v),
        }
        .map_err(io)
    }
}
