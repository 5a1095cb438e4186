// Exit qualification of a control-register access. [SDM 3C "Exit Qualification for
// Control-Register Accesses"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

struct CrAccessQualification {
  enum class Access : uint8_t { kMovToCr = 0, kMovFromCr = 1, kClts = 2, kLmsw = 3 };

  uint8_t cr = 0;  // bits 3:0 (0 for CLTS and LMSW)
  Access access = Access::kMovToCr;
  bool lmsw_memory_operand = false;  // bit 6
  // Bits 11:8, for MOV CR: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15.
  uint8_t gpr = 0;
  uint16_t lmsw_source = 0;  // bits 31:16

  static constexpr CrAccessQualification from_raw(uint64_t raw) {
    CrAccessQualification q;
    q.cr = static_cast<uint8_t>(extract(raw, 3, 0));
    q.access = static_cast<Access>(extract(raw, 5, 4));
    q.lmsw_memory_operand = test_bit(raw, 6);
    q.gpr = static_cast<uint8_t>(extract(raw, 11, 8));
    q.lmsw_source = static_cast<uint16_t>(extract(raw, 31, 16));
    return q;
  }
};

}  // namespace arch
