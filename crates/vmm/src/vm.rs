//! Assembling a VM from its spec, and running it: one thread per vCPU, the
//! calling thread watching signals, halts and the vCPUs' reports.

#![allow(unsafe_code, reason = "KVM memory slots and vCPU run structures")]

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{KVM_MAX_CPUID_ENTRIES, KVM_PIT_SPEAKER_DUMMY, kvm_pit_config};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use vdev::event::{EventLoop, Flow, Wake};
use vdev::{Context, Created, Effect, EndVm, Logger, Space};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};
use vmm_sys_util::signal::Killable;

use crate::boot::{self, Entry};
use crate::bus::{Bus, SharedDevice};
use crate::irq::{IOAPIC_BASE, IrqFd};
use crate::memory::{Mapper, Memory};
use crate::spec::{Policy, ResetAction, VmSpec};
use crate::{
    Error, ExitCode, Outcome, RunOptions, cpu, irq, kvm_err, pci, platform, signals, validate,
};

/// State shared between the main thread and the vCPU threads.
pub(crate) struct Shared {
    stop: AtomicBool,
    power_button: Arc<AtomicBool>,
    /// Per vCPU: 0 running, 1 halted with interrupts off, 2 waiting for SIPI.
    halt_state: Mutex<Vec<Arc<AtomicU8>>>,
    halt_check: AtomicBool,
}

impl Shared {
    /// Fresh state for one run.
    pub(crate) fn new() -> Shared {
        Shared {
            stop: AtomicBool::new(false),
            power_button: Arc::new(AtomicBool::new(false)),
            halt_state: Mutex::new(Vec::new()),
            halt_check: AtomicBool::new(false),
        }
    }
}

/// An assembled VM.
pub(crate) struct Vm {
    vcpus: Vec<VcpuFd>,
    io: Arc<Bus>,
    mmio: Arc<Bus>,
    pci: Arc<Mutex<pci::PciBus>>,
    entry: Entry,
    logger: Logger,
    end: EndVm,
    _irqfds: Vec<Arc<IrqFd>>,
    _vm: Arc<VmFd>,
    _kvm: Kvm,
    // Dropped last: KVM's slots point into it.
    memory: Arc<Memory>,
}

impl Vm {
    /// Assemble the VM described by `spec`.
    pub(crate) fn build(spec: &VmSpec, shared: &Shared) -> Result<Vm, Error> {
        Self::build_with(
            spec,
            shared,
            Logger::new(&spec.logger, &spec.name, Instant::now()),
        )
    }

    fn build_with(spec: &VmSpec, shared: &Shared, logger: Logger) -> Result<Vm, Error> {
        // the checks `preflight` reports, and what they work out
        let plan = validate::plan(spec).map_err(validate::first_error)?;
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

        let end = EndVm::new().map_err(|e| Error::Host(format!("eventfd: {e}")))?;
        let mapper = Arc::new(Mapper::new(vm.clone(), memory.clone()));
        let machine = platform::machine(spec, &plan);
        let (io, mmio, irqfds, pci) =
            create_devices(spec, plan, &vm, shared, &logger, &end, &mapper)?;
        let machine = platform::with_pci(machine, &pci);
        logger.debug("vdevs created");
        if logger.enabled(vdev::Level::Debug) {
            for (start, len, host) in memory.host_ranges() {
                logger.debug(format_args!(
                    "guest memory {start:#x}+{len:#x} at host {host:#x}"
                ));
            }
        }
        let platform = platform::firmware_tables(spec, &machine, &memory, &logger)?;
        let entry = boot::load(spec, &memory, &platform)?;
        logger.debug(format_args!(
            "boot: {} entry {:#x}",
            entry.protocol, entry.rip
        ));

        let vcpus = create_vcpus(&kvm, &vm, spec, &entry)?;
        logger.debug("vCPUs created");
        slots
            .join()
            .map_err(|_| Error::Host("the memory-slot thread panicked".into()))??;
        logger.debug("memory registered");
        Ok(Vm {
            vcpus,
            io: Arc::new(io),
            mmio: Arc::new(mmio),
            pci,
            entry,
            logger,
            end,
            _irqfds: irqfds,
            _vm: vm,
            _kvm: kvm,
            memory,
        })
    }
}

/// The port and MMIO buses, the irqfds, the PCI bus.
type Devices = (Bus, Bus, Vec<Arc<IrqFd>>, Arc<Mutex<pci::PciBus>>);

/// The buses with their user-space vdevs (and a relocated ioapic's
/// forwarder), and the irqfds the vdevs raise their lines through.
fn create_devices(
    spec: &VmSpec,
    plan: validate::Plan,
    vm: &Arc<VmFd>,
    shared: &Shared,
    logger: &Logger,
    end: &EndVm,
    mapper: &Arc<Mapper>,
) -> Result<Devices, Error> {
    let mut created = Vec::new();
    let controllers = plan.controllers;
    controllers
        .route(vm)
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
    // KVM's own IOAPIC and local APICs
    mapper.reserve(IOAPIC_BASE, 0x1000);
    mapper.reserve(irq::LAPIC_BASE, 0x1000);
    let lines: Arc<dyn vdev::IrqLines> = Arc::new(irq::GsiLines::new(
        vm.clone(),
        controllers.pit_pin.is_some(),
    ));
    if let Some(base) = controllers.ioapic_base().filter(|&b| b != IOAPIC_BASE) {
        let dev: SharedDevice =
            Arc::new(Mutex::new(Box::new(irq::RelocatedIoapic::new(vm.clone()))));
        mmio.insert(base, 0x100, 0, dev, "ioapic")
            .map_err(Error::Config)?;
        mapper.reserve(base, 0x1000);
        logger.debug(format_args!(
            "ioapic at {base:#x} forwarded to KVM's at {IOAPIC_BASE:#x}"
        ));
    }
    let mut functions = Vec::new();
    for (i, v) in spec.vdevs.iter().enumerate() {
        if plan.in_kernel[i] {
            continue;
        }
        if let Some(addr) = plan.pci[i] {
            functions.push((i, addr, plan.gsis[i].first().copied()));
            continue;
        }
        let mut irqs: Vec<Arc<dyn vdev::IrqLine>> = Vec::new();
        for &gsi in &plan.gsis[i] {
            let fd = Arc::new(IrqFd::new(vm, gsi)?);
            irqfds.push(fd.clone());
            irqs.push(fd);
        }
        let ctx = Context {
            irqs,
            lines: Some(lines.clone()),
            mapper: Some(mapper.clone()),
            logger: logger.clone(),
            power_button: shared.power_button.clone(),
            memory: Some(mapper.guest_memory()),
            end: end.clone(),
        };
        match vdev::create(v, &ctx)? {
            Created::Bus { device, ranges } => {
                created.push((v.base_kind().to_string(), device, ranges))
            }
            Created::InKernel(_) => {}
        }
    }
    for (name, device, ranges) in created {
        irq::register_ioevents(vm, device.ioevents(), &name)?;
        let dev: SharedDevice = Arc::new(Mutex::new(device));
        for (i, r) in ranges.iter().enumerate() {
            let bus = if r.space == Space::Io {
                &mut io
            } else {
                &mut mmio
            };
            bus.insert(r.base, r.len, i, dev.clone(), &name)
                .map_err(|e| Error::Config(format!("vdev {name}: {e}")))?;
            if r.space == Space::Mem {
                mapper.reserve(r.base, r.len);
            }
        }
    }
    let base = Context {
        irqs: Vec::new(),
        lines: Some(lines),
        mapper: Some(mapper.clone()),
        logger: logger.clone(),
        power_button: shared.power_button.clone(),
        end: end.clone(),
        memory: Some(mapper.guest_memory()),
    };
    let pci = platform::create_pci(spec, &functions, (vm, &controllers), &base, &mut irqfds)?;
    if !functions.is_empty() {
        // BARs may be moved anywhere in the PCI window
        mapper.reserve(pci::MMIO_START, pci::MMIO_END - pci::MMIO_START);
    }
    mapper.reserve(pci::ECAM_BASE, pci::ECAM_LEN);
    platform::attach_pci(spec, &pci, &mut io, &mut mmio, logger)?;
    Ok((io, mmio, irqfds, pci))
}

/// The vCPUs with CPUID, MSRs, LAPIC and FPU set; the boot vCPU at `entry`.
fn create_vcpus(kvm: &Kvm, vm: &VmFd, spec: &VmSpec, entry: &Entry) -> Result<Vec<VcpuFd>, Error> {
    let cpus = spec.cpus.max(1); // at most validate::MAX_CPUS
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
            cpu::set_entry(&vcpu, entry)?;
        }
        vcpus.push(vcpu);
    }
    Ok(vcpus)
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
    pci: Arc<Mutex<pci::PciBus>>,
    memory: Arc<Memory>,
    policy: Policy,
    exit_on_halt: bool,
    logger: Logger,
    shared: Arc<Shared>,
    halt: Arc<AtomicU8>,
    runmask: Vec<u32>,
    tx: Reporter,
}

/// A vCPU thread's line to the main thread: a channel, and an eventfd that
/// wakes the main thread's event loop when something was sent.
#[derive(Clone)]
struct Reporter {
    tx: Sender<Event>,
    wake: Arc<EventFd>,
}

impl Reporter {
    fn send(&self, event: Event) {
        if self.tx.send(event).is_ok() {
            // fails only on counter overflow, when the loop is woken anyway
            let _ = self.wake.write(1);
        }
    }
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

/// What a device's answer to an access does to the VM.
fn effect(r: Result<Effect, vdev::Error>, name: &str) -> Action {
    match r {
        Ok(Effect::None) => Action::Continue,
        Ok(effect) => Action::End(effect_end(effect, name)),
        Err(e) => Action::End(done(ExitCode::VdevError, e.to_string())),
    }
}

/// How a device's [`Effect`] (other than none) ends the VM; `by` names the
/// device, or says why for a device's own thread.
fn effect_end(effect: Effect, by: &str) -> End {
    match effect {
        Effect::Reset => End::Reset(format!("reset by {by}")),
        Effect::PowerOff => done(ExitCode::Shutdown, format!("powered off through {by}")),
        Effect::Watchdog => done(ExitCode::Watchdog, by),
        Effect::None => done(ExitCode::Unexpected, format!("{by}: ended for no reason")),
    }
}

fn access(
    ctx: &VcpuCtx,
    space: Space,
    addr: u64,
    mut read: Option<&mut [u8]>,
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
            effect(r, hit.name)
        }
        None => {
            let bar = match ctx.pci.lock() {
                Ok(mut pci) => pci.bar_access(space, addr, read.as_deref_mut(), write),
                Err(_) => Some(Err(vdev::Error::Runtime {
                    vdev: "pci".into(),
                    msg: "the PCI bus failed earlier".into(),
                })),
            };
            if let Some(r) = bar {
                return effect(r, "a PCI function");
            }
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
        ctx.tx.send(Event::End(done(
            ExitCode::AfterStart,
            format!("vCPU {}: runmask {:?}: {e}", ctx.id, ctx.runmask),
        )));
        ctx.tx.send(Event::Exited);
        return;
    }
    // Kicks set immediate_exit from here on, so that a kick just before
    // KVM_RUN is not lost; the stop flag is checked after arming.
    signals::arm_kick(std::ptr::addr_of_mut!(vcpu.get_kvm_run().immediate_exit));
    let end = vcpu_run_loop(&mut vcpu, &ctx);
    signals::arm_kick(std::ptr::null_mut());
    if let Some(e) = end {
        ctx.tx.send(Event::End(e));
    }
    ctx.tx.send(Event::Exited);
}

/// The halt state of a vCPU kicked out of KVM_RUN: 0 running, 1 halted with
/// interrupts off, 2 waiting for SIPI.
fn halt_state(vcpu: &VcpuFd) -> u8 {
    match vcpu.get_mp_state() {
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
    }
}

fn exit_action(ctx: &VcpuCtx, exit: VcpuExit) -> Action {
    match exit {
        VcpuExit::IoIn(port, data) => access(ctx, Space::Io, u64::from(port), Some(data), None),
        VcpuExit::IoOut(port, data) => access(ctx, Space::Io, u64::from(port), None, Some(data)),
        VcpuExit::MmioRead(addr, data) => access(ctx, Space::Mem, addr, Some(data), None),
        VcpuExit::MmioWrite(addr, data) => access(ctx, Space::Mem, addr, None, Some(data)),
        VcpuExit::Hlt if ctx.exit_on_halt => {
            Action::End(done(ExitCode::Shutdown, "the guest halted"))
        }
        VcpuExit::Hlt => Action::Continue,
        VcpuExit::Shutdown => Action::TripleFault,
        VcpuExit::SystemEvent(t, _) => match t {
            kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => {
                Action::End(done(ExitCode::Shutdown, "shutdown"))
            }
            kvm_bindings::KVM_SYSTEM_EVENT_RESET => Action::End(End::Reset("system reset".into())),
            t => Action::Unsupported(format!("system event {t}")),
        },
        VcpuExit::Intr => Action::Continue,
        VcpuExit::FailEntry(reason, cpu) => Action::Unsupported(format!(
            "KVM entry failed: reason {reason:#x} on host CPU {cpu}"
        )),
        VcpuExit::InternalError => Action::InternalError,
        other => Action::Unsupported(format!("unexpected exit {other:?}")),
    }
}

/// Run the vCPU until it ends the VM (`Some`) or is stopped (`None`).
fn vcpu_run_loop(vcpu: &mut VcpuFd, ctx: &VcpuCtx) -> Option<End> {
    loop {
        if ctx.shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        let action = match vcpu.run() {
            Ok(exit) => exit_action(ctx, exit),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                vcpu.set_kvm_immediate_exit(0);
                if ctx.shared.halt_check.load(Ordering::SeqCst) {
                    ctx.halt.store(halt_state(vcpu), Ordering::SeqCst);
                }
                Action::Continue
            }
            Err(e) => Action::End(done(
                ExitCode::AfterStart,
                format!("vCPU {}: KVM_RUN: {e}", ctx.id),
            )),
        };
        if let Some(end) = act(vcpu, ctx, action) {
            return Some(end);
        }
    }
}

/// What the vCPU thread does about `action`; `Some` ends the VM.
fn act(vcpu: &mut VcpuFd, ctx: &VcpuCtx, action: Action) -> Option<End> {
    match action {
        Action::Continue => {}
        Action::Fail(msg) => {
            ctx.logger
                .warn(format_args!("vCPU {}: {msg}: #GP to the guest", ctx.id));
            if let Err(e) = inject_gp(vcpu) {
                return Some(done(ExitCode::AfterStart, format!("injecting #GP: {e}")));
            }
        }
        Action::Unsupported(msg) => {
            let regs = cpu::dump(vcpu, ctx.id);
            ctx.logger.log(
                vdev::Level::Fatal,
                format_args!("vCPU {}: {msg}\n{}", ctx.id, regs.trim_end()),
            );
            let code = if msg.starts_with("KVM") || msg.starts_with("unexpected") {
                ExitCode::Unexpected
            } else {
                ExitCode::Unsupported
            };
            return Some(done(code, msg));
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
            let regs = cpu::dump(vcpu, ctx.id);
            ctx.logger.log(
                vdev::Level::Fatal,
                format_args!("vCPU {}: {msg}\n{}", ctx.id, regs.trim_end()),
            );
            return Some(done(ExitCode::Unexpected, msg));
        }
        Action::TripleFault => {
            if ctx.logger.enabled(vdev::Level::Debug) {
                ctx.logger.debug(format_args!(
                    "vCPU {}: triple fault\n{}",
                    ctx.id,
                    cpu::dump(vcpu, ctx.id).trim_end()
                ));
            }
            return Some(End::Reset("triple fault".into()));
        }
        Action::End(e) => return Some(e),
    }
    None
}

impl Vm {
    /// Run until the guest ends; `Err` carries a reset request. `button` is
    /// the power button's deadline, kept across restarts.
    fn run(
        self,
        spec: &VmSpec,
        shared: Arc<Shared>,
        button: &mut Option<Instant>,
    ) -> Result<Outcome, String> {
        let (tx, rx) = channel();
        let wake = match EventFd::new(EFD_NONBLOCK) {
            Ok(w) => Arc::new(w),
            Err(e) => return Ok(done_outcome(format!("eventfd: {e}"))),
        };
        let tx = Reporter {
            tx,
            wake: wake.clone(),
        };
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
                pci: self.pci.clone(),
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
            Some(e) => End::Done(done_outcome(e)),
            None => {
                let w = Watch {
                    spec,
                    end: &self.end,
                    shared: &shared,
                    rx: &rx,
                    threads: &threads,
                    logger: &logger,
                };
                w.watch(&wake, button)
                    .unwrap_or_else(|e| End::Done(done_outcome(format!("event loop: {e}"))))
            }
        };
        // Stop every vCPU: one kick each suffices (it sets immediate_exit),
        // then wait for each thread to report that it left its loop.
        shared.stop.store(true, Ordering::SeqCst);
        for t in threads.iter().filter(|t| !t.is_finished()) {
            let _ = t.kill(signals::kick_signal());
        }
        let mut remaining_events = 0;
        while let Ok(ev) = rx.recv() {
            if let Event::End(_) = ev {
                remaining_events += 1;
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

fn done_outcome(reason: String) -> Outcome {
    Outcome {
        code: ExitCode::AfterStart,
        reason,
    }
}

/// Milliseconds as seconds for a message: 300 → `0.3`, 10000 → `10`.
fn seconds(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{frac:03}").trim_end_matches('0').to_string()
    }
}

/// How often exit-on-halt samples the vCPUs' halt states.
const HALT_SAMPLE: Duration = Duration::from_millis(20);

/// The main thread's view of a running VM.
struct Watch<'a> {
    spec: &'a VmSpec,
    end: &'a EndVm,
    shared: &'a Shared,
    rx: &'a Receiver<Event>,
    threads: &'a [JoinHandle<()>],
    logger: &'a Logger,
}

impl Watch<'_> {
    /// Wait for the VM to end: a vCPU's report, a signal, the power
    /// button's deadline; with exit-on-halt, sample the halt states.
    fn watch(&self, wake: &Arc<EventFd>, button: &mut Option<Instant>) -> std::io::Result<End> {
        let mut lp = EventLoop::new()?;
        let w = wake.clone();
        lp.add(&**wake, move |_| {
            let _ = w.read();
            Flow::Continue
        })?;
        // devices' own threads end the VM through `end`: its eventfd wakes
        // the loop, and the request is taken below
        lp.add(self.end.fd(), |_| Flow::Continue)?;
        signals::watch(&mut lp)?;
        if button.is_some() {
            self.shared.power_button.store(true, Ordering::SeqCst);
        }
        let mut exited = 0;
        let mut next_sample = Instant::now() + HALT_SAMPLE;
        let mut checking = false;
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(Event::End(e)) => return Ok(e),
                    Ok(Event::Exited) => {
                        exited += 1;
                        if exited == self.threads.len() {
                            return Ok(done(ExitCode::Unexpected, "every vCPU thread ended"));
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        return Ok(done(ExitCode::Unexpected, "vCPU threads gone"));
                    }
                }
            }
            if let Some((effect, why)) = self.end.take() {
                return Ok(effect_end(effect, &why));
            }
            if let Some(end) = self.lifecycle(button) {
                return Ok(end);
            }
            if self.spec.exit_on_halt && Instant::now() >= next_sample {
                if checking && self.all_halted() {
                    return Ok(done(ExitCode::Shutdown, "every vCPU halted (exit-on-halt)"));
                }
                self.sample_halts();
                checking = true;
                next_sample = Instant::now() + HALT_SAMPLE;
            }
            let mut until = *button;
            if self.spec.exit_on_halt {
                until = Some(until.map_or(next_sample, |b| b.min(next_sample)));
            }
            let timeout = until.map(|u| u.saturating_duration_since(Instant::now()));
            if lp.poll(timeout)? == Wake::Stopped {
                return Ok(done(ExitCode::Unexpected, "event loop stopped"));
            }
        }
    }

    /// SIGQUIT, SIGTERM/SIGINT and the power button's deadline.
    fn lifecycle(&self, button: &mut Option<Instant>) -> Option<End> {
        if signals::power_cut() {
            return Some(done(ExitCode::PowerCut, "power cut (SIGQUIT)"));
        }
        let wait = seconds(self.spec.power_button_timeout_ms);
        if signals::take_power_button() && button.is_none() {
            self.logger.info(format_args!(
                "power button pressed; the guest has {wait} s to power off"
            ));
            self.shared.power_button.store(true, Ordering::SeqCst);
            *button =
                Some(Instant::now() + Duration::from_millis(self.spec.power_button_timeout_ms));
        }
        if button.is_some_and(|d| Instant::now() >= d) {
            return Some(done(
                ExitCode::PowerCut,
                format!(
                    "the guest ignored the power button: it did not power off within {wait} s, so the VM was stopped (power cut)"
                ),
            ));
        }
        None
    }

    fn halt_states(&self) -> Vec<Arc<AtomicU8>> {
        self.shared
            .halt_state
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// True when every vCPU sampled since the last kick is halted or waiting
    /// for SIPI, and one at least halted with interrupts off.
    fn all_halted(&self) -> bool {
        let vals: Vec<u8> = self
            .halt_states()
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .collect();
        vals.iter().all(|&v| v != 0) && vals.contains(&1)
    }

    /// Reset the halt states and kick every vCPU to report its own.
    fn sample_halts(&self) {
        for s in &self.halt_states() {
            s.store(0, Ordering::SeqCst);
        }
        self.shared.halt_check.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.kill(signals::kick_signal());
        }
    }
}

/// Assemble and run, restarting on reset when asked to.
pub(crate) fn run(spec: &VmSpec, opts: &RunOptions) -> Outcome {
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
    let mut button = None;
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
        match vm.run(spec, shared, &mut button) {
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

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_for_messages() {
        assert_eq!(super::seconds(300), "0.3");
        assert_eq!(super::seconds(10_000), "10");
        assert_eq!(super::seconds(1_250), "1.25");
        assert_eq!(super::seconds(5), "0.005");
    }
}
