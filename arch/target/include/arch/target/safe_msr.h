// RDMSR/WRMSR that survive a #GP in VMX root: the host #GP handler sees the faulting RIP is
// one of these instructions and resumes at its fixup label, which returns 1. Used for MSR
// accesses the guest asked for, where the MSR may not exist.
#pragma once

#include <cstdint>

#define AGEVISOR_HIDDEN __attribute__((visibility("hidden")))

extern "C" {
AGEVISOR_HIDDEN int agevisor_safe_rdmsr(uint32_t msr, uint64_t* value);
AGEVISOR_HIDDEN int agevisor_safe_wrmsr(uint32_t msr, uint64_t value);
AGEVISOR_HIDDEN extern char agevisor_safe_rdmsr_insn[];
AGEVISOR_HIDDEN extern char agevisor_safe_rdmsr_fixup[];
AGEVISOR_HIDDEN extern char agevisor_safe_wrmsr_insn[];
AGEVISOR_HIDDEN extern char agevisor_safe_wrmsr_fixup[];
AGEVISOR_HIDDEN extern const uint64_t agevisor_host_idt_stubs[32];
}

namespace arch::target {

// The fixup address for a fault at `rip`, or 0 if the fault was not expected.
inline uint64_t fault_fixup_for(uint64_t rip) {
  if (rip == reinterpret_cast<uint64_t>(agevisor_safe_rdmsr_insn))
    return reinterpret_cast<uint64_t>(agevisor_safe_rdmsr_fixup);
  if (rip == reinterpret_cast<uint64_t>(agevisor_safe_wrmsr_insn))
    return reinterpret_cast<uint64_t>(agevisor_safe_wrmsr_fixup);
  return 0;
}

}  // namespace arch::target
