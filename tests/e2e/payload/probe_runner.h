// How a probe runs: one instruction in a function over g_io, run under the fault catcher,
// its outcome printed as a "probe" line. Shared by the probe files.
#pragma once

#include <cstdint>

#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "fault_catcher.h"
#include "output.h"

namespace payload {

inline constexpr uint64_t kRflagsTf = 0x100;
inline constexpr uint32_t kUnknownMsr = 0x1234;              // no processor has it
inline constexpr uint32_t kHypervisorRangeMsr = 0x40000000;  // KVM/Hyper-V's; Bochs has none

struct Io {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  uint64_t expected_rip = 0;  // single-step probes: where the #DB trap must point
  alignas(64) uint8_t area[4096];
};
inline constinit Io g_io = {};

// RDMSR/WRMSR of MSR io.c with the value in io.a (probes of both files use them).
inline void do_rdmsr(Io& io) {
  uint32_t lo = 0, hi = 0;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(static_cast<uint32_t>(io.c)));
  io.a = (uint64_t{hi} << 32) | lo;
}
inline void do_wrmsr(Io& io) {
  asm volatile("wrmsr"
               :
               : "c"(static_cast<uint32_t>(io.c)), "a"(static_cast<uint32_t>(io.a)),
                 "d"(static_cast<uint32_t>(io.a >> 32))
               : "memory");
}

template <void (*F)(Io&)>
void trampoline(void* io) {
  F(*static_cast<Io*>(io));
}

template <void (*F)(Io&)>
int caught() {
  return run_caught(trampoline<F>, &g_io);
}

// F with CR4 bits set and cleared around it, interrupts off (a probe that faults skips its
// own clean-up: CR4 is restored here, and CR0 too).
template <void (*F)(Io&)>
int caught_with_cr4(uint64_t set, uint64_t clear) {
  const uint64_t flags = arch::target::read_rflags();
  arch::target::cli();
  const uint64_t cr0 = arch::target::read_cr0();
  const uint64_t cr4 = arch::target::read_cr4();
  arch::target::write_cr4((cr4 | set) & ~clear);
  const int vector = caught<F>();
  arch::target::write_cr4(cr4);
  if (arch::target::read_cr0() != cr0)
    arch::target::write_cr0(cr0);
  if ((flags & 0x200) != 0)
    asm volatile("sti" : : : "memory");
  return vector;
}

inline void report(const char* name, int vector) { line("probe %s %s", name, vector_name(vector)); }

inline void report_value(const char* name, int vector, uint64_t value) {
  line("probe %s %s %#lx", name, vector_name(vector), value);
}

// A single-step probe's #DB must point where the probe said (g_io.expected_rip).
inline void report_single_step_at(const char* name, int vector) {
  if (vector == 1 && payload_fault.rip != g_io.expected_rip) {
    line("probe %s #DB-misplaced %+ld", name,
         static_cast<int64_t>(payload_fault.rip - g_io.expected_rip));
  } else {
    report(name, vector);
  }
}

}  // namespace payload
