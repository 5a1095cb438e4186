// The seam between pure code that decides what to read and the instructions that read it.
// Target: arch/target provides the real CPUID/RDMSR/WRMSR (RDMSR/WRMSR through a fault-safe
// probe). Host tests: tests/fakes provides FakeMsrIo with recorded values.
#pragma once

#include <concepts>
#include <cstdint>

#include "arch/result.h"

namespace arch {

struct CpuidResult {
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;
};

template <typename T>
concept CpuIo = requires(T& io, uint32_t leaf, uint32_t subleaf, uint32_t msr, uint64_t value) {
  { io.cpuid(leaf, subleaf) } -> std::same_as<CpuidResult>;
  // Error::kUnsupported when the MSR does not exist (the instruction raised #GP).
  { io.rdmsr(msr) } -> std::same_as<Result<uint64_t>>;
  { io.wrmsr(msr, value) } -> std::same_as<Result<void>>;
};

}  // namespace arch
