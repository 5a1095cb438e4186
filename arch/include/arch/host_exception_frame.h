// What the host IDT stubs (arch/target/src/idt_stubs.nasm) hand to the C++ handler: the
// saved general registers, the vector, the error code (0 where the processor pushes none)
// and the processor's interrupt frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/guest_gprs.h"

namespace arch {

struct HostExceptionFrame {
  GuestGprs gprs;  // same push order as the VM-exit stub
  uint64_t vector = 0;
  uint64_t error_code = 0;
  uint64_t rip = 0;
  uint64_t cs = 0;
  uint64_t rflags = 0;
  uint64_t rsp = 0;
  uint64_t ss = 0;
};

static_assert(offsetof(HostExceptionFrame, vector) == 15 * 8);
static_assert(offsetof(HostExceptionFrame, rip) == 17 * 8);

}  // namespace arch
