//! Timer devices: the IB700 watchdog (`wdt`) and the HPET (`hpet=ADDR`).

use crate::{Probe, inb, outb, outl, rdtsc};

/// The IB700's start/pet port; a write of 14 selects its 2 s timeout.
const WDT_START: u16 = 0x443;
const WDT_2S: u8 = 14;
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
}
