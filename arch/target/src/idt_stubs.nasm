; Host IDT entry stubs for vectors 0-31. Each pushes a dummy error code where the processor
; pushes none, then the vector, saves the general registers as arch::HostExceptionFrame and
; calls
;     void hv_host_exception(HostExceptionFrame* frame)
; which may change frame->rip (fault fixup) before the stub returns with IRETQ.
; agevisor_host_idt_stubs is a table of 32 stub addresses, filled by the loader's RELATIVE
; relocations.
default rel
section .text

extern hv_host_exception

%macro STUB_NOERR 1
stub_%1:
    push 0
    push %1
    jmp exception_common
%endmacro
%macro STUB_ERR 1
stub_%1:
    push %1
    jmp exception_common
%endmacro

STUB_NOERR 0
STUB_NOERR 1
STUB_NOERR 2
STUB_NOERR 3
STUB_NOERR 4
STUB_NOERR 5
STUB_NOERR 6
STUB_NOERR 7
STUB_ERR   8
STUB_NOERR 9
STUB_ERR   10
STUB_ERR   11
STUB_ERR   12
STUB_ERR   13
STUB_ERR   14
STUB_NOERR 15
STUB_NOERR 16
STUB_ERR   17
STUB_NOERR 18
STUB_NOERR 19
STUB_NOERR 20
STUB_ERR   21
STUB_NOERR 22
STUB_NOERR 23
STUB_NOERR 24
STUB_NOERR 25
STUB_NOERR 26
STUB_NOERR 27
STUB_NOERR 28
STUB_ERR   29
STUB_ERR   30
STUB_NOERR 31

exception_common:
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rdi
    push rsi
    push rbp
    push rbx
    push rdx
    push rcx
    push rax
    mov rdi, rsp
    mov rbx, rsp
    and rsp, -16
    call hv_host_exception wrt ..plt
    mov rsp, rbx
    pop rax
    pop rcx
    pop rdx
    pop rbx
    pop rbp
    pop rsi
    pop rdi
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    add rsp, 16                     ; vector and error code
    iretq

; Instructions whose fault the host expects and survives: a #GP here resumes at the label
; after it with RAX = 1 (arch/target/include/arch/target/safe_msr.h).
global agevisor_safe_rdmsr
agevisor_safe_rdmsr:                ; int (uint32_t msr, uint64_t* value)
    mov ecx, edi
global agevisor_safe_rdmsr_insn
agevisor_safe_rdmsr_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
global agevisor_safe_rdmsr_fixup
agevisor_safe_rdmsr_fixup:
    mov eax, 1
    ret

global agevisor_safe_wrmsr
agevisor_safe_wrmsr:                ; int (uint32_t msr, uint64_t value)
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
global agevisor_safe_wrmsr_insn
agevisor_safe_wrmsr_insn:
    wrmsr
    xor eax, eax
    ret
global agevisor_safe_wrmsr_fixup
agevisor_safe_wrmsr_fixup:
    mov eax, 1
    ret

section .data
align 8
global agevisor_host_idt_stubs
agevisor_host_idt_stubs:
%assign i 0
%rep 32
    dq stub_%[i]
%assign i i+1
%endrep
