; Exception recovery for the payload's probes: run one function with a temporary IDT whose
; vectors 0-31 lead here, and report which exception (if any) cut it short.
;
;   int payload_try(void (*fn)(void*), void* arg, const void* idtr)
;     Saves the callee-saved registers, RFLAGS, RSP and the current IDTR, loads `idtr`,
;     calls fn(arg), then restores all of it. Returns -1 if fn returned normally, or the
;     vector of the first exception it raised: the handler abandons fn's frames and resumes
;     at .recover with the saved RSP (a setjmp/longjmp through IRETQ). RFLAGS comes back as
;     saved, so a probe may set TF or clear IF.
;
;   payload_fault (struct FaultRecord): the vector, the RIP the exception frame held (the
;   faulting instruction for a fault, the next one for a trap such as single-step #DB), and
;   the error code for the vectors that push one.
;
; payload_fault_stubs: 32 handlers, 16 bytes apart (vector v at payload_fault_stubs + 16*v),
; for the temporary IDT's gates. Not reentrant: one CPU, one probe at a time.
default rel

section .data
align 8
saved_rsp:    dq 0
saved_idtr:   times 16 db 0
global payload_fault
payload_fault:                      ; struct FaultRecord (fault_catcher.h)
fault_vector: dd -1
              dd 0
fault_rip:    dq 0
fault_error:  dq 0

section .text

global payload_try
payload_try:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    pushfq
    mov [saved_rsp], rsp            ; 16-byte aligned here: 7 pushes after the call
    sidt [saved_idtr]
    lidt [rdx]
    mov dword [fault_vector], -1
    mov qword [fault_rip], 0
    mov qword [fault_error], 0
    mov rax, rdi
    mov rdi, rsi
    call rax
.recover:
    mov rsp, [saved_rsp]
    lidt [saved_idtr]
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    movsx rax, dword [fault_vector]
    ret

fault_with_error:
    mov rcx, [rsp]
    mov [fault_error], rcx
    add rsp, 8
fault_common:
    mov rcx, [rsp]                  ; the RIP the exception frame holds
    mov [fault_rip], rcx
    ; eax = vector. Build an IRETQ frame to .recover on the saved stack, with IF and TF
    ; clear (the POPFQ there restores the caller's flags), and drop the exception frame.
    mov [fault_vector], eax
    mov ecx, ss
    push rcx
    push qword [saved_rsp]
    push qword 2
    mov ecx, cs
    push rcx
    lea rax, [payload_try.recover]
    push rax
    iretq

align 16
global payload_fault_stubs
payload_fault_stubs:
%assign v 0
%rep 32
    align 16
    mov eax, v                      ; 5 bytes
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
    jmp fault_with_error            ; at most 5 bytes: the CPU pushed an error code
%else
    jmp fault_common
%endif
%assign v v+1
%endrep
