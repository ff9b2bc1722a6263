//! The VMM's three figures, measured in one run (`cargo bench -p vmm --bench vmm`;
//! run it niced: `nice -n 10 cargo bench -p vmm --bench vmm`):
//!
//! 1. start-up: process start → the PVH probe's first UART line and first
//!    progress write, against `qemu-system-x86_64 -M microvm -accel kvm`
//!    booting the same ELF (first UART line);
//! 2. resident memory of the VMM outside guest RAM (smaps, guest mappings
//!    excluded by the host addresses the VMM logs at debug level);
//! 3. one port-I/O exit round trip through the VMM's bus and device, against
//!    a minimal KVM loop (real-mode `out` loop, nothing behind it, on a VM
//!    with the same in-kernel irqchip) in this process.
//!
//! `VMM_BENCH_RUNS` sets the number of start-up runs (default 15);
//! `VMM_BENCH_ONLY=startup|resident|io` runs one part.

#![allow(unsafe_code, reason = "a minimal KVM loop to compare with")]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{median, ms, rss_split, spec, which, write_spec};
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuExit};
use vmm::{ImageFormat, Load};

/// Spawn, then time the first stdout lines matching each marker; kill.
fn time_markers(mut cmd: Command, markers: &[&str]) -> Vec<Duration> {
    let start = Instant::now();
    let (mut child, rx) = common::spawn_lines(&mut cmd);
    let mut found: Vec<Option<Duration>> = vec![None; markers.len()];
    while found.iter().any(Option::is_none) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((t, line)) => {
                for (i, m) in markers.iter().enumerate() {
                    if found[i].is_none() && line.contains(m) {
                        found[i] = Some(t - start);
                    }
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found
        .into_iter()
        .map(|d| d.unwrap_or(Duration::MAX))
        .collect()
}

fn startup(dir: &std::path::Path, runs: usize) {
    let p = write_spec(&spec("progress halt", true), dir);
    let qemu = which("qemu-system-x86_64");
    let (mut ours_uart, mut ours_prog, mut q_uart) = (Vec::new(), Vec::new(), Vec::new());
    let mut ours_vcpu = Vec::new();
    for _ in 0..runs {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmm-run"));
        cmd.arg(&p);
        let t = time_markers(
            cmd,
            &["probe: start", "progress: milestone 0", "debug: starting"],
        );
        ours_uart.push(t[0]);
        ours_prog.push(t[1]);
        ours_vcpu.push(t[2]);
        if let Some(q) = &qemu {
            let mut cmd = Command::new(q);
            cmd.args([
                "-M",
                "microvm",
                "-accel",
                "kvm",
                "-cpu",
                "host",
                "-m",
                "32",
                "-nodefaults",
                "-no-user-config",
                "-nographic",
                "-serial",
                "stdio",
                "-no-reboot",
                "-kernel",
                vmm::probe::ELF,
                "-append",
                "progress halt",
            ]);
            q_uart.push(time_markers(cmd, &["probe: start"])[0]);
        }
    }
    let (ou, op) = (median(&mut ours_uart), median(&mut ours_prog));
    println!("start-up, median of {runs} runs (process start to ...):");
    println!(
        "  vmm-run: first UART line {}, first progress write {} (VM assembled, vCPUs starting: {})",
        ms(ou),
        ms(op),
        ms(median(&mut ours_vcpu))
    );
    match qemu {
        Some(_) => {
            let qu = median(&mut q_uart);
            println!("  qemu -M microvm: first UART line {}", ms(qu));
            println!(
                "  ratio qemu / vmm-run (first UART line): {:.1}x",
                qu.as_secs_f64() / ou.as_secs_f64()
            );
        }
        None => println!("  qemu-system-x86_64 not found: comparison skipped"),
    }
}

fn resident(dir: &std::path::Path) {
    let p = write_spec(&spec("progress spin", true), dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmm-run"));
    cmd.arg(&p);
    let (_, (total, in_guest, guest)) = common::follow(cmd, |pid, lines| {
        let guest: Vec<_> = lines
            .iter()
            .filter_map(|l| common::guest_range(l))
            .collect();
        let (total, in_guest) = rss_split(pid, &guest);
        (total, in_guest, guest)
    });
    for (s, e) in &guest {
        println!("  guest RAM mapped at host {s:#x}..{e:#x}");
    }
    println!(
        "resident memory of vmm-run with the guest running ({} guest regions):",
        guest.len()
    );
    println!(
        "  total {} KiB, guest RAM {} KiB, VMM outside guest RAM {} KiB ({:.2} MiB)",
        total,
        in_guest,
        total - in_guest,
        (total - in_guest) as f64 / 1024.0
    );
}

/// 32-bit flat code, position-independent: milestone 10 (port 0xef0), `n`
/// one-byte `out`s to port 0xefc, milestone 11, `cli; hlt`. Both the VMM
/// (as a raw image) and the minimal loop run exactly these bytes in the same
/// CPU mode, so the difference is the VMM's exit handling.
fn io_loop_code(n: u32) -> Vec<u8> {
    let mut c = vec![0xba, 0xf0, 0x0e, 0, 0, 0xb8, 10, 0, 0, 0, 0xef]; // milestone 10
    c.extend_from_slice(&[0xba, 0xfc, 0x0e, 0, 0, 0xb9]); // mov edx, 0xefc; mov ecx, n
    c.extend_from_slice(&n.to_le_bytes());
    c.extend_from_slice(&[0xee, 0x49, 0x75, 0xfc]); // out dx, al; dec ecx; jnz
    c.extend_from_slice(&[0xba, 0xf0, 0x0e, 0, 0, 0xb8, 11, 0, 0, 0, 0xef]); // milestone 11
    c.extend_from_slice(&[0xfa, 0xf4]); // cli; hlt
    c
}

const LOOP_AT: u64 = 0x1000;

/// Time from the minimal loop's first `KVM_RUN` to its first exit.
static FIRST_EXIT_US: AtomicU64 = AtomicU64::new(0);

/// The minimal KVM loop: a VM with the same in-kernel irqchip, 64 KiB of
/// memory, the loop code at 0x1000 entered in 32-bit protected mode; the
/// time between the two milestone exits, per exit.
fn minimal_loop(n: u32) -> Duration {
    let kvm = Kvm::new().expect("kvm");
    let vm = kvm.create_vm().expect("vm");
    vm.set_tss_address(0xfffb_d000).expect("tss");
    vm.create_irq_chip().expect("irqchip");
    let size = 0x1_0000usize;
    // SAFETY: anonymous private mapping of `size` bytes, checked below.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    let code = io_loop_code(n);
    // SAFETY: `mem` is a fresh mapping of 64 KiB; the code fits at LOOP_AT.
    unsafe {
        std::ptr::copy_nonoverlapping(
            code.as_ptr(),
            (mem as *mut u8).add(LOOP_AT as usize),
            code.len(),
        )
    };
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: size as u64,
        userspace_addr: mem as u64,
    };
    // SAFETY: the mapping outlives the VM (unmapped after it is dropped).
    unsafe { vm.set_user_memory_region(region) }.expect("slot");
    let mut vcpu = vm.create_vcpu(0).expect("vcpu");
    let mut sregs = vcpu.get_sregs().expect("sregs");
    let flat = |selector, type_| kvm_bindings::kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        db: 1,
        s: 1,
        g: 1,
        ..Default::default()
    };
    sregs.cs = flat(0x08, 11);
    sregs.ds = flat(0x10, 3);
    sregs.es = flat(0x10, 3);
    sregs.ss = flat(0x10, 3);
    sregs.cr0 = 0x11;
    vcpu.set_sregs(&sregs).expect("sregs");
    let regs = kvm_bindings::kvm_regs {
        rip: LOOP_AT,
        rflags: 2,
        ..Default::default()
    };
    vcpu.set_regs(&regs).expect("regs");
    let mut start = None;
    let mut exits = 0u32;
    let first_run = Instant::now();
    let t = loop {
        match vcpu.run().expect("run") {
            VcpuExit::IoOut(0xef0, _) => match start {
                None => {
                    FIRST_EXIT_US.store(first_run.elapsed().as_micros() as u64, Ordering::Relaxed);
                    start = Some(Instant::now())
                }
                Some(s) => break s.elapsed(),
            },
            VcpuExit::IoOut(_, _) => exits += 1,
            other => panic!("unexpected exit {other:?}"),
        }
    };
    assert_eq!(exits, n);
    drop(vcpu);
    drop(vm);
    // SAFETY: the VM using the mapping is gone.
    unsafe { libc::munmap(mem, size) };
    t / n
}

/// The same loop as a raw image in vmm-run (progress device at 0xef0, the
/// loop's port 0xefc is its identification register); per exit, from the
/// logged milestone times.
fn ours_loop(dir: &std::path::Path, n: u32) -> Duration {
    let image = dir.join("ioloop.bin");
    std::fs::write(&image, io_loop_code(n)).expect("write loop image");
    let mut s = spec("", false);
    s.loads = vec![Load::image(ImageFormat::Raw, Some(LOOP_AT), image)];
    let p = dir.join("ioloop.json");
    std::fs::write(&p, serde_json::to_vec(&s).expect("serialise")).expect("write spec");
    let out = Command::new(env!("CARGO_BIN_EXE_vmm-run"))
        .arg(&p)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("vmm-run");
    let text = String::from_utf8_lossy(&out.stdout);
    let stamp = |m: &str| -> Option<f64> {
        let l = text.lines().find(|l| l.ends_with(m))?;
        l.split_whitespace()
            .nth(1)?
            .trim_start_matches('+')
            .parse()
            .ok()
    };
    let (a, b) = (
        stamp("milestone 10").expect("milestone 10"),
        stamp("milestone 11").expect("milestone 11"),
    );
    Duration::from_secs_f64((b - a) / f64::from(n))
}

fn io_exits(dir: &std::path::Path) {
    let n = 20_000;
    let (mut ours, mut minimal) = (Vec::new(), Vec::new());
    let mut first = Vec::new();
    for _ in 0..11 {
        minimal.push(minimal_loop(n));
        first.push(Duration::from_micros(FIRST_EXIT_US.load(Ordering::Relaxed)));
        ours.push(ours_loop(dir, n));
    }
    let (o, m) = (median(&mut ours), median(&mut minimal));
    println!("port-I/O exit round trip, median of 11 x {n} exits (same 32-bit loop code):");
    println!(
        "  vmm-run (bus + device) {:.2} us, minimal KVM loop {:.2} us, ratio {:.3}",
        o.as_secs_f64() * 1e6,
        m.as_secs_f64() * 1e6,
        o.as_secs_f64() / m.as_secs_f64()
    );
    println!(
        "  (minimal loop: first KVM_RUN to its first exit {}, median)",
        ms(median(&mut first))
    );
}

fn main() {
    if !std::path::Path::new("/dev/kvm").exists() {
        println!("vmm bench skipped: /dev/kvm is absent");
        return;
    }
    // `cargo bench` passes `--bench`; anything else is ignored.
    let runs = std::env::var("VMM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let dir = tempfile::tempdir().expect("tempdir");
    let only = std::env::var("VMM_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "startup" {
        startup(dir.path(), runs);
    }
    if only.is_empty() || only == "resident" {
        resident(dir.path());
    }
    if only.is_empty() || only == "io" {
        io_exits(dir.path());
    }
    let _ = std::io::stdout().flush();
}
