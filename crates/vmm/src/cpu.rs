//! vCPU set-up: CPUID, MSRs, LAPIC, FPU and the entry registers of each boot
//! protocol; a register dump for `unsupported ... abort`.

use kvm_bindings::{
    CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, Msrs, kvm_cpuid_entry2, kvm_fpu, kvm_msr_entry,
    kvm_regs, kvm_segment,
};
use kvm_ioctls::VcpuFd;

use crate::boot::{Entry, GDT, Mode, PML4};
use crate::{Error, kvm_err};

/// CPUID for vCPU `id` of `count`: what KVM supports, with the topology of
/// the VM rather than the host's: one package of `count` cores, one thread
/// each. APIC ID in leaf 1 EBX[31:24] and leaves 0xb/0x1f EDX, the logical
/// processor count in leaf 1, the levels of leaves 0xb/0x1f (SMT: 1 thread;
/// core: `count`), cores per package in leaf 4, and the hypervisor bit.
pub(crate) fn set_cpuid(vcpu: &VcpuFd, base: &CpuId, id: u32, count: u32) -> Result<(), Error> {
    let mut cpuid = base.clone();
    // Leaf 0xb needs its SMT, core and terminating levels, whatever the host reports.
    if cpuid.as_slice().iter().any(|e| e.function == 0xb) {
        for index in 0..3 {
            if !cpuid
                .as_slice()
                .iter()
                .any(|e| e.function == 0xb && e.index == index)
            {
                let e = kvm_cpuid_entry2 {
                    function: 0xb,
                    index,
                    flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                    ..Default::default()
                };
                cpuid
                    .push(e)
                    .map_err(|e| Error::Host(format!("CPUID table full: {e:?}")))?;
            }
        }
    }
    // bits of the APIC ID that number the cores
    let core_bits = 32 - count.saturating_sub(1).leading_zeros();
    for e in cpuid.as_mut_slice() {
        match e.function {
            1 => {
                e.ebx = (e.ebx & 0x0000_ffff) | (count.min(255) << 16) | (id << 24);
                e.ecx |= 1 << 31;
                if count > 1 {
                    e.edx |= 1 << 28;
                }
            }
            4 => {
                // EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing this cache - 1
                let sharing = if (e.eax >> 5) & 7 >= 3 { count - 1 } else { 0 };
                e.eax = (e.eax & 0x3fff) | ((count - 1).min(63) << 26) | (sharing.min(0xfff) << 14);
            }
            0xb | 0x1f => {
                e.edx = id;
                match e.index {
                    0 => {
                        e.eax = 0;
                        e.ebx = 1;
                        e.ecx = 1 << 8;
                    }
                    1 => {
                        e.eax = core_bits;
                        e.ebx = count;
                        e.ecx = (2 << 8) | 1;
                    }
                    i => {
                        e.eax = 0;
                        e.ebx = 0;
                        e.ecx = i;
                    }
                }
            }
            _ => {}
        }
    }
    vcpu.set_cpuid2(&cpuid).map_err(kvm_err("set CPUID"))
}

/// MSRs a freshly reset x86 CPU has, as Linux and QNX expect them.
pub(crate) fn set_msrs(vcpu: &VcpuFd) -> Result<(), Error> {
    let entries: Vec<kvm_msr_entry> = [
        (0x174u32, 0u64),       // SYSENTER_CS
        (0x175, 0),             // SYSENTER_ESP
        (0x176, 0),             // SYSENTER_EIP
        (0xc000_0081, 0),       // STAR
        (0xc000_0082, 0),       // LSTAR
        (0xc000_0083, 0),       // CSTAR
        (0xc000_0084, 0),       // SYSCALL_MASK
        (0xc000_0102, 0),       // KERNEL_GS_BASE
        (0x10, 0),              // TSC
        (0x1a0, 1),             // MISC_ENABLE: fast strings
        (0x2ff, (1 << 11) | 6), // MTRRdefType: enabled, write-back
    ]
    .iter()
    .map(|&(index, data)| kvm_msr_entry {
        index,
        data,
        ..Default::default()
    })
    .collect();
    let msrs = Msrs::from_entries(&entries).map_err(|e| Error::Host(format!("MSR list: {e:?}")))?;
    let n = vcpu.set_msrs(&msrs).map_err(kvm_err("set MSRs"))?;
    if n != entries.len() {
        return Err(Error::Host(format!(
            "KVM accepted only {n} of {} MSRs",
            entries.len()
        )));
    }
    Ok(())
}

/// LAPIC: LINT0 as ExtINT (the 8259 path), LINT1 as NMI.
pub(crate) fn set_lapic(vcpu: &VcpuFd) -> Result<(), Error> {
    let mut lapic = vcpu.get_lapic().map_err(kvm_err("get LAPIC"))?;
    let mut put = |off: usize, v: u32| {
        for (i, b) in v.to_le_bytes().iter().enumerate() {
            lapic.regs[off + i] = *b as _;
        }
    };
    put(0x350, 0x700);
    put(0x360, 0x400);
    vcpu.set_lapic(&lapic).map_err(kvm_err("set LAPIC"))
}

/// FPU control words at their reset values.
pub(crate) fn set_fpu(vcpu: &VcpuFd) -> Result<(), Error> {
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu).map_err(kvm_err("set FPU"))
}

fn seg(selector: u16, type_: u8, db: u8, l: u8) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl: 0,
        db,
        s: 1,
        l,
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Registers of the boot vCPU for `entry`.
pub(crate) fn set_entry(vcpu: &VcpuFd, entry: &Entry) -> Result<(), Error> {
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("get sregs"))?;
    let data = seg(0x18, 3, 1, 0);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = kvm_segment {
        s: 0,
        type_: 11,
        db: 0,
        g: 0,
        limit: 0x67,
        ..seg(0x28, 11, 0, 0)
    };
    sregs.gdt.base = GDT;
    sregs.gdt.limit = 6 * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    let mut regs = kvm_regs {
        rip: entry.rip,
        rflags: 2,
        ..Default::default()
    };
    match entry.mode {
        Mode::Protected32 { eax, ebx } => {
            sregs.cs = seg(0x20, 11, 1, 0);
            sregs.cr0 = 0x11; // PE | ET
            sregs.cr4 = 0;
            sregs.efer = 0;
            regs.rax = u64::from(eax);
            regs.rbx = u64::from(ebx);
        }
        Mode::Long64 { rbx, rsi } => {
            sregs.cs = seg(0x10, 11, 0, 1);
            sregs.cr0 = 0x8000_0033; // PG | NE | ET | MP | PE
            sregs.cr3 = PML4;
            sregs.cr4 = 0x20 | 0x200 | 0x400; // PAE | OSFXSR | OSXMMEXCPT
            sregs.efer = 0x500; // LME | LMA
            regs.rbx = rbx;
            regs.rdi = rbx;
            regs.rsi = rsi;
        }
    }
    vcpu.set_sregs(&sregs).map_err(kvm_err("set sregs"))?;
    vcpu.set_regs(&regs).map_err(kvm_err("set regs"))
}

/// The vCPU's registers as text, for `unsupported ... abort` and crashes.
pub(crate) fn dump(vcpu: &VcpuFd, id: usize) -> String {
    let mut s = format!("vCPU {id} registers:\n");
    match vcpu.get_regs() {
        Ok(r) => {
            s += &format!(
                "  rip {:016x} rflags {:016x} rsp {:016x} rbp {:016x}\n  rax {:016x} rbx {:016x} rcx {:016x} rdx {:016x}\n  rsi {:016x} rdi {:016x} r8  {:016x} r9  {:016x}\n  r10 {:016x} r11 {:016x} r12 {:016x} r13 {:016x}\n  r14 {:016x} r15 {:016x}\n",
                r.rip,
                r.rflags,
                r.rsp,
                r.rbp,
                r.rax,
                r.rbx,
                r.rcx,
                r.rdx,
                r.rsi,
                r.rdi,
                r.r8,
                r.r9,
                r.r10,
                r.r11,
                r.r12,
                r.r13,
                r.r14,
                r.r15
            );
        }
        Err(e) => s += &format!("  (registers unavailable: {e})\n"),
    }
    if let Ok(sr) = vcpu.get_sregs() {
        s += &format!(
            "  cs {:04x} ds {:04x} ss {:04x} cr0 {:016x} cr2 {:016x} cr3 {:016x} cr4 {:016x} efer {:x}\n",
            sr.cs.selector, sr.ds.selector, sr.ss.selector, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer
        );
    }
    s
}
