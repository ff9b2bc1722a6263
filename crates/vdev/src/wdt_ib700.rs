//! `wdt-ib700`: the IB700 single-board computer's watchdog timer, at ports
//! 0x441 (stop) and 0x443 (start and pet).
//!
//! A write to 0x443 (re)starts the countdown with the timeout the value
//! selects from the IB700 table: value `v` (its low 4 bits) gives
//! `30 - 2v` seconds, from 30 s for 0 to 0 s for 15 (which expires at once).
//! Every further write pets it: the countdown starts again with the new
//! timeout. A write to 0x441 stops it. Reads return 0xff (the IB700 has no
//! readable register). When the countdown reaches zero the VM ends with
//! qvm's watchdog exit code, 4.
//!
//! The countdown is a timerfd on a thread of the device's own, waiting in an
//! [`EventLoop`]: the guest's writes only record the command and wake that
//! thread through an eventfd, and only that thread arms the timerfd, so
//! that a read after epoll said the timer expired never blocks. Expiry ends
//! the VM through [`crate::EndVm`], not during a guest access.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};
use vmm_sys_util::timerfd::TimerFd;

use crate::decl::{Arch, DeviceDecl};
use crate::event::{EventLoop, Flow, Running};
use crate::{Context, Device, Effect, EndVm, Error, Range, Space, VdevSpec, io_base};

/// What `wdt-ib700` declares.
pub const DECL: DeviceDecl = DeviceDecl::new("wdt-ib700", "IB700 watchdog timer")
    .arch(Arch::X86_64)
    .ports(3, Some(PORT_STOP));

/// The stop port (and the default `loc`).
pub const PORT_STOP: u64 = 0x441;
/// The start/pet port.
pub const PORT_START: u64 = 0x443;

/// The timeout a value written to the start port selects (IB700 table).
pub fn timeout(value: u8) -> Duration {
    Duration::from_secs(30 - 2 * u64::from(value & 0xf))
}

/// Ports 0x441-0x443 (or 3 ports from `loc`).
pub(crate) fn ranges(spec: &VdevSpec) -> Result<Vec<Range>, Error> {
    let base = io_base(spec, DECL.default_loc)?;
    if base + 3 > 0x1_0000 {
        return Err(spec.misplaced(format!("ports {base:#x}+3 go beyond 0xffff")));
    }
    Ok(vec![Range {
        space: Space::Io,
        base,
        len: 3,
    }])
}

/// What the guest asked for last, not yet applied by the timer thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Start(Duration),
    Stop,
}

#[derive(Default)]
struct State {
    pending: Option<Command>,
    /// The timeout of the running countdown, if it runs.
    running: Option<Duration>,
}

/// The watchdog.
pub struct WdtIb700 {
    state: Arc<Mutex<State>>,
    wake: Arc<EventFd>,
    /// The timer thread, stopped when the device is dropped.
    _timers: Running,
}

fn host_err(e: std::io::Error) -> Error {
    Error::Runtime {
        vdev: DECL.name.into(),
        msg: format!("timer thread: {e}"),
    }
}

pub(crate) fn device(_spec: &VdevSpec, ctx: &Context) -> Result<Box<dyn Device>, Error> {
    let (state, wake, stop) = start(ctx.end.clone()).map_err(host_err)?;
    Ok(Box::new(WdtIb700 {
        state,
        wake,
        _timers: stop,
    }))
}

type Started = (Arc<Mutex<State>>, Arc<EventFd>, Running);

/// The timer thread: applies commands, and ends the VM when the timer fires.
fn start(end: EndVm) -> std::io::Result<Started> {
    let mut lp = EventLoop::new()?;
    let state = Arc::new(Mutex::new(State::default()));
    let wake = Arc::new(EventFd::new(EFD_NONBLOCK)?);
    let timer = TimerFd::new()?;
    let fd = timer.as_raw_fd();
    let timer = Arc::new(Mutex::new(timer));
    let (st, t, w) = (state.clone(), timer.clone(), wake.clone());
    lp.add(&*wake, move |_| {
        let _ = w.read();
        let (Ok(mut s), Ok(mut t)) = (st.lock(), t.lock()) else {
            return Flow::Stop;
        };
        let applied = match s.pending.take() {
            // a timerfd armed with 0 is disarmed: 0 s expires at once
            Some(Command::Start(d)) => t.reset(d.max(Duration::from_nanos(1)), None),
            Some(Command::Stop) => t.clear(),
            None => Ok(()),
        };
        if applied.is_err() {
            s.running = None;
        }
        Flow::Continue
    })?;
    let st = state.clone();
    lp.add(&fd, move |_| {
        let Ok(mut t) = timer.lock() else {
            return Flow::Stop;
        };
        let _ = t.wait();
        let Ok(s) = st.lock() else {
            return Flow::Stop;
        };
        if s.pending.is_some() {
            return Flow::Continue; // petted or stopped just now
        }
        let after = s.running.map_or(0, |d| d.as_secs());
        end.end(
            Effect::Watchdog,
            format!("watchdog (wdt-ib700) expired: not petted within {after} s"),
        );
        Flow::Stop
    })?;
    Ok((state, wake, lp.spawn("wdt-ib700")?))
}

impl WdtIb700 {
    fn command(&self, c: Command) -> Result<(), Error> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| host_err(std::io::Error::other("poisoned")))?;
        s.pending = Some(c);
        s.running = match c {
            Command::Start(d) => Some(d),
            Command::Stop => None,
        };
        drop(s);
        self.wake.write(1).map_err(host_err)
    }
}

impl Device for WdtIb700 {
    fn read(&mut self, _range: usize, _offset: u64, data: &mut [u8]) -> Result<(), Error> {
        data.fill(0xff);
        Ok(())
    }

    fn write(&mut self, _range: usize, offset: u64, data: &[u8]) -> Result<Effect, Error> {
        match offset {
            0 => self.command(Command::Stop)?,
            2 => self.command(Command::Start(timeout(data.first().copied().unwrap_or(0))))?,
            _ => {}
        }
        Ok(Effect::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_timeout_table_runs_from_30_to_0_seconds_in_steps_of_2() {
        assert_eq!(timeout(0), Duration::from_secs(30));
        assert_eq!(timeout(1), Duration::from_secs(28));
        assert_eq!(timeout(14), Duration::from_secs(2));
        assert_eq!(timeout(15), Duration::ZERO);
        assert_eq!(timeout(0x1e), Duration::from_secs(2), "low 4 bits");
    }

    fn wdt() -> (WdtIb700, EndVm) {
        let end = EndVm::new().expect("end path");
        let (state, wake, stop) = start(end.clone()).expect("timer thread");
        (
            WdtIb700 {
                state,
                wake,
                _timers: stop,
            },
            end,
        )
    }

    /// Waits (at most `limit`) for the end path to be signalled.
    fn wait_end(end: &EndVm, limit: Duration) -> Option<(Effect, String)> {
        let mut lp = EventLoop::new().expect("loop");
        lp.add(end.fd(), |_| Flow::Stop).expect("add");
        let _ = lp.poll(Some(limit));
        end.take()
    }

    #[test]
    fn expiry_ends_the_vm_after_the_timeout_and_petting_postpones_it() {
        let (mut w, end) = wdt();
        let t0 = Instant::now();
        // a 0 s timeout (value 15) expires at once
        w.write(0, 2, &[15]).expect("start");
        let got = wait_end(&end, Duration::from_secs(5)).expect("expired");
        assert_eq!(got.0, Effect::Watchdog);
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        drop(w);

        let (mut w, end) = wdt();
        let t0 = Instant::now();
        w.write(0, 2, &[14]).expect("start: 2 s");
        for _ in 0..3 {
            assert!(
                wait_end(&end, Duration::from_millis(700)).is_none(),
                "not yet"
            );
            w.write(0, 2, &[14]).expect("pet");
        }
        let got = wait_end(&end, Duration::from_secs(5)).expect("expired");
        let waited = t0.elapsed();
        assert!(got.1.contains("2 s"), "{}", got.1);
        assert!(waited >= Duration::from_millis(2100 + 1900), "{waited:?}");
        assert!(waited < Duration::from_millis(2100 + 3000), "{waited:?}");
    }

    #[test]
    fn a_stopped_watchdog_does_not_fire_and_reads_are_all_ones() {
        let (mut w, end) = wdt();
        w.write(0, 2, &[14]).expect("start 2 s");
        assert!(wait_end(&end, Duration::from_millis(300)).is_none());
        w.write(0, 0, &[0]).expect("stop");
        assert!(wait_end(&end, Duration::from_millis(2600)).is_none());
        let mut b = [0u8; 1];
        w.read(0, 0, &mut b).expect("read");
        assert_eq!(b, [0xff]);
    }
}
