// The guest's general-purpose registers as the VM-exit stub saves them
// (arch/target/src/vmx_stubs.nasm pushes r15 first, so rax is at the lowest address).
// RSP is not here: the processor keeps it in the VMCS guest-state area.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

struct GuestGprs {
  uint64_t rax = 0;
  uint64_t rcx = 0;
  uint64_t rdx = 0;
  uint64_t rbx = 0;
  uint64_t rbp = 0;
  uint64_t rsi = 0;
  uint64_t rdi = 0;
  uint64_t r8 = 0;
  uint64_t r9 = 0;
  uint64_t r10 = 0;
  uint64_t r11 = 0;
  uint64_t r12 = 0;
  uint64_t r13 = 0;
  uint64_t r14 = 0;
  uint64_t r15 = 0;
};

static_assert(sizeof(GuestGprs) == 15 * 8, "must match GPRS_SIZE in vmx_stubs.nasm");
static_assert(offsetof(GuestGprs, rbx) == 3 * 8 && offsetof(GuestGprs, r15) == 14 * 8);

}  // namespace arch
