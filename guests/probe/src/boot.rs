//! Entry points, the switch from 32-bit protected mode to long mode, page
//! tables, GDT, IDT and interrupt stubs.
//!
//! Entry kinds passed to `probe_main` in `edi` (the info pointer in `esi`):
//! 1 PVH (`ebx` = hvm_start_info), 2 multiboot (`eax` = 0x2badb002, `ebx` =
//! multiboot info), 3 32-bit entry without a multiboot magic, 4 Linux 64-bit
//! boot protocol (`rsi` = boot_params), 5 ELF64 entry (`rbx` = hvm_start_info).

core::arch::global_asm!(
    r#"
    .section .text.raw_entry, "ax"
    .code32
    .globl _start_raw
_start_raw:
    jmp _start_mb

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long 0x1BADB002
    .long 0x00010003
    .long -(0x1BADB002 + 0x00010003)
    .long mb_header
    .long __load_start
    .long __load_end
    .long __bss_end
    .long _start_mb

    .section .note.Xen, "a"
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long _start_pvh
    .balign 4

    .section .text.boot32, "ax"
    .code32
    .globl _start_pvh
_start_pvh:
    mov %ebx, %esi
    mov $1, %edi
    jmp common32

    .globl _start_mb
_start_mb:
    mov %ebx, %esi
    mov $2, %edi
    cmp $0x2BADB002, %eax
    je common32
    mov $3, %edi
common32:
    cli
    /* identity-map the first 4 GiB: 1 GiB pages when the CPU has them
       (fewer page-table pages to touch), else 2 MiB pages */
    mov $0x80000001, %eax
    cpuid
    bt $26, %edx
    jnc 6f
    mov $pdpt, %edx
    xor %ecx, %ecx
7:  mov %ecx, %eax
    shl $30, %eax
    or $0x83, %eax
    mov %eax, (%edx,%ecx,8)
    movl $0, 4(%edx,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jb 7b
    jmp 8f
6:  mov $pd, %edx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, (%edx,%ecx,8)
    movl $0, 4(%edx,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b
    mov $pdpt, %edx
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $12, %eax
    add $pd, %eax
    or $3, %eax
    mov %eax, (%edx,%ecx,8)
    movl $0, 4(%edx,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jb 2b
8:  mov $pdpt, %eax
    or $3, %eax
    mov %eax, pml4
    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x620, %eax
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    and $0xFFFFFFFB, %eax
    or $0x80000023, %eax
    mov %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $start64_from32

    .code64
start64_from32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %esi, %esi
    mov %edi, %edi
    lea stack_top(%rip), %rsp
    call probe_main
3:  cli
    hlt
    jmp 3b

    .section .text.linux64, "ax"
    .globl _start_linux64
_start_linux64:
    mov $4, %edi
    lea stack_top(%rip), %rsp
    call probe_main
    jmp 3b

    .section .text.start64, "ax"
    .globl _start64
_start64:
    mov %rbx, %rsi
    mov $5, %edi
    lea stack_top(%rip), %rsp
    call probe_main
    jmp 3b

    .globl isr_timer
isr_timer:
    push %rax
    lock incl TICKS(%rip)
    mov $0xfee000b0, %rax
    movl $0, (%rax)
    pop %rax
    iretq

    .globl isr_uart
isr_uart:
    push %rax
    lock incl UART_IRQS(%rip)
    mov $0xfee000b0, %rax
    movl $0, (%rax)
    pop %rax
    iretq

    .globl isr_gp
isr_gp:
    lock incl GP_FAULTS(%rip)
    cmpl $16, GP_FAULTS(%rip)
    ja 4f
    add $8, %rsp
    iretq

    .globl isr_other
isr_other:
4:  mov $0x3f8, %dx
    mov $0x21, %al
    out %al, %dx
    mov $0x0a, %al
    out %al, %dx
5:  cli
    hlt
    jmp 5b

    .section .rodata.gdt, "a"
    .balign 8
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
gdt_ptr:
    .word 23
    .long gdt

    .section .bss.boot, "aw", @nobits
    .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4 * 4096
stack: .skip 16384
stack_top:
"#,
    options(att_syntax)
);
