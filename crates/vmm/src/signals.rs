//! Process signals: SIGTERM and SIGINT press the power button, SIGQUIT cuts
//! the power; a real-time signal kicks vCPU threads out of `KVM_RUN`.
//!
//! The lifecycle handlers also write to an eventfd ([`wake_fd`]) that the
//! VMM's main thread waits on, so a signal is acted on at once, without the
//! main thread polling a flag.
//!
//! The kick sets `immediate_exit` in the kicked thread's `kvm_run` (the
//! thread registers it with [`arm_kick`]): a kick that lands just before the
//! thread enters `KVM_RUN` makes that `KVM_RUN` return at once instead of
//! being lost, so one kick always suffices.

#![allow(
    unsafe_code,
    reason = "signal handlers for the power button (libc::sigaction)"
)]

use std::cell::Cell;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};
use vmm_sys_util::signal::{SIGRTMIN, register_signal_handler};

static POWER_BUTTON: AtomicBool = AtomicBool::new(false);
static POWER_CUT: AtomicBool = AtomicBool::new(false);
static WAKE: OnceLock<EventFd> = OnceLock::new();
/// The raw fd of [`WAKE`] for the handlers (-1 before [`install`]).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

thread_local! {
    /// This thread's `kvm_run.immediate_exit`, when it runs a vCPU.
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

/// The signal that interrupts a vCPU thread.
pub(crate) fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

/// Make kicks of the calling thread set `*immediate_exit` (its vCPU's
/// `kvm_run.immediate_exit`); null disarms. The pointer must stay valid
/// until the thread disarms or ends.
pub(crate) fn arm_kick(immediate_exit: *mut u8) {
    IMMEDIATE_EXIT.with(|c| c.set(immediate_exit));
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let p = IMMEDIATE_EXIT.with(Cell::get);
    if !p.is_null() {
        // SAFETY: `arm_kick`'s caller keeps the pointer valid while it is
        // armed, and this handler runs on that same thread; a volatile byte
        // store is what KVM reads at its next entry.
        unsafe { p.write_volatile(1) };
    }
}

extern "C" fn on_term(num: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if num == libc::SIGQUIT {
        POWER_CUT.store(true, Ordering::SeqCst);
    } else {
        POWER_BUTTON.store(true, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one = 1u64.to_ne_bytes();
        // SAFETY: write(2) is async-signal-safe; the eventfd lives for the
        // rest of the process (a static) and `one` is 8 readable bytes.
        unsafe { libc::write(fd, one.as_ptr().cast(), one.len()) };
    }
}

/// Install the kick handler and, unless `lifecycle` is false, the SIGTERM,
/// SIGINT and SIGQUIT handlers.
pub(crate) fn install(lifecycle: bool) -> Result<(), String> {
    let wake = match WAKE.get() {
        Some(w) => w,
        None => {
            let w = EventFd::new(EFD_NONBLOCK).map_err(|e| format!("eventfd: {e}"))?;
            WAKE.get_or_init(|| w)
        }
    };
    WAKE_FD.store(wake.as_raw_fd(), Ordering::SeqCst);
    register_signal_handler(kick_signal(), on_kick).map_err(|e| format!("signal handler: {e}"))?;
    if lifecycle {
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
            register_signal_handler(s, on_term).map_err(|e| format!("signal handler: {e}"))?;
        }
    }
    Ok(())
}

/// The eventfd the lifecycle signals write to (after [`install`]).
pub(crate) fn wake_fd() -> Option<RawFd> {
    WAKE.get().map(AsRawFd::as_raw_fd)
}

/// Make `lp` wake up (and empty the eventfd) when a lifecycle signal
/// arrives (after [`install`]; before it, nothing is added).
pub(crate) fn watch(lp: &mut vdev::event::EventLoop) -> std::io::Result<()> {
    if let Some(fd) = wake_fd() {
        lp.add(&fd, |_| {
            drain_wake();
            vdev::event::Flow::Continue
        })?;
    }
    Ok(())
}

/// Empty the eventfd after a wake-up.
pub(crate) fn drain_wake() {
    if let Some(w) = WAKE.get() {
        let _ = w.read();
    }
}

/// Take a pending power-button press.
pub(crate) fn take_power_button() -> bool {
    POWER_BUTTON.swap(false, Ordering::SeqCst)
}

/// True once SIGQUIT arrived.
pub(crate) fn power_cut() -> bool {
    POWER_CUT.load(Ordering::SeqCst)
}
