use super::*;

fn machine() -> Machine {
    Machine {
        cpus: 2,
        ioapic: Some(0xfec0_0000),
        pit_pin: Some(2),
        pic: true,
        i8042: true,
        rtc: true,
        legacy_devices: true,
        hpet: Some(0xfed0_0000),
        ecam: Some(pci::ECAM_BASE),
        mmio_windows: vec![(0xc000_0000, 0xdfff_ffff), (0xe010_0000, 0xfebf_ffff)],
        pci: vec![PciFn {
            dev: 3,
            pin: 1,
            gsi: 19,
        }],
    }
}

fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// The table at `addr` among the built ones.
fn at(tables: &[(u64, Vec<u8>)], addr: u64) -> &[u8] {
    &tables
        .iter()
        .find(|t| t.0 == addr)
        .expect("a table there")
        .1
}

#[test]
fn every_table_sums_to_zero_and_the_rsdp_leads_to_them() {
    let t = build(&machine());
    let rsdp = at(&t, TABLES);
    assert_eq!(&rsdp[..8], b"RSD PTR ");
    assert_eq!(sum(&rsdp[..20]), 0, "ACPI 1.0 checksum");
    assert_eq!(sum(rsdp), 0, "extended checksum");
    assert_eq!(
        (rsdp[15], u32_at(rsdp, 20)),
        (2, 36),
        "revision 2, 36 bytes"
    );
    let xsdt = at(&t, u64_at(rsdp, 24));
    let rsdt = at(&t, u64::from(u32_at(rsdp, 16)));
    assert_eq!((&xsdt[..4], &rsdt[..4]), (&b"XSDT"[..], &b"RSDT"[..]));
    let n = (xsdt.len() - 36) / 8;
    assert_eq!((rsdt.len() - 36) / 4, n);
    let mut sigs = Vec::new();
    for i in 0..n {
        let a = u64_at(xsdt, 36 + 8 * i);
        assert_eq!(
            u64::from(u32_at(rsdt, 36 + 4 * i)),
            a,
            "RSDT and XSDT agree"
        );
        let tb = at(&t, a);
        assert_eq!(u32_at(tb, 4) as usize, tb.len(), "length field");
        assert_eq!(
            sum(tb),
            0,
            "{:?} checksum",
            String::from_utf8_lossy(&tb[..4])
        );
        assert!(a.is_multiple_of(8) && a + tb.len() as u64 <= TABLES + TABLES_LEN);
        sigs.push(String::from_utf8_lossy(&tb[..4]).to_string());
    }
    assert_eq!(sigs, ["FACP", "APIC", "MCFG", "HPET"]);
    for (a, b) in &t {
        assert!(*a >= TABLES && a + b.len() as u64 <= TABLES + TABLES_LEN);
    }
    let mut spans: Vec<(u64, u64)> = t.iter().map(|(a, b)| (*a, a + b.len() as u64)).collect();
    spans.sort_unstable();
    assert!(
        spans.windows(2).all(|w| w[0].1 <= w[1].0),
        "no two tables overlap"
    );
}

#[test]
fn fadt_layout() {
    let t = build(&machine());
    let rsdp = at(&t, TABLES);
    let xsdt = at(&t, u64_at(rsdp, 24));
    let f = at(&t, u64_at(xsdt, 36));
    assert_eq!((&f[..4], f.len(), f[8], f[131]), (&b"FACP"[..], 276, 6, 5));
    let facs = at(&t, u64_at(f, 132));
    assert_eq!((&facs[..4], u32_at(facs, 4)), (&b"FACS"[..], 64));
    assert_eq!(u64_at(f, 132), u64::from(u32_at(f, 36)));
    assert_eq!(u64_at(f, 132) % 64, 0, "FACS 64-byte aligned");
    let dsdt = at(&t, u64_at(f, 140));
    assert_eq!(&dsdt[..4], b"DSDT");
    assert_eq!(sum(dsdt), 0);
    assert_eq!(u16::from_le_bytes([f[46], f[47]]), 9, "SCI_INT");
    assert_eq!(u32_at(f, 56), 0x600, "PM1a_EVT_BLK");
    assert_eq!(u32_at(f, 64), 0x604, "PM1a_CNT_BLK");
    assert_eq!(u32_at(f, 76), 0x608, "PM_TMR_BLK");
    assert_eq!(&f[88..92], &[4, 2, 0, 4]);
    assert_eq!(f[108], 0x32, "century");
    assert_eq!(
        u16::from_le_bytes([f[109], f[110]]),
        0b111,
        "legacy, 8042, no VGA"
    );
    assert_eq!(u32_at(f, 112) & (1 << 20), 0, "not hardware-reduced");
    assert_ne!(u32_at(f, 112) & (1 << 10), 0, "RESET_REG_SUP");
    assert_eq!(
        (f[116], f[117], u64_at(f, 120), f[128]),
        (1, 8, 0xcf9, 6),
        "reset register"
    );
    assert_eq!((f[208], u64_at(f, 212)), (1, 0x608), "X_PM_TMR_BLK");
}

#[test]
fn madt_mcfg_hpet_layouts() {
    let t = build(&machine());
    let rsdp = at(&t, TABLES);
    let xsdt = at(&t, u64_at(rsdp, 24));
    let m = at(&t, u64_at(xsdt, 44));
    assert_eq!(
        (u32_at(m, 36), u32_at(m, 40)),
        (0xfee0_0000, 1),
        "LAPIC, PCAT_COMPAT"
    );
    let mut entries = Vec::new();
    let mut i = 44;
    while i < m.len() {
        entries.push(m[i..i + usize::from(m[i + 1])].to_vec());
        i += usize::from(m[i + 1]);
    }
    assert_eq!(i, m.len(), "entries fill the table exactly");
    assert_eq!(entries[0], [0, 8, 0, 0, 1, 0, 0, 0]);
    assert_eq!(entries[1], [0, 8, 1, 1, 1, 0, 0, 0]);
    assert_eq!(entries[2][..2], [1, 12]);
    assert_eq!(u32_at(&entries[2], 4), 0xfec0_0000);
    assert_eq!(entries[3], [2, 10, 0, 0, 2, 0, 0, 0, 0, 0], "IRQ0 → GSI 2");
    assert_eq!(
        entries[4],
        [2, 10, 0, 9, 9, 0, 0, 0, 0xd, 0],
        "SCI level, high"
    );
    assert_eq!(entries[5], [4, 6, 0xff, 0, 0, 1], "LINT1 NMI");
    let mc = at(&t, u64_at(xsdt, 52));
    assert_eq!(
        (mc.len(), u64_at(mc, 44), mc[54], mc[55]),
        (60, pci::ECAM_BASE, 0, 0)
    );
    let h = at(&t, u64_at(xsdt, 60));
    assert_eq!(h.len(), 56);
    assert_eq!(u32_at(h, 36) >> 16, 0x8086);
    assert_eq!(
        (h[40], u64_at(h, 44)),
        (0, 0xfed0_0000),
        "memory space, base"
    );
}

#[test]
fn dsdt_has_the_pci_root_its_resources_and_routing() {
    let d = dsdt::dsdt(&machine());
    let find = |pat: &[u8]| d.windows(pat.len()).position(|w| w == pat);
    assert!(find(b"PCI0").is_some() && find(b"_PRT").is_some() && find(b"_CRS").is_some());
    assert!(find(b"_S5_").is_some());
    // EISAID("PNP0A08") as AML: DWordPrefix 0x0c, then 0x080ad041
    assert!(find(&[0x0c, 0x41, 0xd0, 0x0a, 0x08]).is_some(), "PNP0A08");
    // device 3's INTA# wired to 19: Package { 0x0003ffff, 0, 0, 19 }
    // PackageOp, PkgLength 11 (itself, the count and 9 bytes of elements), 4 elements
    let entry = [
        0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x13,
    ];
    assert!(find(&entry).is_some(), "the _PRT entry of 03 INTA#");
    // a DWordMemory window from 0xc0000000
    assert!(find(&[0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf]).is_some());
}

#[test]
fn mp_table_layout() {
    let t = build(&machine());
    let f = at(&t, TABLES + 0x40);
    assert_eq!(
        (&f[..4], f.len(), f[8], f[9], sum(f)),
        (&b"_MP_"[..], 16, 1, 4, 0)
    );
    let c = at(&t, u64::from(u32_at(f, 4)));
    assert_eq!(&c[..4], b"PCMP");
    assert_eq!(usize::from(u16::from_le_bytes([c[4], c[5]])), c.len());
    assert_eq!(sum(c), 0);
    let count = u16::from_le_bytes([c[34], c[35]]);
    let mut i = 44;
    let mut n = 0;
    let mut pci_irqs = Vec::new();
    while i < c.len() {
        let len = if c[i] == 0 { 20 } else { 8 };
        if c[i] == 3 && c[i + 4] == 0 {
            pci_irqs.push((c[i + 5], c[i + 7]));
        }
        i += len;
        n += 1;
    }
    assert_eq!((i, n), (c.len(), usize::from(count)));
    assert_eq!(pci_irqs, vec![(3 << 2, 19)], "device 3 INTA# → pin 19");
}

#[test]
fn pm_registers() {
    use vdev::Device;
    let mut pm = pm::Pm::new();
    let mut b = [0u8; 2];
    pm.read(0, 4, &mut b).expect("read");
    assert_eq!(u16::from_le_bytes(b), 1, "SCI_EN");
    let mut t1 = [0u8; 4];
    pm.read(0, 8, &mut t1).expect("read");
    std::thread::sleep(std::time::Duration::from_millis(2));
    let mut t2 = [0u8; 4];
    pm.read(0, 8, &mut t2).expect("read");
    let d = u32::from_le_bytes(t2).wrapping_sub(u32::from_le_bytes(t1)) & 0xff_ffff;
    assert!(
        d >= 7000,
        "the PM timer runs at 3.58 MHz: {d} ticks in 2 ms"
    );
    assert_eq!(
        pm.write(0, 4, &((1u16 << 10) | (1 << 13)).to_le_bytes())
            .expect("write"),
        vdev::Effect::None
    );
    assert_eq!(
        pm.write(0, 4, &((5u16 << 10) | (1 << 13)).to_le_bytes())
            .expect("write"),
        vdev::Effect::PowerOff
    );
}
