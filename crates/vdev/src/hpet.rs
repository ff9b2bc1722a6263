//! `hpet`: the high-precision event timer of the IA-PC HPET specification
//! 1.0a, memory-mapped at `loc` (default 0xfed00000, 1 KiB).
//!
//! One block: a 64-bit main counter at `frequency` Hz (default 14318180),
//! derived from the host's monotonic clock, and three 64-bit timers with
//! comparators, each one-shot or periodic, edge- or level-triggered, in
//! 64- or 32-bit mode. Registers take 32- and 64-bit accesses:
//!
//! | offset | register |
//! |---:|---|
//! | 0x000 | capabilities and ID: revision 1, 3 timers, 64-bit counter, legacy replacement capable (unless `legacy-free`), the counter period in femtoseconds in bits 32-63 |
//! | 0x010 | configuration: bit 0 enables the counter and the timers, bit 1 legacy replacement |
//! | 0x020 | interrupt status: bit N is set when timer N fires in level mode; writing 1 clears it |
//! | 0x0f0 | main counter (counts while enabled; written, it continues from the value written) |
//! | 0x100 + 0x20·N | timer N configuration and capabilities; routing capability: the pin of the timer's `intr` |
//! | 0x108 + 0x20·N | timer N comparator |
//!
//! `intr a,b,c` gives the lines of timers 0, 1 and 2. With legacy
//! replacement on, timer 0 interrupts as the 8254 does (GSI 0: 8259 line 0
//! and the 8254's IOAPIC pin; IOAPIC pin 2 when the VM has no 8254) and
//! timer 1 as the RTC (GSI 8). Interrupts are edges on KVM irqfds; a timer
//! in level mode also sets its status bit, which stays set until the guest
//! clears it.
//!
//! Timers run on timerfds in an [`EventLoop`] on a thread of the device's
//! own, at most one expiry per timer every [`MIN_INTERVAL`] (50 µs): the vCPU's register writes only wake that thread (eventfd), which
//! re-arms the timerfds; reading the counter needs no thread at all.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};
use vmm_sys_util::timerfd::TimerFd;

use crate::decl::{Applied, Arch, DeviceDecl, OptDecl, ValueType};
use crate::event::{EventLoop, Flow, Running};
use crate::{
    Context, Device, Effect, Error, Intr, IrqLine, Range, Space, Value, VdevSpec, le_value,
    mem_base, put_le,
};

/// `frequency`.
pub const FREQUENCY: OptDecl = OptDecl::new(
    "frequency",
    ValueType::NonZero,
    "the counter's frequency in Hz",
)
.default("14318180")
.hvhost(Applied::Runs);

/// `legacy-free`.
pub const LEGACY_FREE: OptDecl = OptDecl::new(
    "legacy-free",
    ValueType::Flag,
    "no legacy replacement routing (timers 0 and 1 do not replace the 8254 and RTC)",
)
.key("legacy_free")
.hvhost(Applied::Runs);

/// Where the HPET is by default.
pub const DEFAULT_BASE: u64 = 0xfed0_0000;
/// The register block's length.
pub const LEN: u64 = 0x400;
/// Timers in the block.
pub const TIMERS: usize = 3;
/// The vendor ID in the capabilities register.
pub const VENDOR: u64 = 0x8086;
const DEFAULT_FREQUENCY: u64 = 14_318_180;
/// The shortest wait between two expiries of a timer: a guest that
/// programs a period of a few ticks gets its interrupts at most this often
/// (periods in between are skipped) rather than a thread spinning on the
/// host.
pub const MIN_INTERVAL: Duration = Duration::from_micros(50);
/// The GSI of the RTC, which timer 1 replaces.
const RTC_GSI: u32 = 8;

/// What `hpet` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("hpet", "high-precision event timer")
    .arch(Arch::X86_64)
    .memory(LEN, Some(DEFAULT_BASE))
    .options(&[FREQUENCY, LEGACY_FREE]);

const FS_PER_S: u64 = 1_000_000_000_000_000;
/// The longest counter period the specification allows: 100 ns.
const MAX_PERIOD_FS: u64 = 100_000_000;

// register offsets
const CAP: u64 = 0x000;
const CONF: u64 = 0x010;
const ISR: u64 = 0x020;
const COUNTER: u64 = 0x0f0;
const TIMER0: u64 = 0x100;

// general configuration
const ENABLE: u64 = 1;
const LEGACY: u64 = 2;

// timer configuration and capabilities
const T_LEVEL: u64 = 1 << 1;
const T_ENABLE: u64 = 1 << 2;
const T_PERIODIC: u64 = 1 << 3;
const T_PERIODIC_CAP: u64 = 1 << 4;
const T_64BIT_CAP: u64 = 1 << 5;
const T_VAL_SET: u64 = 1 << 6;
const T_32BIT: u64 = 1 << 8;
const T_ROUTE_SHIFT: u32 = 9;
const T_ROUTE: u64 = 0x1f << T_ROUTE_SHIFT;
const T_WRITABLE: u64 = T_LEVEL | T_ENABLE | T_PERIODIC | T_VAL_SET | T_32BIT | T_ROUTE;

/// The checked options of one `vdev hpet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Config {
    frequency: u64,
    legacy_free: bool,
    /// The IOAPIC pin of each timer's `intr`.
    pins: [Option<u32>; TIMERS],
}

fn config(spec: &VdevSpec) -> Result<Config, Error> {
    let frequency = match spec.value(&FREQUENCY) {
        Some(Value::Number(f)) => *f,
        _ => DEFAULT_FREQUENCY,
    };
    if frequency == 0 || FS_PER_S / frequency > MAX_PERIOD_FS || frequency > FS_PER_S {
        return Err(spec.bad(format!(
            "frequency {frequency} Hz: the HPET counts at 10 MHz or more (a period of at most 100 ns)"
        )));
    }
    let intrs: Vec<&Intr> = spec.intrs().collect();
    if intrs.len() > TIMERS {
        return Err(spec.bad(format!(
            "`intr` names {} lines; the hpet has {TIMERS} timers",
            intrs.len()
        )));
    }
    let mut pins = [None; TIMERS];
    for (pin, intr) in pins.iter_mut().zip(intrs) {
        if let Intr::Line { line, .. } = intr {
            *pin = Some(*line);
        }
    }
    Ok(Config {
        frequency,
        legacy_free: spec.value(&LEGACY_FREE).is_some(),
        pins,
    })
}

/// The 1 KiB block at `loc` (default 0xfed00000), after checking the options.
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let base = mem_base(spec, DECL.default_loc)?;
    config(spec)?;
    if !base.is_multiple_of(LEN) || base.checked_add(LEN).is_none() {
        return Err(spec.misplaced(format!(
            "mem:{base:#x}: the hpet's 1 KiB block must be 1 KiB aligned"
        )));
    }
    Ok(vec![Range {
        space: Space::Mem,
        base,
        len: LEN,
    }])
}

/// Where a timer's interrupt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// The timer's own `intr` line.
    Own(usize),
    /// Legacy replacement: the 8254's line (timer 0).
    Pit,
    /// Legacy replacement: the RTC's line (timer 1).
    Rtc,
}

#[derive(Clone, Copy, Debug)]
struct Timer {
    conf: u64,
    cmp: u64,
    period: u64,
    /// The counter value at which it fires next, if it is armed.
    target: Option<u64>,
}

/// The register model, without threads: the counter is read from the
/// `now` each call is given.
struct Regs {
    cfg: Config,
    period_fs: u64,
    conf: u64,
    /// The counter's value at `since` (while enabled), or its value.
    count: u64,
    since: Instant,
    isr: u64,
    timers: [Timer; TIMERS],
}

impl Regs {
    fn new(cfg: Config, now: Instant) -> Regs {
        let timer = |n: usize| {
            let pin = cfg.pins[n].filter(|&p| p < 32);
            let cap = pin.map_or(0, |p| 1u64 << p);
            let route = u64::from(pin.unwrap_or(0)) << T_ROUTE_SHIFT;
            Timer {
                conf: T_PERIODIC_CAP | T_64BIT_CAP | route | (cap << 32),
                cmp: u64::MAX,
                period: 0,
                target: None,
            }
        };
        Regs {
            cfg,
            period_fs: (FS_PER_S + cfg.frequency / 2) / cfg.frequency,
            conf: 0,
            count: 0,
            since: now,
            isr: 0,
            timers: [timer(0), timer(1), timer(2)],
        }
    }

    fn counter(&self, now: Instant) -> u64 {
        if self.conf & ENABLE == 0 {
            return self.count;
        }
        let ns = now.saturating_duration_since(self.since).as_nanos();
        let ticks = ns * u128::from(self.cfg.frequency) / 1_000_000_000;
        self.count.wrapping_add(ticks as u64)
    }

    fn capabilities(&self) -> u64 {
        let legacy = if self.cfg.legacy_free { 0 } else { 1 << 15 };
        1 | ((TIMERS as u64 - 1) << 8)
            | (1 << 13)
            | legacy
            | (VENDOR << 16)
            | (self.period_fs << 32)
    }

    /// The 64-bit register at `reg` (8-aligned).
    fn read(&self, reg: u64, now: Instant) -> u64 {
        match reg {
            CAP => self.capabilities(),
            CONF => self.conf,
            ISR => self.isr,
            COUNTER => self.counter(now),
            r if (TIMER0..TIMER0 + 0x20 * TIMERS as u64).contains(&r) => {
                let t = &self.timers[((r - TIMER0) / 0x20) as usize];
                match (r - TIMER0) % 0x20 {
                    0 => t.conf,
                    8 => t.cmp,
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// Write the bits `mask` of the 64-bit register at `reg`.
    fn write(&mut self, reg: u64, value: u64, mask: u64, now: Instant) {
        let merge = |old: u64| (old & !mask) | (value & mask);
        match reg {
            CONF => {
                let writable = if self.cfg.legacy_free {
                    ENABLE
                } else {
                    ENABLE | LEGACY
                };
                let new = merge(self.conf) & writable;
                if (new ^ self.conf) & ENABLE != 0 {
                    self.count = self.counter(now);
                    self.since = now;
                }
                self.conf = new;
            }
            ISR => self.isr &= !(value & mask),
            COUNTER => {
                self.count = merge(self.counter(now));
                self.since = now;
            }
            r if (TIMER0..TIMER0 + 0x20 * TIMERS as u64).contains(&r) => {
                let t = &mut self.timers[((r - TIMER0) / 0x20) as usize];
                match (r - TIMER0) % 0x20 {
                    0 => t.conf = (t.conf & !T_WRITABLE) | (merge(t.conf) & T_WRITABLE),
                    8 => Self::write_comparator(t, merge),
                    _ => {}
                }
            }
            _ => {}
        }
        self.rearm(now);
    }

    /// A comparator write: in periodic mode with `VAL_SET` it sets the
    /// comparator and the period, without it the period only.
    fn write_comparator(t: &mut Timer, merge: impl Fn(u64) -> u64) {
        let narrow = |v: u64| {
            if t.conf & T_32BIT != 0 {
                v & 0xffff_ffff
            } else {
                v
            }
        };
        if t.conf & T_PERIODIC == 0 {
            t.cmp = narrow(merge(t.cmp));
        } else if t.conf & T_VAL_SET != 0 {
            t.cmp = narrow(merge(t.cmp));
            t.period = t.cmp;
            t.conf &= !T_VAL_SET;
        } else {
            t.period = narrow(merge(t.period));
        }
    }

    /// Recompute every timer's target from its comparator.
    fn rearm(&mut self, now: Instant) {
        let counter = self.counter(now);
        let on = self.conf & ENABLE != 0;
        for t in &mut self.timers {
            t.target = if !on || t.conf & T_ENABLE == 0 {
                None
            } else if t.conf & T_32BIT != 0 {
                let delta = (t.cmp as u32).wrapping_sub(counter as u32);
                Some(counter.wrapping_add(u64::from(delta)))
            } else {
                // a periodic timer whose comparator just passed fires now
                // and moves on; a one-shot one fires only at its value
                (t.cmp >= counter || t.conf & T_PERIODIC != 0).then_some(t.cmp)
            };
        }
    }

    /// How long until timer `n` fires, if it is armed.
    fn due_in(&self, n: usize, now: Instant) -> Option<Duration> {
        let target = self.timers[n].target?;
        let ticks = target.saturating_sub(self.counter(now));
        let ns = (u128::from(ticks) * 1_000_000_000).div_ceil(u128::from(self.cfg.frequency));
        Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }

    /// Timer `n`'s timerfd fired: if the counter reached its target, the
    /// route of its interrupt (a periodic timer moves on by whole periods,
    /// skipping those already past).
    fn expire(&mut self, n: usize, now: Instant) -> Option<Route> {
        let counter = self.counter(now);
        let legacy = self.conf & LEGACY != 0;
        let t = &mut self.timers[n];
        let target = t.target?;
        if target > counter {
            return None; // early: re-armed by the caller
        }
        if t.conf & T_PERIODIC != 0 && t.period > 0 {
            let behind = (counter - target) / t.period + 1;
            let next = target.wrapping_add(behind.wrapping_mul(t.period));
            t.cmp = if t.conf & T_32BIT != 0 {
                next & 0xffff_ffff
            } else {
                next
            };
            t.target = Some(next);
        } else {
            t.target = None;
        }
        if t.conf & T_LEVEL != 0 {
            self.isr |= 1 << n;
        }
        Some(match n {
            0 if legacy => Route::Pit,
            1 if legacy => Route::Rtc,
            _ => Route::Own(n),
        })
    }
}

/// The lines a timer's [`Route`] leads to.
struct Lines {
    own: [Option<Arc<dyn IrqLine>>; TIMERS],
    pit: Option<Arc<dyn IrqLine>>,
    rtc: Option<Arc<dyn IrqLine>>,
}

impl Lines {
    fn fire(&self, route: Route) {
        let line = match route {
            Route::Own(n) => self.own.get(n).and_then(Option::as_ref),
            Route::Pit => self.pit.as_ref(),
            Route::Rtc => self.rtc.as_ref(),
        };
        if let Some(l) = line {
            // an irqfd write fails only when its counter would overflow
            let _ = l.trigger();
        }
    }
}

/// The HPET device.
pub struct Hpet {
    regs: Arc<Mutex<Regs>>,
    wake: Arc<EventFd>,
    /// The timer thread, stopped when the device is dropped.
    _timers: Running,
}

fn host_err(what: &str, e: std::io::Error) -> Error {
    Error::Runtime {
        vdev: DECL.name.into(),
        msg: format!("{what}: {e}"),
    }
}

pub(crate) fn device(spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn Device>, Error> {
    let cfg = config(spec)?;
    let mut own: [Option<Arc<dyn IrqLine>>; TIMERS] = [None, None, None];
    for (slot, line) in own.iter_mut().zip(&ctx.irqs) {
        *slot = Some(line.clone());
    }
    let (mut pit, mut rtc) = (None, None);
    if let (false, Some(l)) = (cfg.legacy_free, &ctx.lines) {
        pit = Some(
            l.line(l.pit_gsi())
                .map_err(|e| host_err("legacy line", e))?,
        );
        rtc = Some(l.line(RTC_GSI).map_err(|e| host_err("legacy line", e))?);
    }
    let regs = Arc::new(Mutex::new(Regs::new(cfg, Instant::now())));
    let (wake, stop) = start(&regs, Lines { own, pit, rtc }).map_err(|e| host_err("timers", e))?;
    Ok(Box::new(Hpet {
        regs,
        wake,
        _timers: stop,
    }))
}

/// The timer thread: one timerfd per timer, re-armed when the registers
/// change (the eventfd) and after each expiry.
fn start(regs: &Arc<Mutex<Regs>>, lines: Lines) -> std::io::Result<(Arc<EventFd>, Running)> {
    let mut lp = EventLoop::new()?;
    let wake = Arc::new(EventFd::new(EFD_NONBLOCK)?);
    let mut fds = Vec::new();
    let mut timers = Vec::new();
    for _ in 0..TIMERS {
        let t = TimerFd::new()?;
        fds.push(t.as_raw_fd());
        timers.push(t);
    }
    let timers = Arc::new(Mutex::new(timers));
    let arm = |regs: &Regs, timers: &mut [TimerFd], n: usize| {
        let _ = match regs.due_in(n, Instant::now()) {
            // never sooner than MIN_INTERVAL (also: a timerfd armed with 0
            // is disarmed)
            Some(d) => timers[n].reset(d.max(MIN_INTERVAL), None),
            None => timers[n].clear(),
        };
    };
    let (r, t, w) = (regs.clone(), timers.clone(), wake.clone());
    lp.add(&*wake, move |_| {
        let _ = w.read();
        let (Ok(regs), Ok(mut timers)) = (r.lock(), t.lock()) else {
            return Flow::Stop;
        };
        for n in 0..TIMERS {
            arm(&regs, &mut timers, n);
        }
        Flow::Continue
    })?;
    let lines = Arc::new(lines);
    for (n, fd) in fds.into_iter().enumerate() {
        let (r, t, lines) = (regs.clone(), timers.clone(), lines.clone());
        lp.add(&fd, move |_| {
            let (Ok(mut regs), Ok(mut timers)) = (r.lock(), t.lock()) else {
                return Flow::Stop;
            };
            // readable: it expired, so the read does not block (only this
            // thread arms the timerfds)
            let _ = timers[n].wait();
            if let Some(route) = regs.expire(n, Instant::now()) {
                lines.fire(route);
            }
            arm(&regs, &mut timers, n);
            Flow::Continue
        })?;
    }
    Ok((wake, lp.spawn("hpet")?))
}

/// The 8-aligned register, and the shift and mask of an access in it.
fn field(offset: u64, len: usize) -> (u64, u32, u64) {
    let shift = ((offset & 7) * 8) as u32;
    let bits = (len.min(8) * 8) as u32;
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (offset & !7, shift, mask.checked_shl(shift).unwrap_or(0))
}

fn poisoned() -> Error {
    host_err("registers", std::io::Error::other("poisoned"))
}

impl Device for Hpet {
    fn read(&mut self, _range: usize, offset: u64, data: &mut [u8]) -> Result<(), Error> {
        let (reg, shift, _) = field(offset, data.len());
        let v = self
            .regs
            .lock()
            .map_err(|_| poisoned())?
            .read(reg, Instant::now());
        put_le(data, v >> shift);
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        let (reg, shift, mask) = field(offset, data.len());
        let value = le_value(data).checked_shl(shift).unwrap_or(0);
        self.regs
            .lock()
            .map_err(|_| poisoned())?
            .write(reg, value, mask, Instant::now());
        self.wake.write(1).map_err(|e| host_err("timers", e))?;
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(legacy_free: bool) -> Config {
        Config {
            frequency: DEFAULT_FREQUENCY,
            legacy_free,
            pins: [Some(20), Some(21), None],
        }
    }

    const ALL: u64 = u64::MAX;

    #[test]
    fn capabilities_name_the_period_the_timers_and_legacy_replacement() {
        let t0 = Instant::now();
        let r = Regs::new(cfg(false), t0);
        let cap = r.read(CAP, t0);
        assert_eq!(cap & 0xff, 1, "revision");
        assert_eq!((cap >> 8) & 0x1f, 2, "3 timers");
        assert_ne!(cap & (1 << 13), 0, "64-bit counter");
        assert_ne!(cap & (1 << 15), 0, "legacy replacement capable");
        assert_eq!(cap >> 32, 69_841_279, "fs per tick at 14.31818 MHz");
        let t = r.read(TIMER0, t0);
        assert_eq!(t >> 32, 1 << 20, "timer 0 routes to its intr's pin");
        assert_eq!((t & T_ROUTE) >> T_ROUTE_SHIFT, 20);
        assert_ne!(t & T_PERIODIC_CAP, 0);
        assert_eq!(r.read(TIMER0 + 0x40, t0) >> 32, 0, "timer 2 has no line");
        assert_eq!(
            r.read(TIMER0 + 8, t0),
            u64::MAX,
            "comparators reset to all ones"
        );
        let free = Regs::new(cfg(true), t0);
        assert_eq!(free.read(CAP, t0) & (1 << 15), 0);
    }

    #[test]
    fn the_counter_runs_only_while_enabled_at_the_frequency() {
        let t0 = Instant::now();
        let mut r = Regs::new(cfg(false), t0);
        let ms = Duration::from_millis(1);
        assert_eq!(r.read(COUNTER, t0 + ms), 0, "halted");
        r.write(CONF, ENABLE, ALL, t0);
        assert_eq!(r.read(COUNTER, t0 + ms * 10), 143_181);
        r.write(CONF, 0, ALL, t0 + ms * 10);
        assert_eq!(r.read(COUNTER, t0 + ms * 50), 143_181, "halted again");
        // 32-bit halves: the high half of the counter
        r.write(COUNTER, 5 << 32, 0xffff_ffff << 32, t0 + ms * 50);
        assert_eq!(r.read(COUNTER, t0 + ms * 60), (5 << 32) | 143_181);
        let (reg, shift, mask) = field(COUNTER + 4, 4);
        assert_eq!((reg, shift, mask), (COUNTER, 32, 0xffff_ffff << 32));
    }

    #[test]
    fn a_one_shot_timer_fires_once_at_its_comparator() {
        let t0 = Instant::now();
        let mut r = Regs::new(cfg(false), t0);
        r.write(TIMER0, T_ENABLE, ALL, t0);
        r.write(TIMER0 + 8, 14_318, ALL, t0); // 1 ms
        assert_eq!(r.due_in(0, t0), None, "the counter is halted");
        r.write(CONF, ENABLE, ALL, t0);
        let due = r.due_in(0, t0).expect("armed");
        assert!(
            due.abs_diff(Duration::from_millis(1)) < Duration::from_micros(2),
            "{due:?}"
        );
        assert_eq!(r.expire(0, t0 + Duration::from_micros(500)), None, "early");
        assert_eq!(r.expire(0, t0 + due), Some(Route::Own(0)));
        assert_eq!(r.due_in(0, t0 + due), None, "one shot");
        assert_eq!(r.read(ISR, t0), 0, "edge mode sets no status");
    }

    #[test]
    fn a_periodic_timer_moves_on_by_its_period_and_level_mode_sets_status() {
        let t0 = Instant::now();
        let mut r = Regs::new(cfg(false), t0);
        let conf = T_ENABLE | T_PERIODIC | T_VAL_SET | T_LEVEL;
        r.write(TIMER0 + 0x20, conf, ALL, t0);
        r.write(TIMER0 + 0x28, 1000, ALL, t0); // comparator and period
        assert_eq!(r.read(TIMER0 + 0x20, t0) & T_VAL_SET, 0, "VAL_SET clears");
        r.write(TIMER0 + 0x28, 2000, ALL, t0); // the period only
        r.write(CONF, ENABLE, ALL, t0);
        let at =
            |ticks: u64| t0 + Duration::from_nanos(ticks * 1_000_000_000 / DEFAULT_FREQUENCY + 1);
        assert_eq!(r.expire(1, at(1000)), Some(Route::Own(1)));
        assert_eq!(r.read(TIMER0 + 0x28, t0), 3000);
        assert_eq!(r.read(ISR, t0), 2, "level mode: timer 1's status");
        r.write(ISR, 2, ALL, t0);
        assert_eq!(r.read(ISR, t0), 0, "cleared by writing 1");
        // late by more than two periods: the missed ones are skipped
        assert_eq!(r.expire(1, at(7500)), Some(Route::Own(1)));
        assert_eq!(r.read(TIMER0 + 0x28, t0), 9000);
    }

    #[test]
    fn legacy_replacement_routes_timers_0_and_1_unless_legacy_free() {
        let t0 = Instant::now();
        for (free, want) in [
            (false, [Route::Pit, Route::Rtc]),
            (true, [Route::Own(0), Route::Own(1)]),
        ] {
            let mut r = Regs::new(cfg(free), t0);
            for n in 0..2 {
                r.write(TIMER0 + 0x20 * n, T_ENABLE, ALL, t0);
                r.write(TIMER0 + 0x20 * n + 8, 10, ALL, t0);
            }
            r.write(CONF, ENABLE | LEGACY, ALL, t0);
            assert_eq!(r.read(CONF, t0) & LEGACY != 0, !free);
            let later = t0 + Duration::from_millis(1);
            assert_eq!([r.expire(0, later), r.expire(1, later)], want.map(Some));
        }
    }

    #[test]
    fn a_32_bit_timer_compares_the_low_half() {
        let t0 = Instant::now();
        let mut r = Regs::new(cfg(false), t0);
        r.write(COUNTER, 0x1_ffff_ff00, ALL, t0);
        r.write(TIMER0, T_ENABLE | T_32BIT, ALL, t0);
        r.write(TIMER0 + 8, 0x1_0000_0010, ALL, t0);
        assert_eq!(r.read(TIMER0 + 8, t0), 0x10, "32-bit comparator");
        r.write(CONF, ENABLE, ALL, t0);
        let due = r.due_in(0, t0).expect("armed");
        let want = Duration::from_nanos(0x110 * 1_000_000_000 / DEFAULT_FREQUENCY);
        assert!(
            due.abs_diff(want) < Duration::from_micros(1),
            "{due:?} {want:?}"
        );
    }

    #[test]
    fn frequencies_below_10_mhz_and_too_many_lines_are_refused() {
        let mut s = VdevSpec::new(crate::VdevKind::Hpet);
        s.options.push(crate::OptionValue::new(
            "frequency",
            Value::Number(1_000_000),
        ));
        assert!(ranges(&s).is_err_and(|e| e.is_config()));
        let mut s = VdevSpec::new(crate::VdevKind::Hpet);
        s.intr = Some(Intr::line("ioapic", 2));
        s.more_intr = vec![
            Intr::line("ioapic", 8),
            Intr::line("ioapic", 10),
            Intr::line("ioapic", 11),
        ];
        assert!(ranges(&s).is_err_and(|e| e.is_config()));
        s.more_intr.pop();
        assert_eq!(ranges(&s).expect("3 lines")[0].base, DEFAULT_BASE);
        assert_eq!(
            config(&s).expect("config").pins,
            [Some(2), Some(8), Some(10)]
        );
    }

    struct Count(Arc<std::sync::atomic::AtomicU32>);
    impl IrqLine for Count {
        fn trigger(&self) -> std::io::Result<()> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    /// Runs timer 0 periodic with `period` ticks for `run`; the interrupts.
    fn periodic(period: u64, run: Duration) -> u32 {
        let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut ctx = Context::new(crate::Logger::new(&Default::default(), "t", Instant::now()))
            .expect("context");
        ctx.irqs.push(Arc::new(Count(n.clone())));
        let mut s = VdevSpec::new(crate::VdevKind::Hpet);
        s.intr = Some(Intr::line("ioapic", 2));
        let mut d = device(&s, &ctx).expect("hpet");
        let w = |d: &mut Box<dyn Device>, off: u64, v: u64| {
            d.write(0, off, &v.to_le_bytes()).expect("write")
        };
        w(&mut d, TIMER0, T_ENABLE | T_PERIODIC | T_VAL_SET);
        w(&mut d, TIMER0 + 8, period);
        w(&mut d, TIMER0 + 8, period);
        w(&mut d, CONF, ENABLE);
        std::thread::sleep(run);
        w(&mut d, CONF, 0);
        n.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_one_tick_period_is_held_to_the_minimum_interval() {
        let got = periodic(1, Duration::from_millis(100));
        assert!((1..=2000).contains(&got), "{got} interrupts in 100 ms");
    }

    #[test]
    fn the_timer_thread_raises_periodic_interrupts_at_the_rate() {
        let got = periodic(143_181, Duration::from_millis(205)); // 10 ms
        // never more than the periods that passed; a loaded host may run
        // the timer thread late (missed periods are skipped)
        assert!(
            (8..=21).contains(&got),
            "{got} interrupts in 205 ms at 100 Hz"
        );
    }
}
