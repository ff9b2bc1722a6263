//! The ACPI fixed hardware the FADT publishes, in ports [`PM_BASE`]..+12:
//! the PM1a event block (status, enable), the PM1a control block (SCI_EN
//! always set: the machine starts in ACPI mode; SLP_TYP 5 with SLP_EN is
//! soft off, as `\_S5` says) and the 24-bit PM timer at 3.579545 MHz.

use std::time::Instant;

use vdev::{Device, Effect, Error, le_value, put_le};

use super::{PM_BASE, PM_TMR};

/// The PM timer's frequency.
const PM_TIMER_HZ: u128 = 3_579_545;
/// PM1 control: SCI_EN.
const SCI_EN: u16 = 1;
/// PM1 control: SLP_EN.
const SLP_EN: u16 = 1 << 13;

/// The PM1a blocks and the PM timer.
pub(crate) struct Pm {
    status: u16,
    enable: u16,
    control: u16,
    start: Instant,
}

impl Pm {
    /// Fresh registers; the timer counts from now.
    pub(crate) fn new() -> Pm {
        Pm {
            status: 0,
            enable: 0,
            control: SCI_EN,
            start: Instant::now(),
        }
    }

    /// The ports the device answers (from [`PM_BASE`]).
    pub(crate) const LEN: u64 = PM_TMR - PM_BASE + 4;

    fn timer(&self) -> u32 {
        let ticks = self.start.elapsed().as_nanos() * PM_TIMER_HZ / 1_000_000_000;
        (ticks as u32) & 0x00ff_ffff
    }
}

impl Device for Pm {
    fn read(&mut self, _: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let regs = [
            u64::from(self.status) | (u64::from(self.enable) << 16),
            u64::from(self.control),
            u64::from(self.timer()),
        ];
        let v = regs.get((offset / 4) as usize).copied().unwrap_or(0);
        put_le(data, v >> ((offset % 4) * 8));
        Ok(())
    }

    fn write(&mut self, _: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = (le_value(data) << ((offset % 4) * 8)) as u32;
        let mask = (((1u64 << (8 * data.len().min(4))) - 1) << ((offset % 4) * 8)) as u32;
        match offset / 4 {
            0 => {
                self.status &= !((v & mask) as u16); // write one to clear
                if mask >> 16 != 0 {
                    self.enable = (v >> 16) as u16;
                }
            }
            1 => {
                let c = (v & mask & 0xffff) as u16;
                if c & SLP_EN != 0 && (c >> 10) & 7 == 5 {
                    return Ok(Effect::PowerOff);
                }
                self.control = (c & !SLP_EN) | SCI_EN;
            }
            _ => {}
        }
        Ok(Effect::None)
    }
}
