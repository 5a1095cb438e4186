// IA32_MTRRCAP (MSR FEH): what the MTRRs can do. Only the summary lives here; decoding the
// ranges themselves is mm/'s job. [SDM 3A "MTRR Feature Identification"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class MtrrCapabilities {
 public:
  constexpr MtrrCapabilities() = default;
  constexpr explicit MtrrCapabilities(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }
  constexpr uint32_t variable_count() const { return static_cast<uint32_t>(extract(raw_, 7, 0)); }
  constexpr bool fixed_supported() const { return test_bit(raw_, 8); }
  constexpr bool write_combining() const { return test_bit(raw_, 10); }
  constexpr bool smrr() const { return test_bit(raw_, 11); }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(MtrrCapabilities) == 8);

}  // namespace arch
