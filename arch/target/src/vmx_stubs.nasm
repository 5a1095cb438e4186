; VMX launch and VM-exit entry stubs (System V AMD64 ABI on the C++ side).
;
; agevisor_vmlaunch: VMLAUNCH with guest RSP/RIP/RFLAGS taken from this very call, so a
;   successful launch continues *as the guest* at .guest_resume, which returns 0 to the
;   caller: the firmware goes on running, now in VMX non-root operation. A failed launch
;   returns 1 (VMfailInvalid) or 2 (VMfailValid) in the host.
;
; agevisor_vmexit_entry: HOST_RIP. Saves the guest's general registers as arch::GuestGprs
;   (rax first, at the lowest address; RSP lives in the VMCS), calls
;       bool hv_vmexit_handler(GuestGprs* gprs, void* vcpu)
;   with the vcpu pointer stored at [HOST_RSP], then VMRESUMEs if it returned true, or
;   calls hv_vmexit_stop(gprs, vcpu) (does not return) otherwise. A failed VMRESUME calls
;   hv_vmresume_failed(rflags, vcpu) (does not return).
;
; VMCS field encodings used here [SDM 3D "Field Encoding in VMCS"]:
GUEST_RSP    equ 0x681C
GUEST_RIP    equ 0x681E
GUEST_RFLAGS equ 0x6820

default rel
section .text

extern hv_vmexit_handler
extern hv_vmexit_stop
extern hv_vmresume_failed

%macro PUSH_GPRS 0
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
%endmacro

%macro POP_GPRS 0
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
%endmacro

GPRS_SIZE equ 15 * 8

global agevisor_vmlaunch
agevisor_vmlaunch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    pushfq
    mov rdx, [rsp]
    mov rax, GUEST_RFLAGS
    vmwrite rax, rdx
    mov rax, GUEST_RSP
    vmwrite rax, rsp
    lea rdx, [agevisor_vmlaunch_guest_resume]
    mov rax, GUEST_RIP
    vmwrite rax, rdx
    vmlaunch
    ; Still the host: the launch failed. CF -> 1 (VMfailInvalid), ZF -> 2 (VMfailValid).
    mov eax, 1
    jc .failed
    mov eax, 2
.failed:
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
global agevisor_vmlaunch_entry_failed
agevisor_vmlaunch_entry_failed:
    ; Back in the firmware context after a failed VM entry (see agevisor_resume_native).
    mov eax, 3
    jmp agevisor_vmlaunch.failed
global agevisor_vmlaunch_guest_resume
agevisor_vmlaunch_guest_resume:
    ; The guest: same stack, same callee-saved registers as at the call.
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    xor eax, eax
    ret

global agevisor_vmexit_entry
agevisor_vmexit_entry:
    ; HOST_RSP is 16-byte aligned and [HOST_RSP] holds the vcpu pointer.
    PUSH_GPRS
    mov rdi, rsp
    mov rsi, [rsp + GPRS_SIZE]
    sub rsp, 8                      ; HOST_RSP - 120 - 8: 16-byte aligned for the call
    call hv_vmexit_handler wrt ..plt
    add rsp, 8
    test al, al
    jz .stop
    POP_GPRS
    vmresume
    ; Still the host: VMRESUME failed.
    pushfq
    pop rdi
    mov rsi, [rsp]
    and rsp, -16
    call hv_vmresume_failed wrt ..plt
    ud2
.stop:
    mov rdi, rsp
    mov rsi, [rsp + GPRS_SIZE]
    and rsp, -16
    call hv_vmexit_stop wrt ..plt
    ud2

; struct arch::NativeContext offsets (arch/include/arch/native_context.h)
NC_CR3    equ 0
NC_TR     equ 8
NC_GDTR   equ 16
NC_IDTR   equ 32
NC_CS     equ 48
NC_SS     equ 56
NC_DS     equ 64
NC_ES     equ 72
NC_FS     equ 80
NC_GS     equ 88
NC_FSBASE equ 96
NC_GSBASE equ 104
NC_RSP    equ 112
NC_RFLAGS equ 120
NC_RIP    equ 128
NC_RAX    equ 136

; The firmware's CR3, GDT, IDT, TR, data segments and FS/GS bases from the NativeContext
; at RBX (clobbers RAX, RCX, RDX).
%macro RESTORE_NATIVE_TABLES 0
    mov rax, [rbx + NC_CR3]
    mov cr3, rax
    lgdt [rbx + NC_GDTR]
    lidt [rbx + NC_IDTR]
    ; The failed entry loaded the host's TR. A firmware TSS is loaded again (LTR wants it
    ; available, so its busy bit is cleared first); a null TR cannot be loaded and stays as
    ; it is: the next capture does not take it for the firmware's (hv::capture_tr).
    movzx eax, word [rbx + NC_TR]
    test eax, eax
    jz %%tr_done
    mov rdx, [rbx + NC_GDTR + 2]
    and eax, 0xFFF8
    and byte [rdx + rax + 5], 0xFD
    ltr word [rbx + NC_TR]
%%tr_done:
    mov ax, [rbx + NC_DS]
    mov ds, ax
    mov ax, [rbx + NC_ES]
    mov es, ax
    mov ax, [rbx + NC_FS]
    mov fs, ax
    mov ax, [rbx + NC_GS]
    mov gs, ax
    mov ecx, 0xC0000100             ; IA32_FS_BASE
    mov eax, [rbx + NC_FSBASE]
    mov edx, [rbx + NC_FSBASE + 4]
    wrmsr
    mov ecx, 0xC0000101             ; IA32_GS_BASE
    mov eax, [rbx + NC_GSBASE]
    mov edx, [rbx + NC_GSBASE + 4]
    wrmsr
%endmacro

; IRETQ loads SS:RSP, RFLAGS and CS:RIP at once.
%macro PUSH_IRET_FRAME 0
    push qword [rbx + NC_SS]
    push qword [rbx + NC_RSP]
    push qword [rbx + NC_RFLAGS]
    push qword [rbx + NC_CS]
    push qword [rbx + NC_RIP]
%endmacro

global agevisor_resume_native
agevisor_resume_native:
    mov rbx, rdi
    RESTORE_NATIVE_TABLES
    PUSH_IRET_FRAME
    mov rax, [rbx + NC_RAX]
    iretq

; agevisor_resume_native_gprs(const NativeContext* rdi, const GuestGprs* rsi, bool* left rdx):
; as agevisor_resume_native, then every general register from the GuestGprs (rax first);
; *left = 1 just before the IRETQ (the CPU no longer touches agevisor's data after it).
global agevisor_resume_native_gprs
agevisor_resume_native_gprs:
    mov r12, rsi
    mov r13, rdx
    mov rbx, rdi
    RESTORE_NATIVE_TABLES
    PUSH_IRET_FRAME
    mov byte [r13], 1
    mov rax, [r12 + 0]
    mov rcx, [r12 + 8]
    mov rdx, [r12 + 16]
    mov rbx, [r12 + 24]
    mov rbp, [r12 + 32]
    mov rsi, [r12 + 40]
    mov rdi, [r12 + 48]
    mov r8,  [r12 + 56]
    mov r9,  [r12 + 64]
    mov r10, [r12 + 72]
    mov r11, [r12 + 80]
    mov r13, [r12 + 96]
    mov r14, [r12 + 104]
    mov r15, [r12 + 112]
    mov r12, [r12 + 88]
    iretq

; agevisor_startup_done / agevisor_leave: the internal start-up hypercalls, from the guest
; (hv/hypercall_abi.h); the status in RAX. A leave comes back natively, through
; agevisor_resume_native_gprs, with every general register as it was but RAX.
HC_STARTUP_DONE equ 0x6167007E
HC_LEAVE        equ 0x6167007F

global agevisor_startup_done
agevisor_startup_done:
    mov eax, HC_STARTUP_DONE
    vmcall
    ret

global agevisor_leave
agevisor_leave:
    mov eax, HC_LEAVE
    vmcall
    ret

; IRETQ to the instruction after it, on the same stack: ends the NMI blocking that an
; NMI-caused VM exit leaves in VMX root (until an IRET, an NMI there would stay pending).
global agevisor_iret_to_self
agevisor_iret_to_self:
    mov rax, rsp
    push qword 0x10                 ; host SS (hv/host_tables.h kHostDataSelector)
    push rax
    pushfq
    push qword 0x08                 ; host CS (kHostCodeSelector)
    lea rax, [.back]
    push rax
    iretq
.back:
    ret
