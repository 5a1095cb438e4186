// Completing an instruction the hypervisor emulated: the one place RIP moves forward.
// Besides RIP, the guest must see what the instruction's retirement would have done:
// blocking by STI and by MOV SS ends after one instruction, and with RFLAGS.TF set a
// single-step #DB is due (made pending through the BS bit, delivered on VM entry).
// [SDM 3C "Guest Non-Register State"; SDM 3C "Checks on Guest Non-Register State"]
#pragma once

#include <cstdint>

#include "arch/interruptibility_state.h"

namespace hv {

struct GuestStep {
  uint64_t rip = 0;
  uint64_t rflags = 0;
  uint32_t interruptibility = 0;
  uint64_t pending_debug_exceptions = 0;
  bool code64 = false;  // CS.L in IA-32e mode; otherwise EIP wraps at 4 GiB
};

constexpr GuestStep advance_rip(GuestStep s, uint32_t instruction_length) {
  s.rip += instruction_length;
  if (!s.code64)
    s.rip &= 0xFFFF'FFFF;
  s.interruptibility &=
      ~(arch::interruptibility::kBlockingBySti | arch::interruptibility::kBlockingByMovSs);
  if ((s.rflags & arch::rflags::kTf) != 0)
    s.pending_debug_exceptions |= arch::pending_debug::kBs;
  return s;
}

}  // namespace hv
