//! `shmem=FACTORY,NAME,send|recv`: two probe VMs exchange a message
//! through a shared-memory region and its doorbell (hvhost's factory page,
//! docs/vmm.md). FACTORY `pci` finds the factory page behind BAR 0 of the
//! shmem PCI function (1234:5348) and its interrupt in the function's
//! interrupt-line register.

use core::sync::atomic::Ordering;

use crate::pci::cfg_read;
use crate::{Probe, TICKS, TIMER_VECTOR, rd8, rd32, rdtsc, wr8, wr32};

/// Where the probe attaches the region.
const REGION: u64 = 0x4000_0000;
/// The receiver's mark at the region's start: "RDY!" and then its peer ID.
const READY: u32 = 0x2159_4452;
const MSG_AT: u64 = 64;
const MSG: &[u8] = b"hello through shmem";


fn spin(cycles: u64) {
    let t = rdtsc();
    while rdtsc().wrapping_sub(t) < cycles {
        core::hint::spin_loop();
    }
}

/// The shmem PCI function on bus 0: its factory page (BAR 0) and its
/// interrupt line (an IOAPIC pin).
fn shmem_function() -> Option<(u64, Option<u64>)> {
    (1..32).find_map(|dev| {
        (cfg_read(dev, 0, 0) == 0x5348_1234).then(|| {
            let bar = u64::from(cfg_read(dev, 0, 0x10) & !0xf);
            (bar, Some(u64::from(cfg_read(dev, 0, 0x3c) & 0xff)))
        })
    })
}

impl Probe {
    pub(crate) fn shmem(&self, args: &[u8]) {
        let mut parts = args.split(|&c| c == b',');
        let (factory, line) = match parts.next() {
            Some(b"pci") => match shmem_function() {
                Some(found) => found,
                None => {
                    self.report("shmem").s("FAIL no shmem PCI function\n");
                    return;
                }
            },
            f => (f.and_then(crate::parse_hex).unwrap_or(0), None),
        };
        let name = parts.next().unwrap_or(b"");
        let send = parts.next() == Some(b"send");
        // attach NAME at REGION
        for (i, &b) in name.iter().chain(&[0u8]).enumerate() {
            wr8(factory + 0x100 + i as u64, b);
        }
        wr32(factory + 0x10, REGION as u32);
        wr32(factory + 0x14, (REGION >> 32) as u32);
        wr32(factory + 0x08, 2);
        let result = rd32(factory + 0x0c);
        let (index, me) = (rd32(factory + 0x20), rd32(factory + 0x24));
        if rd32(factory) != 0x464d_4853 || result != 0 {
            self.report("shmem").s("FAIL attach result=").dec(u64::from(result), 1).s("\n");
            return;
        }
        if send { self.shmem_send(factory, index, me) } else { self.shmem_recv(factory, me, line) }
    }

    fn shmem_send(&self, factory: u64, index: u32, me: u32) {
        let mut n = 0;
        while rd32(REGION) != READY && n < 40_000 {
            spin(500_000);
            n += 1;
        }
        let peer = rd32(REGION + 4);
        if rd32(REGION) != READY {
            self.report("shmem").s("FAIL no receiver in the region\n");
            return;
        }
        for (i, &b) in MSG.iter().chain(&[0u8]).enumerate() {
            wr8(REGION + MSG_AT + i as u64, b);
        }
        wr32(factory + 0x28, (index << 16) | peer);
        let o = self.report("shmem");
        o.s("ok sent to peer ").dec(u64::from(peer), 1).s(" as peer ").dec(u64::from(me), 1).s("\n");
    }

    fn shmem_recv(&self, factory: u64, me: u32, line: Option<u64>) {
        let pin = line.unwrap_or_else(|| u64::from(rd32(factory + 0x34)));
        wr32(REGION + 4, me);
        wr32(REGION, READY);
        TICKS.store(0, Ordering::Relaxed);
        self.lapic_on();
        self.ioapic_route(pin, TIMER_VECTOR);
        let mut got = 0;
        for _ in 0..5 {
            got = self.wait_for(&TICKS, 1);
            if got > 0 {
                break;
            }
        }
        self.ioapic_mask(pin);
        let (status, from) = (rd32(factory + 0x2c), rd32(factory + 0x30));
        wr32(factory + 0x2c, status);
        let mut buf = [0u8; 48];
        let mut len = 0;
        while len < buf.len() && rd8(REGION + MSG_AT + len as u64) != 0 {
            buf[len] = rd8(REGION + MSG_AT + len as u64);
            len += 1;
        }
        let o = self.report("shmem");
        o.s(if got > 0 && status & 1 != 0 { "ok " } else { "FAIL " }).dec(u64::from(got), 1);
        o.s(" irqs via ioapic pin ").dec(pin, 1).s(" status=").hex(u64::from(status));
        o.s(" from peer ").dec(u64::from(from), 1).s(" '").bytes(&buf[..len]).s("'\n");
    }
}
