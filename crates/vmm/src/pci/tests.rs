use std::sync::{Arc, Mutex};

use super::*;
use vdev::pci::{MsiMessage, MsiSink, Msix};

/// A function with a 4 KiB memory BAR 0 (MSI-X table at 0, PBA at 0x800),
/// a 32-port I/O BAR 1 and a 64-bit BAR 2; BAR accesses are recorded.
struct Test {
    config: ConfigSpace,
    msix: Msix,
    seen: Arc<Mutex<Vec<(usize, u64)>>>,
}

#[derive(Default)]
struct Sink(Mutex<Vec<(u16, Option<MsiMessage>)>>);

impl MsiSink for Sink {
    fn route(&self, v: u16, m: Option<MsiMessage>) -> std::io::Result<()> {
        self.0.lock().unwrap().push((v, m));
        Ok(())
    }
    fn signal(&self, _: u16) -> std::io::Result<()> {
        Ok(())
    }
}

impl PciFunction for Test {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }
    fn config_mut(&mut self) -> &mut ConfigSpace {
        &mut self.config
    }
    fn msix(&self) -> Option<&Msix> {
        Some(&self.msix)
    }
    fn bar_read(&mut self, bar: usize, offset: u64, data: &mut [u8]) -> Result<()> {
        self.seen.lock().unwrap().push((bar, offset));
        data.fill(0xab);
        Ok(())
    }
}

type Seen = Arc<Mutex<Vec<(usize, u64)>>>;

fn bus(sink: Arc<Sink>) -> (PciBus, Seen) {
    let mut config = ConfigSpace::new(&Ids {
        vendor: 0x1af4,
        device: 0x1000,
        ..Ids::default()
    });
    config.set_bar(0, Bar::mem32(0x1000)).unwrap();
    config.set_bar(1, Bar::io(0x20)).unwrap();
    config.set_bar(2, Bar::mem64(0x4000, false)).unwrap();
    let mut msix = Msix::new(2, 0, 0, 0x800, sink);
    msix.install(&mut config).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut b = PciBus::new();
    let f = Test {
        config,
        msix,
        seen: seen.clone(),
    };
    b.add(
        PciAddr {
            bus: 0,
            dev: 2,
            func: 0,
        },
        "test",
        Box::new(f),
    )
    .unwrap();
    (b, seen)
}

fn select(b: &mut PciBus, dev: u32, reg: u32) {
    b.ports_write(0, &(0x8000_0000 | (dev << 11) | reg).to_le_bytes())
        .unwrap();
}

fn cfg32(b: &mut PciBus, dev: u32, reg: u32) -> u32 {
    select(b, dev, reg);
    let mut d = [0; 4];
    b.ports_read(4, &mut d);
    u32::from_le_bytes(d)
}

#[test]
fn config_ports_at_every_width_and_offset() {
    let (mut b, _) = bus(Arc::default());
    assert_eq!(cfg32(&mut b, 0, 0), 0x29c0_8086, "the host bridge");
    assert_eq!(cfg32(&mut b, 2, 0), 0x1000_1af4);
    assert_eq!(cfg32(&mut b, 7, 0), u32::MAX, "no function");
    select(&mut b, 2, 0);
    let mut w = [0; 2];
    b.ports_read(6, &mut w);
    assert_eq!(u16::from_le_bytes(w), 0x1000);
    let mut one = [0; 1];
    b.ports_read(5, &mut one);
    assert_eq!(one[0], 0x1a);
    let mut latch = [0; 4];
    b.ports_read(0, &mut latch);
    assert_eq!(u32::from_le_bytes(latch), 0x8000_1000);
    // a byte write to 0xCF8 is not the latch; bit 31 clear disables the data port
    b.ports_write(0, &[0]).unwrap();
    assert_eq!(cfg32(&mut b, 2, 0), 0x1000_1af4);
    b.ports_write(0, &0x1000u32.to_le_bytes()).unwrap();
    let mut d = [0; 4];
    b.ports_read(4, &mut d);
    assert_eq!(d, [0xff; 4]);
    assert_eq!(
        b.ports_write(1, &[0x06]).unwrap(),
        Effect::Reset,
        "0xCF9 reset"
    );
    assert_eq!(b.ports_write(1, &[0x02]).unwrap(), Effect::None);
    // ECAM: bus 0 device 2 register 0, and beyond bus 0
    let mut e = [0; 4];
    b.ecam_read(2 << 15, &mut e);
    assert_eq!(u32::from_le_bytes(e), 0x1000_1af4);
    b.ecam_read(1 << 20, &mut e);
    assert_eq!(e, [0xff; 4]);
}

#[test]
fn bars_are_placed_clear_of_busy_ranges_and_follow_the_guest() {
    let (mut b, seen) = bus(Arc::default());
    let busy = [(Space::Mem, MMIO_START, 0x1800), (Space::Io, 0x1000, 0x10)];
    b.assign(&busy).unwrap();
    let maps: Vec<(Space, u64, u64)> = b
        .mappings()
        .iter()
        .map(|m| (m.space, m.base, m.len))
        .collect();
    assert!(
        maps.contains(&(Space::Mem, MMIO_START + 0x4000, 0x4000)),
        "{maps:x?}"
    );
    assert!(
        maps.contains(&(Space::Mem, MMIO_START + 0x2000, 0x1000)),
        "{maps:x?}"
    );
    assert!(maps.contains(&(Space::Io, 0x1020, 0x20)), "{maps:x?}");
    assert_eq!(cfg32(&mut b, 2, 4) & 3, 3, "decoding enabled");
    let mut d = [0; 4];
    assert!(
        b.bar_access(Space::Io, 0x1024, Some(&mut d), None)
            .is_some()
    );
    assert_eq!(seen.lock().unwrap().last(), Some(&(1, 4)));
    // the guest moves BAR 1 and turns I/O decoding off, then on again
    select(&mut b, 2, 0x14);
    b.ports_write(4, &0x2000u32.to_le_bytes()).unwrap();
    assert!(
        b.bar_access(Space::Io, 0x1024, Some(&mut d), None)
            .is_none(),
        "old place"
    );
    assert!(
        b.bar_access(Space::Io, 0x2004, Some(&mut d), None)
            .is_some(),
        "new place"
    );
    select(&mut b, 2, 4);
    b.ports_write(4, &[2, 0]).unwrap();
    assert!(
        b.bar_access(Space::Io, 0x2004, Some(&mut d), None)
            .is_none(),
        "I/O off"
    );
    assert!(
        b.bar_access(Space::Mem, MMIO_START + 0x4000, Some(&mut d), None)
            .is_some()
    );
    // sizing with decode on maps nothing wild: all ones is beyond the port space
    select(&mut b, 2, 4);
    b.ports_write(4, &[3, 0]).unwrap();
    select(&mut b, 2, 0x14);
    b.ports_write(4, &u32::MAX.to_le_bytes()).unwrap();
    assert_eq!(cfg32(&mut b, 2, 0x14), 0xffe1);
    assert!(
        b.mappings()
            .iter()
            .all(|m| m.space != Space::Io || m.base + m.len <= 0x1_0000)
    );
}

#[test]
fn msix_table_accesses_are_served_by_the_bus() {
    let sink = Arc::new(Sink::default());
    let (mut b, seen) = bus(sink.clone());
    b.assign(&[]).unwrap();
    let bar0 = b.mappings().iter().find(|m| m.len == 0x1000).unwrap().base;
    let mut entry = [0u8; 16];
    entry[..4].copy_from_slice(&0xfee0_0000u32.to_le_bytes());
    entry[8] = 0x45;
    b.bar_access(Space::Mem, bar0, None, Some(&entry))
        .unwrap()
        .unwrap();
    let mut r = [0u8; 4];
    b.bar_access(Space::Mem, bar0 + 8, Some(&mut r), None)
        .unwrap()
        .unwrap();
    assert_eq!(r, [0x45, 0, 0, 0]);
    assert!(
        seen.lock().unwrap().is_empty(),
        "the device never saw the table"
    );
    // enable MSI-X through the capability (message control at cap+2)
    let cap = cfg32(&mut b, 2, 0x34) & 0xff;
    select(&mut b, 2, cap);
    b.ports_write(6, &0x8000u16.to_le_bytes()).unwrap();
    assert_eq!(
        *sink.0.lock().unwrap(),
        vec![(
            0,
            Some(MsiMessage {
                addr: 0xfee0_0000,
                data: 0x45
            })
        )]
    );
    b.bar_access(Space::Mem, bar0 + 0x10, Some(&mut r), None)
        .unwrap()
        .unwrap();
    b.bar_access(Space::Mem, bar0 + 0x900, Some(&mut r), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(0, 0x900)],
        "outside the table and PBA"
    );
}

#[test]
fn addresses_and_placement() {
    assert_eq!(intx_gsi(1, 1), 17);
    assert_eq!(intx_gsi(3, 2), 16);
    assert_eq!(intx_gsi(4, 1), 16);
    let taken = [(Space::Mem, 0x1000, 0x1000), (Space::Io, 0x2000, 0x3000)];
    assert_eq!(place(&taken, Space::Mem, 0, 0x10000, 0x1000), Some(0));
    assert_eq!(
        place(&taken, Space::Mem, 0x800, 0x10000, 0x1000),
        Some(0x2000)
    );
    assert_eq!(
        place(&taken, Space::Io, 0x2000, 0x6000, 0x1000),
        Some(0x5000)
    );
    assert_eq!(place(&taken, Space::Io, 0x2000, 0x5800, 0x1000), None);
    let mut b = PciBus::new();
    let dup = |b: &mut PciBus, dev| {
        let f = HostBridge(ConfigSpace::new(&HOST_BRIDGE));
        b.add(
            PciAddr {
                bus: 0,
                dev,
                func: 0,
            },
            "x",
            Box::new(f),
        )
    };
    assert!(dup(&mut b, 0).unwrap_err().contains("host bridge"));
    assert!(dup(&mut b, 32).is_err());
    assert!(dup(&mut b, 4).is_ok());
    assert_eq!(b.functions().len(), 2);
    let f = HostBridge(ConfigSpace::new(&HOST_BRIDGE));
    b.add(
        PciAddr {
            bus: 0,
            dev: 4,
            func: 2,
        },
        "x",
        Box::new(f),
    )
    .unwrap();
    b.assign(&[]).unwrap();
    assert_eq!(
        cfg32(&mut b, 4, 0xc) >> 16 & 0xff,
        0x80,
        "device 4 is multi-function"
    );
    assert_eq!(
        cfg32(&mut b, 0, 0xc) >> 16 & 0xff,
        0,
        "the host bridge is not"
    );
    assert_eq!(b.mmio_windows(), vec![(MMIO_START, MMIO_END - 1)]);
    let busy = [
        (Space::Mem, ECAM_BASE, ECAM_LEN),
        (Space::Mem, 0xf800_0000, 0x100),
        (Space::Io, 0xc000_0000, 0x1000),
        (Space::Mem, 0, 0xc800_0000),
    ];
    assert_eq!(
        free(&busy, MMIO_START, MMIO_END),
        vec![
            (0xc800_0000, ECAM_BASE - 1),
            (ECAM_BASE + ECAM_LEN, 0xf7ff_ffff),
            (0xf800_0100, MMIO_END - 1)
        ]
    );
}

/// The LAPIC IRR bit of `vector` on `vcpu`.
fn irr(vcpu: &kvm_ioctls::VcpuFd, vector: u8) -> bool {
    let lapic = vcpu.get_lapic().unwrap();
    let at = 0x200 + usize::from(vector / 32) * 16;
    let word = u32::from_le_bytes([0, 1, 2, 3].map(|i| lapic.regs[at + i] as u8));
    word & (1 << (vector % 32)) != 0
}

#[test]
fn msix_vectors_become_kvm_msi_routes_that_reach_the_lapic() {
    if !testkit::kvm() {
        return;
    }
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let vm = Arc::new(kvm.create_vm().unwrap());
    vm.create_irq_chip().unwrap();
    let vcpu = vm.create_vcpu(0).unwrap();
    let mut lapic = vcpu.get_lapic().unwrap();
    lapic.regs[0xf0] = 0xff_u8 as _; // SVR: software enabled, spurious 0xff
    lapic.regs[0xf1] = 1;
    vcpu.set_lapic(&lapic).unwrap();
    let (controllers, _) = crate::irq::Controllers::new(&[]);
    let routes = Arc::new(crate::irq::Routes::new(vm.clone(), &controllers));
    let sink = msi::KvmMsi::new(routes.clone());
    let to_cpu0 = |vector: u32| {
        Some(MsiMessage {
            addr: 0xfee0_0000,
            data: vector,
        })
    };
    sink.route(0, to_cpu0(0x41)).unwrap();
    sink.route(1, None).unwrap(); // never routed: takes no GSI
    sink.route(2, to_cpu0(0x42)).unwrap();
    assert_eq!(
        routes.allocate().unwrap(),
        26,
        "vectors 0 and 2 took GSIs 24 and 25"
    );
    assert!(!irr(&vcpu, 0x41));
    sink.signal(0).unwrap();
    sink.signal(1).unwrap();
    let t = std::time::Instant::now();
    while !irr(&vcpu, 0x41) && t.elapsed() < std::time::Duration::from_secs(2) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(irr(&vcpu, 0x41), "vector 0's message reached the LAPIC");
    assert!(!irr(&vcpu, 0x42), "vector 2 was not signalled");
    // a withdrawn route delivers nothing
    sink.route(2, None).unwrap();
    sink.signal(2).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!irr(&vcpu, 0x42));
}

#[test]
fn random_accesses_never_panic_and_keep_the_ids() {
    let (mut b, _) = bus(Arc::default());
    b.assign(&[]).unwrap();
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..200_000 {
        let r = next();
        let len = [1usize, 2, 4, 8][(r & 3) as usize];
        let mut data = (r >> 16).to_le_bytes();
        let data = &mut data[..len];
        let off = (r >> 20) & 0xf_ffff;
        match (r >> 4) & 7 {
            0 => b.ports_write(off & 7, data).map(|_| ()).unwrap(),
            1 => b.ports_read(off & 7, data),
            2 => b.ecam_write(off, data).unwrap(),
            3 => b.ecam_read(off, data),
            4 => {
                let addr = MMIO_START + (off << 4);
                let _ = b.bar_access(Space::Mem, addr, None, Some(data));
            }
            5 => {
                let _ = b.bar_access(Space::Io, off & 0xffff, Some(data), None);
            }
            _ => {
                let addr = MMIO_START + (off << 4);
                let _ = b.bar_access(Space::Mem, addr, Some(data), None);
            }
        }
    }
    assert_eq!(cfg32(&mut b, 0, 0), 0x29c0_8086);
    assert_eq!(cfg32(&mut b, 2, 0), 0x1000_1af4);
    for m in b.mappings() {
        let limit = if m.space == Space::Io {
            0x1_0000
        } else {
            u64::MAX
        };
        assert!(m.base != 0 && m.base.checked_add(m.len).is_some_and(|e| e <= limit));
    }
}
