//! What hvhost's tests share, so that test files stop copying helpers:
//!
//! - [`process`]: start a program (the VMM, the CLI) with its output piped,
//!   follow its standard output line by line (a guest's UART) while its
//!   standard error (the VMM's log) is collected, signal it, and finish it
//!   within a time limit;
//! - [`tree`]: temporary host trees (files, executables, directories);
//! - [`golden`]: byte-for-byte comparison with a golden file, rewritten
//!   instead when `HVHOST_BLESS=1`;
//! - [`data`]: deterministic test data (text, ELF-like, image-like bytes);
//! - [`tap`]: a TAP interface and a packet socket on it (virtio-net tests);
//! - [`kvm`]: whether a KVM test can run here.
//!
//! The probe guest the VM tests boot is built by `crates/vmm/build.rs`
//! (once per change of its sources, shared by every profile), because the
//! release binaries find it too; tests reach it as `vmm::probe::ELF`.
//!
//! Its modules (`data`, `golden`, `process`, `tap`, `tree`) are independent of
//! one another.

pub mod data;
pub mod golden;
pub mod process;
pub mod tap;
pub mod tree;

/// False (with the reason printed) when this machine has no `/dev/kvm`:
/// KVM tests return early then.
pub fn kvm() -> bool {
    if std::path::Path::new("/dev/kvm").exists() {
        true
    } else {
        eprintln!("skipped: /dev/kvm is absent");
        false
    }
}
