// HV_ASSERT is always on (release builds too): a hypervisor that carries on after a broken
// invariant corrupts its guest silently. HV_PANIC never returns.
//
// arch_panic() has one definition per platform: on host it prints and calls abort() (so
// death tests work); on target it logs and halts every CPU.
#pragma once

namespace arch {

[[noreturn]] void arch_panic(const char* file, int line, const char* message);

}  // namespace arch

#define HV_PANIC(message) ::arch::arch_panic(__FILE__, __LINE__, (message))

#define HV_ASSERT(condition)                                         \
  do {                                                               \
    if (!(condition)) [[unlikely]]                                   \
      ::arch::arch_panic(__FILE__, __LINE__, "assert: " #condition); \
  } while (false)
