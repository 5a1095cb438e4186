// What agectl's modes share on the target: the firmware's system table, the console, finding
// agevisor and the hypercall. Target-only (the pure parts are in include/agectl).
#pragma once

extern "C" {
#include <efi.h>
#include <efilib.h>
}

#include <cstdint>

#include "agectl/args.h"
#include "arch/target/cpu.h"
#include "hv/hypercall_abi.h"

namespace agectl {

extern EFI_SYSTEM_TABLE* g_system;

// One line to the console (which OVMF mirrors to COM1), while boot services run, and to
// port 0xE9. Only on the BSP: application processors must not use the console.
__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...);

// A hypercall's status as text.
const char* status_name(uint64_t status);

struct Regs {
  uint64_t rax, rbx, rcx, rdx;
};

// Raises #UD without a hypervisor: only after agevisor_present() on the same processor.
inline Regs vmcall(hv::Hypercall function, uint64_t rbx = 0, uint64_t rcx = 0, uint64_t rdx = 0) {
  Regs r{static_cast<uint64_t>(function), rbx, rcx, rdx};
  asm volatile("vmcall" : "+a"(r.rax), "+b"(r.rbx), "+c"(r.rcx), "+d"(r.rdx) : : "memory");
  return r;
}

// agevisor's CPUID signature, on the processor that runs this.
inline bool agevisor_present() {
  if ((arch::target::cpuid(1, 0).ecx & (1u << 31)) == 0)
    return false;
  const arch::CpuidResult h = arch::target::cpuid(0x4000'0000, 0);
  return h.ebx == 0x76656761 && h.ecx == 0x726F7369 && h.edx == 0;  // "agev" "isor" 0
}

// `agectl mp` (mp.cc): `args.rounds` rounds on every enabled processor; `agevisor`: the BSP
// found agevisor's signature, so the processors also make the cpu hypercall and the BSP a
// flush after each round.
// `mp` (wake_aps) and `flush` (the boot processor alone asks; the others are not woken).
EFI_STATUS run_mp(const Args& args, bool agevisor, bool wake_aps);

// `agectl nmi` (nmi.cc): NMIs to this processor, `args.rounds` rounds, counted by a handler
// of its own; runs without agevisor too (a baseline).
EFI_STATUS run_nmi(const Args& args, bool agevisor);
// agectl faults: #UD after an aging pass reaches the handler once and returns (faults.cc).
EFI_STATUS run_faults(const Args& args);

}  // namespace agectl
