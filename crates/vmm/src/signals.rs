//! Process signals: SIGTERM and SIGINT press the power button, SIGQUIT cuts
//! the power; a real-time signal kicks vCPU threads out of `KVM_RUN`.

use std::sync::atomic::{AtomicBool, Ordering};

use vmm_sys_util::signal::{SIGRTMIN, register_signal_handler};

static POWER_BUTTON: AtomicBool = AtomicBool::new(false);
static POWER_CUT: AtomicBool = AtomicBool::new(false);

/// The signal that interrupts a vCPU thread.
pub fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

extern "C" fn on_term(num: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if num == libc::SIGQUIT {
        POWER_CUT.store(true, Ordering::SeqCst);
    } else {
        POWER_BUTTON.store(true, Ordering::SeqCst);
    }
}

/// Install the kick handler and, unless `lifecycle` is false, the SIGTERM,
/// SIGINT and SIGQUIT handlers.
pub fn install(lifecycle: bool) -> Result<(), String> {
    register_signal_handler(kick_signal(), on_kick).map_err(|e| format!("signal handler: {e}"))?;
    if lifecycle {
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
            register_signal_handler(s, on_term).map_err(|e| format!("signal handler: {e}"))?;
        }
    }
    Ok(())
}

/// Take a pending power-button press.
pub fn take_power_button() -> bool {
    POWER_BUTTON.swap(false, Ordering::SeqCst)
}

/// True once SIGQUIT arrived.
pub fn power_cut() -> bool {
    POWER_CUT.load(Ordering::SeqCst)
}
