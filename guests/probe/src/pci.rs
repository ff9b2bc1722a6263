//! PCI checks: enumeration of bus 0 over ports 0xCF8/0xCFC (`pci`) and over
//! ECAM (`ecam=ADDR`), BAR sizing, configuration read-back (`pcicfg=DDRR`:
//! device DD, register RR) and the ACPI tables (`acpi`).

use super::{Probe, inb, inl, inw, outl, rd32};

const ADDR: u16 = 0xcf8;
const DATA: u16 = 0xcfc;

fn cf8(dev: u64, func: u64, reg: u64) -> u32 {
    0x8000_0000 | ((dev as u32) << 11) | ((func as u32) << 8) | (reg as u32 & 0xfc)
}

/// A dword of configuration space through CF8/CFC.
pub(crate) fn cfg_read(dev: u64, func: u64, reg: u64) -> u32 {
    outl(ADDR, cf8(dev, func, reg));
    inl(DATA)
}

fn cfg_write(dev: u64, func: u64, reg: u64, v: u32) {
    outl(ADDR, cf8(dev, func, reg));
    outl(DATA, v);
}


/// The functions of bus 0 (device, function) that answer, at most 32.
fn functions(read: &dyn Fn(u64, u64, u64) -> u32, out: &mut [(u8, u8); 32]) -> usize {
    let mut n = 0;
    for dev in 0..32 {
        if read(dev, 0, 0) & 0xffff == 0xffff {
            continue;
        }
        let multi = (read(dev, 0, 0xc) >> 16) & 0x80 != 0;
        for func in 0..(if multi { 8 } else { 1 }) {
            if n < out.len() && read(dev, func, 0) & 0xffff != 0xffff {
                out[n] = (dev as u8, func as u8);
                n += 1;
            }
        }
    }
    n
}

impl Probe {
    /// `pci`: list bus 0 over CF8/CFC (`dd.f=vendor:device/class`), check
    /// the byte and word data ports against dword reads, size the first
    /// memory or I/O BAR found (restoring it).
    pub(crate) fn pci(&self) {
        let mut found = [(0u8, 0u8); 32];
        let n = functions(&cfg_read, &mut found);
        let mut widths = true;
        let mut bar: Option<(u8, u8, u64, u32, u32)> = None;
        let o = self.report("pci");
        o.s("ok n=").dec(n as u64, 1);
        for &(d, f) in &found[..n] {
            let (d64, f64) = (u64::from(d), u64::from(f));
            let id = cfg_read(d64, f64, 0);
            let class = cfg_read(d64, f64, 8) >> 8;
            // the same registers a word and a byte at a time
            outl(ADDR, cf8(d64, f64, 0));
            let (lo, hi) = (inw(DATA), inw(DATA + 2));
            outl(ADDR, cf8(d64, f64, 8));
            let base_class = inb(DATA + 3);
            widths &= u32::from(lo) | (u32::from(hi) << 16) == id && u32::from(base_class) == class >> 16;
            o.s(" ").hex(d64).s(".").hex(f64).s("=").hex(u64::from(id & 0xffff)).s(":");
            o.hex(u64::from(id >> 16)).s("/").hex(u64::from(class));
            for b in 0..6u64 {
                let reg = 0x10 + 4 * b;
                let old = cfg_read(d64, f64, reg);
                cfg_write(d64, f64, reg, u32::MAX);
                let mask = cfg_read(d64, f64, reg);
                cfg_write(d64, f64, reg, old);
                if bar.is_none() && mask != 0 {
                    bar = Some((d, f, b, mask, old));
                }
            }
        }
        o.s(if widths { " widths=ok" } else { " widths=FAIL" });
        if let Some((d, f, b, mask, old)) = bar {
            let io = mask & 1 != 0;
            let size = if io { (!(mask & !3) & 0xffff) + 1 } else { !(mask & !0xf) + 1 };
            o.s(" bar=").hex(u64::from(d)).s(".").hex(u64::from(f)).s("/").dec(b, 1);
            o.s(if io { " io" } else { " mem" }).s(" size=").hex(u64::from(size)).s(" at=").hex(u64::from(old));
        }
        self.out.s("\n");
    }

    /// `ecam=ADDR`: the same enumeration through the ECAM window at ADDR,
    /// and the first 64 bytes of each function compared with CF8/CFC.
    pub(crate) fn ecam(&self, base: u64) {
        let read = |d: u64, f: u64, r: u64| rd32(base + (d << 15) + (f << 12) + r);
        let mut found = [(0u8, 0u8); 32];
        let n = functions(&read, &mut found);
        let mut legacy = [(0u8, 0u8); 32];
        let same_list = functions(&cfg_read, &mut legacy) == n && legacy[..n] == found[..n];
        let mut mismatch = None;
        for &(d, f) in &found[..n] {
            for r in (0..64).step_by(4) {
                let (d, f) = (u64::from(d), u64::from(f));
                if mismatch.is_none() && read(d, f, r) != cfg_read(d, f, r) {
                    mismatch = Some((d, f, r));
                }
            }
        }
        // extended space: readable through ECAM only (zero here)
        let ext = read(0, 0, 0x100);
        let o = self.report("ecam");
        match (same_list, mismatch) {
            (true, None) => o.s("ok n=").dec(n as u64, 1).s(" same as cf8 ext=").hex(u64::from(ext)),
            (false, _) => o.s("FAIL the function lists differ"),
            (true, Some((d, f, r))) => o.s("FAIL ").hex(d).s(".").hex(f).s("+").hex(r).s(" differs"),
        };
        self.out.s("\n");
    }

    /// `pcicfg=DDRR`: the dword at register RR of device DD (function 0),
    /// then the same after writing its complement (read-only registers
    /// keep their value).
    pub(crate) fn pcicfg(&self, arg: u64) {
        let (d, r) = ((arg >> 8) & 0x1f, arg & 0xfc);
        let before = cfg_read(d, 0, r);
        cfg_write(d, 0, r, !before);
        let after = cfg_read(d, 0, r);
        let o = self.report("pcicfg");
        o.s("ok ").hex(d).s(".0+").hex(r).s("=").hex(u64::from(before));
        o.s(" after-write=").hex(u64::from(after)).s("\n");
    }

}

/// The byte sum of `len` bytes at `addr`.
fn sum(addr: u64, len: u64) -> u8 {
    (0..len).fold(0u8, |a, i| a.wrapping_add(super::rd8(addr + i)))
}

/// The first 16-byte aligned `sig` in `from..to`.
fn scan(sig: &[u8], from: u64, to: u64) -> Option<u64> {
    (from..to)
        .step_by(16)
        .find(|&a| sig.iter().enumerate().all(|(i, &c)| super::rd8(a + i as u64) == c))
}

/// `sig` where guests look: the first KiB of the EBDA (its segment at
/// 0x40E), then 0xE0000–0xFFFFF.
fn find(sig: &[u8]) -> Option<u64> {
    let ebda = (u64::from(super::rd8(0x40e)) | (u64::from(super::rd8(0x40f)) << 8)) << 4;
    let in_ebda = if ebda >= 0x8_0000 { scan(sig, ebda, ebda + 0x400) } else { None };
    in_ebda.or_else(|| scan(sig, 0xe_0000, 0x10_0000))
}

impl Probe {
    /// `acpi`: find the RSDP (EBDA, then 0xE0000–0xFFFFF), check its checksums and
    /// every table the XSDT lists (and the DSDT), name them, read the ECAM
    /// base from the MCFG and count the LAPICs and IOAPICs of the MADT; then
    /// the MP floating pointer and configuration table's checksums.
    pub(crate) fn acpi(&self) {
        let o = self.report("acpi");
        let Some(rsdp) = find(b"RSD PTR ") else {
            o.s("FAIL no RSDP\n");
            return;
        };
        if sum(rsdp, 20) != 0 || sum(rsdp, 36) != 0 {
            o.s("FAIL RSDP checksum\n");
            return;
        }
        let xsdt = super::rd64(rsdp + 24);
        let xlen = u64::from(rd32(xsdt + 4));
        if sum(xsdt, xlen) != 0 || xlen < 36 || xlen > 0x1000 {
            o.s("FAIL XSDT\n");
            return;
        }
        let (mut bad, mut ecam, mut lapics, mut ioapics, mut dsdt_ok) = (0, 0, 0, 0, false);
        o.s("ok rsdp=").hex(rsdp).s(" tables=");
        for i in 0..(xlen - 36) / 8 {
            let t = super::rd64(xsdt + 36 + 8 * i);
            let len = u64::from(rd32(t + 4));
            let sig = rd32(t).to_le_bytes();
            if len > 0x1_0000 || sum(t, len) != 0 {
                bad += 1;
            }
            o.bytes(&sig).s(",");
            match &sig {
                b"MCFG" => ecam = super::rd64(t + 44),
                b"APIC" => {
                    let mut at = t + 44;
                    while at + 2 <= t + len && super::rd8(at + 1) >= 2 {
                        match super::rd8(at) {
                            0 => lapics += 1,
                            1 => ioapics += 1,
                            _ => {}
                        }
                        at += u64::from(super::rd8(at + 1));
                    }
                }
                b"FACP" => {
                    let d = super::rd64(t + 140);
                    dsdt_ok = rd32(d) == u32::from_le_bytes(*b"DSDT") && sum(d, u64::from(rd32(d + 4))) == 0;
                }
                _ => {}
            }
        }
        o.s(" bad=").dec(bad, 1).s(if dsdt_ok { " dsdt=ok" } else { " dsdt=FAIL" });
        o.s(" ecam=").hex(ecam).s(" lapics=").dec(lapics, 1).s(" ioapics=").dec(ioapics, 1);
        let mp = find(b"_MP_").filter(|&f| sum(f, 16) == 0).map(|f| u64::from(rd32(f + 4)));
        let mp_ok = mp.is_some_and(|c| {
            let len = u64::from(rd32(c + 4) & 0xffff);
            rd32(c) == u32::from_le_bytes(*b"PCMP") && sum(c, len) == 0
        });
        o.s(if mp_ok { " mp=ok\n" } else { " mp=FAIL\n" });
    }
}

impl Probe {
    /// `pcibench=N`: N dword reads of 00:00.0's IDs over CF8/CFC (an OUT
    /// and an IN each) between progress milestones 20 and 21, then N over
    /// ECAM at 0xE0000000 (one MMIO read each) up to milestone 22; the
    /// VMM's log times the milestones.
    pub(crate) fn pcibench(&self, n: u64) {
        outl(self.progress, 20);
        let mut x = 0u32;
        for _ in 0..n {
            x ^= cfg_read(0, 0, 0);
        }
        outl(self.progress, 21);
        for _ in 0..n {
            x ^= rd32(0xe000_0000);
        }
        outl(self.progress, 22);
        let o = self.report("pcibench");
        // the same value read 2N times XORs to zero
        o.s(if x == 0 { "ok " } else { "FAIL " }).dec(n, 1).s(" reads each\n");
    }
}

impl Probe {
    /// `pcifuzz=N`: N random configuration writes (random function,
    /// register, width and value) over CF8/CFC and ECAM and random reads of
    /// the PCI hole, then the host bridge's IDs read back.
    pub(crate) fn pcifuzz(&self, n: u64) {
        let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ n;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..n {
            let r = next();
            let (dev, func, reg) = ((r >> 8) & 0x1f, (r >> 13) & 7, (r >> 16) & 0xff);
            let v = (r >> 32) as u32;
            match r & 7 {
                0 => super::outb(DATA + (reg & 3) as u16, v as u8),
                1 => {
                    outl(ADDR, cf8(dev, func, reg));
                    outl(DATA, v);
                }
                2 => outl(ADDR, v),
                3 => super::wr32(0xe000_0000 + ((r >> 8) & 0xf_fffc), v),
                4 => {
                    let _ = rd32(0xc000_0000 + ((r >> 8) & 0x3fff_fffc));
                }
                5 => {
                    let _ = inl(DATA);
                }
                _ => {
                    outl(ADDR, cf8(dev, func, reg));
                    super::outb(DATA + (reg & 3) as u16, v as u8);
                }
            }
        }
        let id = cfg_read(0, 0, 0);
        let o = self.report("pcifuzz");
        o.s(if id == 0x29c0_8086 { "ok " } else { "FAIL " }).dec(n, 1).s(" accesses, bridge=").hex(u64::from(id));
        self.out.s("\n");
    }
}
