// IA32_MTRR_DEF_TYPE (MSR 2FFH): MTRR enables and the type of memory no range covers.
// [SDM 3A "IA32_MTRR_DEF_TYPE MSR"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class MtrrDefType {
 public:
  constexpr MtrrDefType() = default;
  constexpr explicit MtrrDefType(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }
  // Encoding as in arch::MemoryType; applies only while enabled() (else all memory is UC).
  constexpr uint8_t default_type() const { return static_cast<uint8_t>(extract(raw_, 7, 0)); }
  // FE, bit 10: fixed-range MTRRs take effect (only while E is set too).
  constexpr bool fixed_enabled() const { return test_bit(raw_, 10); }
  // E, bit 11: MTRRs enabled; clear means every physical address is UC.
  constexpr bool enabled() const { return test_bit(raw_, 11); }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(MtrrDefType) == 8);

}  // namespace arch
