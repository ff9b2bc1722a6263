use std::sync::{Arc, Mutex};

use super::*;

const IDS: Ids = Ids {
    vendor: 0x1af4,
    device: 0x1041,
    class: 0x02_0000,
    revision: 1,
    subsystem_vendor: 0x1af4,
    subsystem: 1,
    multifunction: false,
};

fn write32(c: &mut ConfigSpace, off: usize, v: u32) {
    c.write(off, &v.to_le_bytes());
}

#[test]
fn header_ids_and_read_only_fields() {
    let mut c = ConfigSpace::new(&IDS);
    assert_eq!(c.read_u32(VENDOR_ID), 0x1041_1af4);
    assert_eq!(c.read_u32(REVISION_ID), 0x0200_0001);
    write32(&mut c, VENDOR_ID, 0);
    write32(&mut c, REVISION_ID, 0);
    assert_eq!(c.read_u32(VENDOR_ID), 0x1041_1af4, "IDs are read-only");
    assert_eq!(c.read_u32(REVISION_ID), 0x0200_0001);
    c.write(COMMAND, &0xffffu16.to_le_bytes());
    assert_eq!(c.command(), 0x0547, "only the defined command bits stick");
    c.write(INTERRUPT_LINE, &[11]);
    assert_eq!(c.read_u8(INTERRUPT_LINE), 11);
    let mut b = [0u8; 4];
    c.read(CONFIG_LEN - 2, &mut b);
    assert_eq!(b, [0, 0, 0xff, 0xff], "beyond the space reads ones");
}

#[test]
fn status_error_bits_are_write_one_to_clear() {
    let mut c = ConfigSpace::new(&IDS);
    c.set_u16(STATUS, 0x8000 | 0x2000 | STATUS_INTERRUPT);
    c.write(STATUS, &0x8000u16.to_le_bytes());
    assert_eq!(c.read_u16(STATUS), 0x2000 | STATUS_INTERRUPT);
    c.write(STATUS, &0xffffu16.to_le_bytes());
    assert_eq!(
        c.read_u16(STATUS),
        STATUS_INTERRUPT,
        "the interrupt bit is read-only"
    );
}

#[test]
fn bars_are_sized_with_all_ones_and_moved() {
    let mut c = ConfigSpace::new(&IDS);
    c.set_bar(0, Bar::mem32(0x1000)).expect("bar 0");
    c.set_bar(1, Bar::io(0x20)).expect("bar 1");
    c.set_bar(2, Bar::mem64(0x4000_0000, true)).expect("bar 2");
    for i in 0..4 {
        write32(&mut c, BAR0 + 4 * i, u32::MAX);
    }
    assert_eq!(c.read_u32(BAR0), 0xffff_f000);
    assert_eq!(c.read_u32(BAR0 + 4), 0x0000_ffe1, "16-bit I/O decode");
    assert_eq!(c.read_u32(BAR0 + 8), 0xc000_000c, "64-bit prefetchable");
    assert_eq!(c.read_u32(BAR0 + 12), 0xffff_ffff);
    assert_eq!(c.read_u32(BAR0 + 16), 0, "no BAR 4");
    write32(&mut c, BAR0, 0xe000_1234);
    write32(&mut c, BAR0 + 4, 0xc041);
    write32(&mut c, BAR0 + 8, 0x4000_0000);
    write32(&mut c, BAR0 + 12, 0x1);
    assert_eq!(c.bar_address(0), Some(0xe000_1000));
    assert_eq!(c.bar_address(1), Some(0xc040));
    assert_eq!(c.bar_address(2), Some(0x1_4000_0000));
    assert_eq!(c.bar_address(4), None);
    c.set_bar_address(2, 0x2_8000_0000);
    assert_eq!(c.read_u32(BAR0 + 8), 0x8000_000c);
    assert_eq!(c.bar_address(2), Some(0x2_8000_0000));
    assert_eq!(
        c.set_bar(5, Bar::mem64(16, false)),
        Err(LayoutError::BarIndex(5))
    );
    assert_eq!(
        c.set_bar(3, Bar::mem32(24)),
        Err(LayoutError::BarSize(3, 24))
    );
    assert_eq!(c.set_bar(3, Bar::io(2)), Err(LayoutError::BarSize(3, 2)));
}

#[test]
fn capabilities_are_chained_and_walked() {
    let mut c = ConfigSpace::new(&IDS);
    assert!(c.capabilities().is_empty());
    assert_eq!(c.read_u16(STATUS) & STATUS_CAP_LIST, 0);
    let a = c.add_capability(0x09, &[1, 2, 3], &[0xff]).expect("first");
    let b = c.add_capability(0x05, &[0; 12], &[]).expect("second");
    assert_eq!((a, b), (0x40, 0x48));
    assert_eq!(c.read_u8(CAPABILITIES), 0x40);
    assert_ne!(c.read_u16(STATUS) & STATUS_CAP_LIST, 0);
    assert_eq!(c.capabilities(), vec![(0x09, 0x40), (0x05, 0x48)]);
    c.write(a + 2, &[0xaa, 0xbb]);
    assert_eq!(
        (c.read_u8(a + 2), c.read_u8(a + 3)),
        (0xaa, 2),
        "the body's write mask"
    );
    c.write(a + 1, &[0]);
    assert_eq!(c.read_u8(a + 1), 0x48, "next pointers are read-only");
    assert!(matches!(
        c.add_capability(0x10, &[0; 200], &[]),
        Err(LayoutError::CapabilityFull(_))
    ));
    // a looping list (a device bug) ends the walk
    c.set_u8(b + 1, 0x40);
    assert!(c.capabilities().len() <= 48);
}

#[derive(Default)]
struct Sink {
    routes: Mutex<Vec<(u16, Option<MsiMessage>)>>,
    signals: Mutex<Vec<u16>>,
}

impl MsiSink for Sink {
    fn route(&self, vector: u16, msg: Option<MsiMessage>) -> std::io::Result<()> {
        self.routes.lock().expect("lock").push((vector, msg));
        Ok(())
    }
    fn signal(&self, vector: u16) -> std::io::Result<()> {
        self.signals.lock().expect("lock").push(vector);
        Ok(())
    }
}

fn entry(m: &Msix, v: usize, addr: u64, data: u32, masked: bool) {
    let mut e = [0u8; 16];
    e[0..8].copy_from_slice(&addr.to_le_bytes());
    e[8..12].copy_from_slice(&data.to_le_bytes());
    e[12] = u8::from(masked);
    m.write(MsixRegion::Table(v * 16), &e).expect("write");
}

#[test]
fn msix_capability_table_masks_and_pending_bits() {
    let sink = Arc::new(Sink::default());
    let mut c = ConfigSpace::new(&IDS);
    c.set_bar(1, Bar::mem32(0x1000)).expect("bar");
    let mut m = Msix::new(3, 1, 0, 0x800, sink.clone());
    let cap = m.install(&mut c).expect("cap");
    assert_eq!(c.capabilities(), vec![(CAP_MSIX, cap)]);
    assert_eq!(c.read_u16(cap + 2), 2, "table size N-1");
    assert_eq!(c.read_u32(cap + 4), 1, "table at 0 of BAR 1");
    assert_eq!(c.read_u32(cap + 8), 0x801, "PBA at 0x800 of BAR 1");
    assert_eq!(m.region(1, 0x2c), Some(MsixRegion::Table(0x2c)));
    assert_eq!(m.region(1, 0x30), None);
    assert_eq!(m.region(1, 0x804), Some(MsixRegion::Pba(4)));
    assert_eq!(m.region(0, 0), None);
    // reset state: every vector masked
    let mut ctl = [0u8; 4];
    m.read(MsixRegion::Table(12), &mut ctl);
    assert_eq!(ctl, [1, 0, 0, 0]);
    assert!(!m.notify(0).expect("notify"), "disabled: no MSI-X");

    entry(&m, 0, 0xfee0_0000, 0x41, false);
    entry(&m, 1, 0xfee0_1000, 0x42, true);
    assert!(
        sink.routes.lock().expect("lock").is_empty(),
        "not enabled yet"
    );
    c.write(cap + 3, &[0x80]); // enable
    m.control_written(c.read_u16(cap + 2)).expect("enable");
    let routes = sink.routes.lock().expect("lock").clone();
    assert_eq!(
        routes,
        vec![(
            0,
            Some(MsiMessage {
                addr: 0xfee0_0000,
                data: 0x41
            })
        )]
    );

    assert!(m.notify(0).expect("notify"));
    assert!(m.notify(1).expect("notify"));
    assert_eq!(
        *sink.signals.lock().expect("lock"),
        vec![0],
        "vector 1 is masked"
    );
    assert!(m.pending(1));
    let mut pba = [0u8; 8];
    m.read(MsixRegion::Pba(0), &mut pba);
    assert_eq!(pba[0], 0b10);
    m.write(MsixRegion::Pba(0), &[0; 8]).expect("write");
    assert!(m.pending(1), "the PBA is read-only");
    // unmasking vector 1 sends its pending message
    m.write(MsixRegion::Table(16 + 12), &[0, 0, 0, 0])
        .expect("unmask");
    assert!(!m.pending(1));
    assert_eq!(*sink.signals.lock().expect("lock"), vec![0, 1]);
    // the function mask masks every vector and withdraws the routes
    c.write(cap + 3, &[0xc0]);
    m.control_written(c.read_u16(cap + 2)).expect("fmask");
    assert!(m.masked(0) && m.masked(1) && m.message(0).is_none());
    assert!(m.notify(0).expect("notify"));
    assert_eq!(sink.signals.lock().expect("lock").len(), 2);
    let last = sink
        .routes
        .lock()
        .expect("lock")
        .iter()
        .rev()
        .take(2)
        .cloned()
        .collect::<Vec<_>>();
    assert!(last.iter().all(|(_, m)| m.is_none()), "{last:?}");
    c.write(cap + 3, &[0x80]);
    m.control_written(c.read_u16(cap + 2))
        .expect("unmask function");
    assert_eq!(
        *sink.signals.lock().expect("lock"),
        vec![0, 1, 0],
        "pending vector 0 sent"
    );
    // out-of-range vectors and writes are ignored
    assert!(!m.notify(7).expect("notify"));
    m.write(MsixRegion::Table(3 * 16), &[1; 4]).expect("beyond");
}

#[test]
fn msix_vectors_are_raised_from_another_thread() {
    let sink = Arc::new(Sink::default());
    let mut c = ConfigSpace::new(&IDS);
    let mut m = Msix::new(1, 0, 0, 0x800, sink.clone());
    let cap = m.install(&mut c).expect("cap");
    let m = Arc::new(m);
    entry(&m, 0, 0xfee0_0000, 0x50, false);
    m.control_written(0x8000).expect("enable");
    let io = {
        let m = m.clone();
        std::thread::spawn(move || (0..100).all(|_| m.notify(0).unwrap_or(false)))
    };
    assert!(io.join().unwrap_or(false));
    assert_eq!(sink.signals.lock().expect("lock").len(), 100);
    assert_eq!(c.read_u16(cap + 2) & 0x7ff, 0, "one vector");
}
