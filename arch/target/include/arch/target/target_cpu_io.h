// arch::CpuIo on the real processor.
//
// RDMSR/WRMSR of an MSR the processor lacks raises #GP, and under UEFI that #GP goes to the
// firmware's exception handler, which halts the machine. Until agevisor installs its own
// fault-fixup IDT (a later issue: hv part 1), rdmsr/wrmsr here execute the instruction
// directly, so callers must read only architecturally present MSRs: the capability
// snapshot (hv::take_cpu_snapshot) decides which from CPUID and IA32_VMX_BASIC before it
// reads them, and this class therefore never returns Error::kUnsupported yet.
#pragma once

#include <cstdint>

#include "arch/cpu_io.h"
#include "arch/result.h"
#include "arch/target/cpu.h"

namespace arch::target {

class TargetCpuIo {
 public:
  CpuidResult cpuid(uint32_t leaf, uint32_t subleaf) { return arch::target::cpuid(leaf, subleaf); }
  Result<uint64_t> rdmsr(uint32_t msr) { return arch::target::rdmsr(msr); }
  Result<void> wrmsr(uint32_t msr, uint64_t value) {
    arch::target::wrmsr(msr, value);
    return {};
  }
};

static_assert(CpuIo<TargetCpuIo>);

}  // namespace arch::target
