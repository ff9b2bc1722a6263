//! `mc146818`: the CMOS real-time clock and its 128 bytes of RAM at ports
//! 0x70 (index; bit 7 is the NMI mask) and 0x71 (data).
//!
//! The clock shows the host's real time (UTC). Register B selects BCD or
//! binary (bit 2) and 12- or 24-hour (bit 1) formats, as on the chip; the
//! default is 0x02 (24-hour, BCD). `reg index,value` presets a register, e.g.
//! `reg 0x0b,0x06` for binary. A guest that writes the time moves its own
//! clock: the VMM keeps the difference to the host's time.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::decl::{Applied, Arch, DeviceDecl, OptDecl, Repeat, ValueType};
use crate::{Context, Created, Device, Effect, Error, Range, Space, Value, VdevSpec, io_base};

/// `reg index,value`: a register preset.
pub const REG: OptDecl = OptDecl::new(
    "reg",
    ValueType::RtcReg,
    "preset a CMOS register (e.g. `reg 0x0b,0x06`: binary time)",
)
.key("regs")
.repeat(Repeat::Many)
.hvhost(Applied::Runs);

/// What `mc146818` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("mc146818", "CMOS real-time clock and RAM")
    .arch(Arch::X86_64)
    .ports(2, Some(0x70))
    .options(&[REG]);

/// The `reg` presets of a spec, checked.
fn presets(spec: &VdevSpec) -> Result<Vec<(u8, u8)>, Error> {
    let mut regs = Vec::new();
    for v in spec.values(&REG) {
        if let Value::RtcReg(index, value) = *v {
            if index >= 128 {
                return Err(spec.bad(format!(
                    "reg {index:#x},{value:#x}: index < 0x80 and value < 0x100"
                )));
            }
            regs.push((index, value));
        }
    }
    Ok(regs)
}

const SEC: usize = 0x00;
const MIN: usize = 0x02;
const HOUR: usize = 0x04;
const WDAY: usize = 0x06;
const MDAY: usize = 0x07;
const MON: usize = 0x08;
const YEAR: usize = 0x09;
const REG_A: usize = 0x0a;
const REG_B: usize = 0x0b;
const REG_C: usize = 0x0c;
const REG_D: usize = 0x0d;
const CENTURY: usize = 0x32;

/// The RTC.
pub struct Mc146818 {
    ram: [u8; 128],
    index: usize,
    /// Guest time minus host time, in seconds.
    offset: i64,
}

/// Build an `mc146818` from its `vdev` line.
pub fn create(spec: &VdevSpec, ctx: &Context) -> Result<Created, Error> {
    Ok(Created::Bus {
        ranges: ranges(spec)?,
        device: device(spec, ctx)?,
    })
}

/// Ports 0x70/0x71 (or `loc`), after checking the `reg` presets.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let base = io_base(spec, DECL.default_loc)?;
    presets(spec)?;
    Ok(vec![Range {
        space: Space::Io,
        base,
        len: 2,
    }])
}

pub(crate) fn device(spec: &VdevSpec, _ctx: &Context) -> Result<Box<dyn Device>, Error> {
    let mut ram = [0u8; 128];
    ram[REG_A] = 0x26;
    ram[REG_B] = 0x02;
    ram[REG_D] = 0x80;
    for (index, value) in presets(spec)? {
        ram[usize::from(index)] = value;
    }
    Ok(Box::new(Mc146818 {
        ram,
        index: 0,
        offset: 0,
    }))
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1–12, day 1–31) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn host_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => 0,
    }
}

impl Mc146818 {
    fn binary(&self) -> bool {
        self.ram[REG_B] & 0x04 != 0
    }
    fn h24(&self) -> bool {
        self.ram[REG_B] & 0x02 != 0
    }
    fn enc(&self, v: u32) -> u8 {
        if self.binary() {
            v as u8
        } else {
            ((v / 10) << 4 | (v % 10)) as u8
        }
    }
    fn dec(&self, v: u8) -> u32 {
        if self.binary() {
            u32::from(v)
        } else {
            u32::from(v >> 4) * 10 + u32::from(v & 0xf)
        }
    }

    /// The guest's clock as (seconds since the epoch).
    fn now(&self) -> i64 {
        host_now() + self.offset
    }

    fn time_reg(&self, index: usize) -> u8 {
        let t = self.now();
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        match index {
            SEC => self.enc(secs % 60),
            MIN => self.enc(secs / 60 % 60),
            HOUR => {
                let h = secs / 3600;
                if self.h24() {
                    self.enc(h)
                } else {
                    let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
                    self.enc(h12) | if h >= 12 { 0x80 } else { 0 }
                }
            }
            WDAY => self.enc(((days + 4).rem_euclid(7) + 1) as u32),
            MDAY => self.enc(d),
            MON => self.enc(m),
            YEAR => self.enc(y.rem_euclid(100) as u32),
            CENTURY => self.enc(y.div_euclid(100) as u32),
            _ => self.ram[index],
        }
    }

    fn set_time_reg(&mut self, index: usize, value: u8) {
        let read = |r| self.time_reg(r);
        let mut f = [SEC, MIN, HOUR, MDAY, MON, YEAR, CENTURY].map(read);
        let slot = match index {
            SEC => 0,
            MIN => 1,
            HOUR => 2,
            MDAY => 3,
            MON => 4,
            YEAR => 5,
            CENTURY => 6,
            _ => return,
        };
        f[slot] = value;
        let mut hour = self.dec(f[2] & 0x7f);
        if !self.h24() {
            hour = hour % 12 + if f[2] & 0x80 != 0 { 12 } else { 0 };
        }
        let year = i64::from(self.dec(f[6])) * 100 + i64::from(self.dec(f[5]));
        let (mon, mday) = (self.dec(f[4]).clamp(1, 12), self.dec(f[3]).clamp(1, 31));
        let t = days_from_civil(year, mon, mday) * 86_400
            + i64::from(hour) * 3600
            + i64::from(self.dec(f[1])) * 60
            + i64::from(self.dec(f[0]));
        self.offset = t - host_now();
    }
}

impl Device for Mc146818 {
    fn read(&mut self, range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let _ = range;
        let v = if offset == 0 {
            0xff
        } else {
            match self.index {
                SEC | MIN | HOUR | WDAY | MDAY | MON | YEAR | CENTURY => self.time_reg(self.index),
                REG_A => self.ram[REG_A] & 0x7f,
                REG_C => std::mem::take(&mut self.ram[REG_C]),
                i => self.ram[i],
            }
        };
        data.fill(0);
        if let Some(d) = data.first_mut() {
            *d = v;
        }
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let v = data.first().copied().unwrap_or(0);
        if offset == 0 {
            self.index = usize::from(v & 0x7f);
            return Ok(Effect::None);
        }
        match self.index {
            SEC | MIN | HOUR | MDAY | MON | YEAR | CENTURY => self.set_time_reg(self.index, v),
            REG_C | REG_D => {}
            i => self.ram[i] = v,
        }
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_423), (2025, 12, 1));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    fn spec(regs: &[(u8, u8)]) -> VdevSpec {
        let mut spec = VdevSpec::new(crate::VdevKind::Mc146818);
        for &(i, v) in regs {
            spec.options
                .push(crate::OptionValue::new("reg", Value::RtcReg(i, v)));
        }
        spec
    }

    fn rtc(regs: Vec<(u8, u8)>) -> Mc146818 {
        let spec = spec(&regs);
        let ctx = crate::Context::new(crate::Logger::new(
            &Default::default(),
            "t",
            std::time::Instant::now(),
        ))
        .expect("context");
        let Ok(Created::Bus { .. }) = create(&spec, &ctx) else {
            panic!("not a bus device")
        };
        let mut ram = [0u8; 128];
        ram[REG_A] = 0x26;
        ram[REG_B] = 0x02;
        for (i, v) in regs {
            ram[usize::from(i)] = v;
        }
        Mc146818 {
            ram,
            index: 0,
            offset: 0,
        }
    }

    fn get(r: &mut Mc146818, i: u8) -> u8 {
        r.write(0, 0, &[i]).unwrap();
        let mut b = [0u8];
        r.read(0, 1, &mut b).unwrap();
        b[0]
    }

    #[test]
    fn guest_sets_its_clock() {
        let mut r = rtc(vec![(0x0b, 0x06)]);
        assert_eq!(get(&mut r, 0x0b), 0x06);
        for (reg, v) in [
            (0x32u8, 19u8),
            (0x09, 99),
            (0x08, 12),
            (0x07, 31),
            (0x04, 23),
            (0x02, 59),
        ] {
            r.write(0, 0, &[reg]).unwrap();
            r.write(0, 1, &[v]).unwrap();
        }
        assert_eq!(get(&mut r, 0x09), 99);
        assert_eq!(get(&mut r, 0x32), 19);
        assert_eq!(get(&mut r, 0x08), 12);
        assert_eq!(get(&mut r, 0x04), 23);
    }

    #[test]
    fn bad_preset_is_config_error() {
        let spec = spec(&[(0x80, 1)]);
        let ctx = crate::Context::new(crate::Logger::new(
            &Default::default(),
            "t",
            std::time::Instant::now(),
        ))
        .expect("context");
        let Err(e) = create(&spec, &ctx) else {
            panic!("accepted reg 0x80")
        };
        assert!(e.is_config());
    }
}
