// The 64-bit task-state segment. In IA-32e mode it holds only stack pointers: RSP0-2 for
// privilege changes and IST1-7 for interrupts that must not run on the current stack
// (#DF, NMI, #MC). [SDM 3A "Task Management in 64-bit Mode"]
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

struct __attribute__((packed)) Tss64 {
  uint32_t reserved0 = 0;
  uint64_t rsp[3] = {};
  uint64_t reserved1 = 0;
  uint64_t ist[7] = {};  // ist[0] is IST1
  uint64_t reserved2 = 0;
  uint16_t reserved3 = 0;
  uint16_t io_map_base = 104;  // = sizeof(Tss64): no I/O permission bitmap
};

static_assert(sizeof(Tss64) == 104);
static_assert(offsetof(Tss64, ist) == 0x24);
inline constexpr uint32_t kTss64Limit = sizeof(Tss64) - 1;

}  // namespace arch
