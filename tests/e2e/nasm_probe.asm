; Proves the efi build's NASM setup (-f elf64, position-independent with `default rel`) and
; that agevisor_exit_path() checks NASM objects too. Not linked into agevisor.efi.
default rel
section .text
global nasm_probe_next
nasm_probe_next:
    lea rax, [counter]
    mov rcx, [rax]
    lea rdx, [rcx + 1]
    mov [rax], rdx
    mov rax, rcx
    ret

section .data
counter: dq 0
