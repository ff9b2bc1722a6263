//! Timer devices: the IB700 watchdog (`wdt`) and the HPET (`hpet=ADDR`).

use core::sync::atomic::Ordering;

use crate::{Probe, TICKS, TIMER_VECTOR, inb, outb, outl, rd64, rdtsc, wr64};

/// The IB700's start/pet port; a write of 14 selects its 2 s timeout.
const WDT_START: u16 = 0x443;
const WDT_2S: u8 = 14;
/// HPET registers and timer configuration bits.
const HPET_CONF: u64 = 0x10;
const HPET_COUNTER: u64 = 0xf0;
const HPET_LEGACY: u64 = 2;
const HPET_T0: u64 = 0x100;
const T_ENABLE: u64 = 1 << 2;
const T_PERIODIC: u64 = 1 << 3;
const T_VAL_SET: u64 = 1 << 6;
/// Periodic interrupts the `hpet` check counts, 10 ms apart.
const HPET_IRQS: u32 = 20;
/// Milestones around the counted interrupts.
pub(crate) const HPET_MILESTONE: u32 = 0x710;


/// Pets after the first start: one at each of the RTC's next seconds.
const PETS: u32 = 4;
/// Milestone of pet `i` (the test times them on the VMM's log).
pub(crate) const PET_MILESTONE: u32 = 0x700;

fn rtc_seconds() -> u8 {
    outb(0x70, 0);
    inb(0x71)
}

fn spin(cycles: u64) {
    let t = rdtsc();
    while rdtsc().wrapping_sub(t) < cycles {
        core::hint::spin_loop();
    }
}

/// Waits for the RTC's seconds to change (at most ~3e9 TSC cycles).
fn next_second() {
    let s = rtc_seconds();
    let t = rdtsc();
    while rtc_seconds() == s && rdtsc().wrapping_sub(t) < 3_000_000_000 {
        spin(200_000);
    }
}

impl Probe {
    /// `wdt`: starts the watchdog with 2 s, pets it at each of the next
    /// [`PETS`] RTC seconds (milestones 0x700...), then stops petting and
    /// spins: the VM must end with exit 4 about 2 s after the last pet.
    pub(crate) fn wdt(&self) {
        outb(WDT_START, WDT_2S);
        next_second();
        for i in 0..PETS {
            next_second();
            outl(self.progress, PET_MILESTONE + i);
            outb(WDT_START, WDT_2S);
        }
        self.report("wdt").s("ok petted ").dec(u64::from(PETS), 1).s(" times; waiting\n");
        loop {
            spin(1_000_000);
        }
    }

    /// `hpet=ADDR`: reads the capabilities, runs timer 0 periodic at 100 Hz
    /// on the first pin its routing capability offers and counts
    /// [`HPET_IRQS`] interrupts through the ioapic; reports the counter's
    /// ticks across them. `hpet-legacy=PIN`: the same with the HPET at
    /// 0xfed00000 in legacy replacement mode, where timer 0 interrupts as
    /// the 8254 does, on IOAPIC pin PIN (the 8254's).
    pub(crate) fn hpet(&self, base: u64, legacy: Option<u64>) {
        let caps = rd64(base);
        let period_fs = caps >> 32;
        let timers = ((caps >> 8) & 0x1f) + 1;
        let route_cap = rd64(base + HPET_T0) >> 32;
        if period_fs == 0 || period_fs > 100_000_000 || route_cap == 0 {
            self.report("hpet").s("FAIL caps=").hex(caps).s(" route-cap=").hex(route_cap).s("\n");
            return;
        }
        let own = u64::from(route_cap.trailing_zeros());
        let pin = legacy.unwrap_or(own);
        let period = 10_000_000_000_000 / period_fs; // 10 ms
        wr64(base + HPET_CONF, 0);
        wr64(base + HPET_COUNTER, 0);
        wr64(base + HPET_T0, (own << 9) | T_ENABLE | T_PERIODIC | T_VAL_SET);
        wr64(base + HPET_T0 + 8, period);
        wr64(base + HPET_T0 + 8, period);
        TICKS.store(0, Ordering::Relaxed);
        self.lapic_on();
        self.ioapic_route(pin, TIMER_VECTOR);
        outl(self.progress, HPET_MILESTONE);
        wr64(base + HPET_CONF, if legacy.is_some() { HPET_LEGACY | 1 } else { 1 });
        let got = self.wait_for(&TICKS, HPET_IRQS);
        let ticks = rd64(base + HPET_COUNTER);
        wr64(base + HPET_CONF, 0);
        outl(self.progress, HPET_MILESTONE + 1);
        self.ioapic_mask(pin);
        let o = self.report(if legacy.is_some() { "hpet-legacy" } else { "hpet" });
        o.s(if got >= HPET_IRQS { "ok " } else { "FAIL " }).dec(u64::from(got), 1);
        o.s(" irqs via ioapic pin ").dec(pin, 1).s(" in ").dec(ticks, 1).s(" ticks of ");
        o.dec(period_fs, 1).s(" fs, period ").dec(period, 1).s(" timers=").dec(timers, 1).s("\n");
    }
}
