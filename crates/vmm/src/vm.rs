//! Assembling a VM from its spec, and running it: one thread per vCPU, the
//! calling thread watching signals, halts and the vCPUs' reports.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{KVM_MAX_CPUID_ENTRIES, KVM_PIT_SPEAKER_DUMMY, kvm_pit_config};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use vdev::{Context, Created, Effect, Logger, Space};
use vmm_sys_util::signal::Killable;

use crate::boot::{self, Entry};
use crate::bus::{Bus, SharedDevice};
use crate::irq::{Controllers, IOAPIC_BASE, IrqFd};
use crate::memory::Memory;
use crate::spec::{Policy, ResetAction, VmSpec};
use crate::{Error, ExitCode, Outcome, RunOptions, cpu, irq, kvm_err, signals};

/// State shared between the main thread and the vCPU threads.
pub struct Shared {
    stop: AtomicBool,
    power_button: Arc<AtomicBool>,
    /// Per vCPU: 0 running, 1 halted with interrupts off, 2 waiting for SIPI.
    halt_state: Mutex<Vec<Arc<AtomicU8>>>,
    halt_check: AtomicBool,
}

impl Shared {
    /// Fresh state for one run.
    pub fn new() -> Shared {
        Shared {
            stop: AtomicBool::new(false),
            power_button: Arc::new(AtomicBool::new(false)),
            halt_state: Mutex::new(Vec::new()),
            halt_check: AtomicBool::new(false),
        }
    }
}

/// An assembled VM.
pub struct Vm {
    vcpus: Vec<VcpuFd>,
    io: Arc<Bus>,
    mmio: Arc<Bus>,
    entry: Entry,
    logger: Logger,
    _irqfds: Vec<Arc<IrqFd>>,
    _vm: Arc<VmFd>,
    _kvm: Kvm,
    // Dropped last: KVM's slots point into it.
    memory: Arc<Memory>,
}

impl Vm {
    /// Assemble the VM described by `spec`.
    pub fn build(spec: &VmSpec, shared: &Shared) -> Result<Vm, Error> {
        Self::build_with(
            spec,
            shared,
            Logger::new(&spec.logger, &spec.name, Instant::now()),
        )
    }

    fn build_with(spec: &VmSpec, shared: &Shared, logger: Logger) -> Result<Vm, Error> {
        let memory = Memory::new(&spec.memory)?;
        let kvm = Kvm::new().map_err(|e| Error::Host(format!("cannot open /dev/kvm: {e}")))?;
        let vm = kvm.create_vm().map_err(kvm_err("create VM"))?;
        vm.set_tss_address(0xfffb_d000)
            .map_err(kvm_err("TSS address"))?;
        let vm = Arc::new(vm);
        let memory = Arc::new(memory);
        // Memory slots are registered on another thread while the rest is
        // assembled: each slot change waits for an SRCU grace period, which
        // then overlaps with the irqchip's and the vCPUs' set-up.
        let slots = {
            let (vm, memory) = (vm.clone(), memory.clone());
            std::thread::Builder::new()
                .name("memslots".into())
                .spawn(move || memory.register(&vm))
                .map_err(|e| Error::Host(format!("cannot start a thread: {e}")))?
        };
        vm.create_irq_chip().map_err(kvm_err("in-kernel irqchip"))?;
        logger.debug("VM and irqchip created");

        // vdevs: in-kernel bindings first, so `intr` names resolve
        let mut created = Vec::new();
        let mut bindings = Vec::new();
        let placeholder = Context {
            irq: None,
            logger: logger.clone(),
            power_button: shared.power_button.clone(),
        };
        for v in &spec.vdevs {
            match v.base_kind() {
                "8259" | "ioapic" | "timer8254" => {
                    if let Created::InKernel(b) = vdev::create(v, &placeholder)? {
                        bindings.push(b);
                    }
                }
                _ => {}
            }
        }
        let controllers = Controllers::new(&bindings)?;
        controllers
            .route(&vm)
            .map_err(|e| Error::Host(e.to_string()))?;
        if controllers.pit_pin.is_some() {
            let cfg = kvm_pit_config {
                flags: KVM_PIT_SPEAKER_DUMMY,
                ..Default::default()
            };
            vm.create_pit2(cfg).map_err(kvm_err("in-kernel PIT"))?;
        }
        let mut io = Bus::default();
        let mut mmio = Bus::default();
        let mut irqfds = Vec::new();
        if let Some(base) = controllers.ioapic_base().filter(|&b| b != IOAPIC_BASE) {
            let dev: SharedDevice =
                Arc::new(Mutex::new(Box::new(irq::RelocatedIoapic::new(vm.clone()))));
            mmio.insert(base, 0x100, 0, dev, "ioapic")
                .map_err(Error::Config)?;
            logger.debug(format_args!(
                "ioapic at {base:#x} forwarded to KVM's at {IOAPIC_BASE:#x}"
            ));
        }
        for v in &spec.vdevs {
            if matches!(v.base_kind(), "8259" | "ioapic" | "timer8254") {
                continue;
            }
            let irq: Option<Arc<dyn vdev::IrqLine>> = match &v.intr {
                Some(i) => {
                    let gsi = controllers.gsi(i, v.base_kind())?;
                    let fd = Arc::new(IrqFd::new(&vm, gsi)?);
                    irqfds.push(fd.clone());
                    Some(fd)
                }
                None => None,
            };
            let ctx = Context {
                irq,
                logger: logger.clone(),
                power_button: shared.power_button.clone(),
            };
            match vdev::create(v, &ctx)? {
                Created::Bus { device, ranges } => {
                    created.push((v.base_kind().to_string(), device, ranges))
                }
                Created::InKernel(_) => {}
            }
        }
        for (name, device, ranges) in created {
            let dev: SharedDevice = Arc::new(Mutex::new(device));
            for (i, r) in ranges.iter().enumerate() {
                let bus = if r.space == Space::Io {
                    &mut io
                } else {
                    &mut mmio
                };
                bus.insert(r.base, r.len, i, dev.clone(), &name)
                    .map_err(|e| Error::Config(format!("vdev {name}: {e}")))?;
            }
        }

        logger.debug("vdevs created");
        if logger.enabled(vdev::Level::Debug) {
            for (start, len, host) in memory.host_ranges() {
                logger.debug(format_args!(
                    "guest memory {start:#x}+{len:#x} at host {host:#x}"
                ));
            }
        }
        let entry = boot::load(spec, &memory)?;
        logger.debug(format_args!(
            "boot: {} entry {:#x}",
            entry.protocol, entry.rip
        ));

        let cpus = spec.cpus.max(1);
        if cpus > 254 {
            return Err(Error::Config(format!("{cpus} vCPUs (at most 254)")));
        }
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm_err("supported CPUID"))?;
        let mut vcpus = Vec::new();
        for id in 0..cpus {
            let vcpu = vm
                .create_vcpu(u64::from(id))
                .map_err(kvm_err("create vCPU"))?;
            cpu::set_cpuid(&vcpu, &cpuid, id, cpus)?;
            cpu::set_msrs(&vcpu)?;
            cpu::set_lapic(&vcpu)?;
            cpu::set_fpu(&vcpu)?;
            if id == 0 {
                cpu::set_entry(&vcpu, &entry)?;
            }
            vcpus.push(vcpu);
        }
        logger.debug("vCPUs created");
        slots
            .join()
            .map_err(|_| Error::Host("the memory-slot thread panicked".into()))??;
        logger.debug("memory registered");
        Ok(Vm {
            vcpus,
            io: Arc::new(io),
            mmio: Arc::new(mmio),
            entry,
            logger,
            _irqfds: irqfds,
            _vm: vm,
            _kvm: kvm,
            memory,
        })
    }
}

/// What a vCPU thread tells the main thread.
enum Event {
    /// The VM must end (or reset).
    End(End),
    /// The thread has left its loop.
    Exited,
}

enum End {
    Reset(String),
    Done(Outcome),
}

struct VcpuCtx {
    id: usize,
    io: Arc<Bus>,
    mmio: Arc<Bus>,
    memory: Arc<Memory>,
    policy: Policy,
    exit_on_halt: bool,
    logger: Logger,
    shared: Arc<Shared>,
    halt: Arc<AtomicU8>,
    runmask: Vec<u32>,
    tx: Sender<Event>,
}

enum Action {
    Continue,
    Unsupported(String),
    Fail(String),
    TripleFault,
    InternalError,
    End(End),
}

fn done(code: ExitCode, reason: impl Into<String>) -> End {
    End::Done(Outcome {
        code,
        reason: reason.into(),
    })
}

fn access(
    ctx: &VcpuCtx,
    space: Space,
    addr: u64,
    read: Option<&mut [u8]>,
    write: Option<&[u8]>,
) -> Action {
    let bus = if space == Space::Io {
        &ctx.io
    } else {
        &ctx.mmio
    };
    let what = if space == Space::Io {
        "port"
    } else {
        "MMIO address"
    };
    match bus.find(addr) {
        Some(hit) => {
            let mut dev = match hit.device.lock() {
                Ok(d) => d,
                Err(_) => {
                    return Action::End(done(
                        ExitCode::VdevError,
                        format!("vdev {} failed earlier", hit.name),
                    ));
                }
            };
            let r = match (read, write) {
                (Some(data), _) => dev.read(hit.range, hit.offset, data).map(|()| Effect::None),
                (None, Some(data)) => dev.write(hit.range, hit.offset, data),
                (None, None) => Ok(Effect::None),
            };
            match r {
                Ok(Effect::None) => Action::Continue,
                Ok(Effect::Reset) => Action::End(End::Reset(format!("reset by {}", hit.name))),
                Ok(Effect::PowerOff) => Action::End(done(
                    ExitCode::Shutdown,
                    format!("powered off through {}", hit.name),
                )),
                Err(e) => Action::End(done(ExitCode::VdevError, e.to_string())),
            }
        }
        None => {
            if space == Space::Mem && write.is_some() && ctx.memory.contains(addr, 1) {
                return Action::Continue; // a write to ROM
            }
            let len = read
                .as_ref()
                .map(|d| d.len())
                .or(write.map(|d| d.len()))
                .unwrap_or(0);
            let msg = match write {
                Some(d) => format!(
                    "write of {:#x} ({len} bytes) to unclaimed {what} {addr:#x}",
                    vdev::le_value(d)
                ),
                None => format!("read ({len} bytes) of unclaimed {what} {addr:#x}"),
            };
            if let Some(d) = read {
                d.fill(0xff);
            }
            match ctx.policy {
                Policy::Ignore => {
                    ctx.logger.debug(&msg);
                    Action::Continue
                }
                Policy::Fail => Action::Fail(msg),
                Policy::Abort => Action::Unsupported(msg),
            }
        }
    }
}

fn inject_gp(vcpu: &VcpuFd) -> Result<(), kvm_ioctls::Error> {
    let mut ev = vcpu.get_vcpu_events()?;
    ev.exception.injected = 1;
    ev.exception.nr = 13;
    ev.exception.has_error_code = 1;
    ev.exception.error_code = 0;
    ev.exception.pending = 0;
    vcpu.set_vcpu_events(&ev)
}

/// Restrict the calling thread to `cpus` (host CPU numbers).
fn set_affinity(cpus: &[u32]) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays within it
    // (numbers are checked against CPU_SETSIZE), and sched_setaffinity reads
    // exactly size_of::<cpu_set_t>() bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c as usize >= libc::CPU_SETSIZE as usize {
                return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
            }
            libc::CPU_SET(c as usize, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn vcpu_loop(mut vcpu: VcpuFd, ctx: VcpuCtx) {
    if !ctx.runmask.is_empty()
        && let Err(e) = set_affinity(&ctx.runmask)
    {
        let _ = ctx.tx.send(Event::End(done(
            ExitCode::AfterStart,
            format!("vCPU {}: runmask {:?}: {e}", ctx.id, ctx.runmask),
        )));
        let _ = ctx.tx.send(Event::Exited);
        return;
    }
    let end = loop {
        if ctx.shared.stop.load(Ordering::SeqCst) {
            break None;
        }
        let action = match vcpu.run() {
            Ok(exit) => match exit {
                VcpuExit::IoIn(port, data) => {
                    access(&ctx, Space::Io, u64::from(port), Some(data), None)
                }
                VcpuExit::IoOut(port, data) => {
                    access(&ctx, Space::Io, u64::from(port), None, Some(data))
                }
                VcpuExit::MmioRead(addr, data) => access(&ctx, Space::Mem, addr, Some(data), None),
                VcpuExit::MmioWrite(addr, data) => access(&ctx, Space::Mem, addr, None, Some(data)),
                VcpuExit::Hlt if ctx.exit_on_halt => {
                    Action::End(done(ExitCode::Shutdown, "the guest halted"))
                }
                VcpuExit::Hlt => Action::Continue,
                VcpuExit::Shutdown => Action::TripleFault,
                VcpuExit::SystemEvent(t, _) => match t {
                    kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => {
                        Action::End(done(ExitCode::Shutdown, "shutdown"))
                    }
                    kvm_bindings::KVM_SYSTEM_EVENT_RESET => {
                        Action::End(End::Reset("system reset".into()))
                    }
                    t => Action::Unsupported(format!("system event {t}")),
                },
                VcpuExit::Intr => Action::Continue,
                VcpuExit::FailEntry(reason, cpu) => Action::Unsupported(format!(
                    "KVM entry failed: reason {reason:#x} on host CPU {cpu}"
                )),
                VcpuExit::InternalError => Action::InternalError,
                other => Action::Unsupported(format!("unexpected exit {other:?}")),
            },
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                if ctx.shared.halt_check.load(Ordering::SeqCst) {
                    let state = match vcpu.get_mp_state() {
                        Ok(s) if s.mp_state == kvm_bindings::KVM_MP_STATE_HALTED => {
                            let if_on = vcpu
                                .get_regs()
                                .map(|r| r.rflags & 0x200 != 0)
                                .unwrap_or(true);
                            if if_on { 0 } else { 1 }
                        }
                        Ok(s)
                            if s.mp_state == kvm_bindings::KVM_MP_STATE_UNINITIALIZED
                                || s.mp_state == kvm_bindings::KVM_MP_STATE_INIT_RECEIVED =>
                        {
                            2
                        }
                        _ => 0,
                    };
                    ctx.halt.store(state, Ordering::SeqCst);
                }
                Action::Continue
            }
            Err(e) => Action::End(done(
                ExitCode::AfterStart,
                format!("vCPU {}: KVM_RUN: {e}", ctx.id),
            )),
        };
        match action {
            Action::Continue => {}
            Action::Fail(msg) => {
                ctx.logger
                    .warn(format_args!("vCPU {}: {msg}: #GP to the guest", ctx.id));
                if let Err(e) = inject_gp(&vcpu) {
                    break Some(done(ExitCode::AfterStart, format!("injecting #GP: {e}")));
                }
            }
            Action::Unsupported(msg) => {
                let regs = cpu::dump(&vcpu, ctx.id);
                ctx.logger.log(
                    vdev::Level::Fatal,
                    format_args!("vCPU {}: {msg}\n{}", ctx.id, regs.trim_end()),
                );
                let code = if msg.starts_with("KVM") || msg.starts_with("unexpected") {
                    ExitCode::Unexpected
                } else {
                    ExitCode::Unsupported
                };
                break Some(done(code, msg));
            }
            Action::InternalError => {
                // SAFETY: the exit reason is KVM_EXIT_INTERNAL_ERROR, so the
                // `internal` member of the union is the one KVM filled.
                let internal = unsafe { vcpu.get_kvm_run().__bindgen_anon_1.internal };
                let n = (internal.ndata as usize).min(internal.data.len());
                let data: Vec<String> = internal.data[..n]
                    .iter()
                    .map(|d| format!("{d:#x}"))
                    .collect();
                let msg = format!(
                    "KVM internal error {} (data {})",
                    internal.suberror,
                    data.join(" ")
                );
                let regs = cpu::dump(&vcpu, ctx.id);
                ctx.logger.log(
                    vdev::Level::Fatal,
                    format_args!("vCPU {}: {msg}\n{}", ctx.id, regs.trim_end()),
                );
                break Some(done(ExitCode::Unexpected, msg));
            }
            Action::TripleFault => {
                if ctx.logger.enabled(vdev::Level::Debug) {
                    ctx.logger.debug(format_args!(
                        "vCPU {}: triple fault\n{}",
                        ctx.id,
                        cpu::dump(&vcpu, ctx.id).trim_end()
                    ));
                }
                break Some(End::Reset("triple fault".into()));
            }
            Action::End(e) => break Some(e),
        }
    };
    if let Some(e) = end {
        let _ = ctx.tx.send(Event::End(e));
    }
    let _ = ctx.tx.send(Event::Exited);
}

impl Vm {
    /// Run until the guest ends; `Err` carries a reset request.
    fn run(self, spec: &VmSpec, shared: Arc<Shared>) -> Result<Outcome, String> {
        let (tx, rx) = channel();
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let logger = self.logger.clone();
        logger.debug(format_args!(
            "starting {} vCPU(s) at {:#x} ({})",
            self.vcpus.len(),
            self.entry.rip,
            self.entry.protocol
        ));
        let mut spawn_error = None;
        for (id, vcpu) in self.vcpus.into_iter().enumerate() {
            let halt = Arc::new(AtomicU8::new(0));
            if let Ok(mut h) = shared.halt_state.lock() {
                h.push(halt.clone());
            }
            let ctx = VcpuCtx {
                id,
                io: self.io.clone(),
                mmio: self.mmio.clone(),
                memory: self.memory.clone(),
                policy: spec.unsupported_reference,
                exit_on_halt: spec.exit_on_halt,
                logger: logger.clone(),
                shared: shared.clone(),
                halt,
                runmask: spec.runmasks.get(id).cloned().unwrap_or_default(),
                tx: tx.clone(),
            };
            match std::thread::Builder::new()
                .name(format!("vcpu{id}"))
                .spawn(move || vcpu_loop(vcpu, ctx))
            {
                Ok(t) => threads.push(t),
                Err(e) => {
                    spawn_error = Some(format!("cannot start a vCPU thread: {e}"));
                    break;
                }
            }
        }
        drop(tx);
        let end = match spawn_error {
            Some(e) => End::Done(Outcome {
                code: ExitCode::AfterStart,
                reason: e,
            }),
            None => watch(spec, &shared, &rx, &threads, &logger),
        };
        // stop every vCPU: kick until each has left KVM_RUN
        shared.stop.store(true, Ordering::SeqCst);
        let mut exited = 0;
        let mut remaining_events = 0;
        while exited < threads.len() {
            for t in &threads {
                if !t.is_finished() {
                    let _ = t.kill(signals::kick_signal());
                }
            }
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(Event::Exited) => exited += 1,
                Ok(Event::End(_)) => remaining_events += 1,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for t in threads {
            let _ = t.join();
        }
        logger.debug(format_args!(
            "vCPUs stopped ({remaining_events} late events)"
        ));
        drop(self.io);
        drop(self.mmio);
        match end {
            End::Reset(r) => Err(r),
            End::Done(o) => Ok(o),
        }
    }
}

fn watch(
    spec: &VmSpec,
    shared: &Shared,
    rx: &Receiver<Event>,
    threads: &[JoinHandle<()>],
    logger: &Logger,
) -> End {
    let mut exited = 0;
    let mut deadline: Option<Instant> = None;
    let mut last_check = Instant::now();
    let mut checking = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(Event::End(e)) => return e,
            Ok(Event::Exited) => {
                exited += 1;
                if exited == threads.len() {
                    return done(ExitCode::Unexpected, "every vCPU thread ended");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return done(ExitCode::Unexpected, "vCPU threads gone");
            }
        }
        if signals::power_cut() {
            return done(ExitCode::PowerCut, "power cut (SIGQUIT)");
        }
        if signals::take_power_button() && deadline.is_none() {
            logger.info("power button pressed");
            shared.power_button.store(true, Ordering::SeqCst);
            deadline = Some(Instant::now() + Duration::from_millis(spec.power_button_timeout_ms));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return done(
                ExitCode::PowerCut,
                "the guest ignored the power button; power cut",
            );
        }
        if spec.exit_on_halt && last_check.elapsed() >= Duration::from_millis(20) {
            let states = shared
                .halt_state
                .lock()
                .map(|v| v.clone())
                .unwrap_or_default();
            if checking {
                let vals: Vec<u8> = states.iter().map(|s| s.load(Ordering::SeqCst)).collect();
                if vals.iter().all(|&v| v != 0) && vals.contains(&1) {
                    return done(ExitCode::Shutdown, "every vCPU halted (exit-on-halt)");
                }
            }
            for s in &states {
                s.store(0, Ordering::SeqCst);
            }
            shared.halt_check.store(true, Ordering::SeqCst);
            checking = true;
            for t in threads {
                let _ = t.kill(signals::kick_signal());
            }
            last_check = Instant::now();
        }
    }
}

/// Assemble and run, restarting on reset when asked to.
pub fn run(spec: &VmSpec, opts: &RunOptions) -> Outcome {
    let start = Instant::now();
    let logger = Logger::new(&spec.logger, &spec.name, start);
    let fatal = |code: ExitCode, reason: String| {
        logger.log(vdev::Level::Fatal, &reason);
        Outcome { code, reason }
    };
    if let Err(e) = signals::install(!opts.no_signal_handlers) {
        return fatal(ExitCode::BeforeStart, e);
    }
    let mut restarts = 0u32;
    loop {
        let shared = Arc::new(Shared::new());
        let vm = match Vm::build_with(spec, &shared, logger.clone()) {
            Ok(vm) => vm,
            Err(e) if restarts == 0 => return fatal(e.exit_code(), e.to_string()),
            Err(e) => return fatal(ExitCode::AfterStart, format!("restart failed: {e}")),
        };
        if spec.dryrun {
            logger.info("dry run: the VM was assembled");
            return Outcome {
                code: ExitCode::Shutdown,
                reason: "dry run".into(),
            };
        }
        match vm.run(spec, shared) {
            Ok(o) => {
                let level = if o.code == ExitCode::Shutdown {
                    vdev::Level::Info
                } else {
                    vdev::Level::Error
                };
                logger.log(
                    level,
                    format_args!("VM ended: {} (exit {})", o.reason, o.code.code()),
                );
                return o;
            }
            Err(reason) if spec.on_reset == ResetAction::Restart => {
                restarts += 1;
                logger.info(format_args!(
                    "guest reset ({reason}); restarting (#{restarts})"
                ));
            }
            Err(reason) => {
                logger.info(format_args!("VM ended: guest reset ({reason}) (exit 0)"));
                return Outcome {
                    code: ExitCode::Shutdown,
                    reason: format!("guest reset: {reason}"),
                };
            }
        }
    }
}
