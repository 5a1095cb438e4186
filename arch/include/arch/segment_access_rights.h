// Segment access rights in the VMCS format: the descriptor's type/S/DPL/P and AVL/L/D/G
// bits, plus bit 16 "segment unusable". [SDM 3C "Guest Register State" (table "Format of
// Access Rights")]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class SegmentAccessRights {
 public:
  static constexpr uint32_t kReservedMask = 0xFFFE0F00;  // bits 31:17 and 11:8

  constexpr SegmentAccessRights() = default;
  constexpr explicit SegmentAccessRights(uint32_t raw) : raw_(raw) {}

  constexpr uint32_t raw() const { return raw_; }
  constexpr uint8_t type() const { return static_cast<uint8_t>(extract(raw_, 3, 0)); }
  constexpr bool code_or_data() const { return test_bit(raw_, 4); }  // S
  constexpr uint8_t dpl() const { return static_cast<uint8_t>(extract(raw_, 6, 5)); }
  constexpr bool present() const { return test_bit(raw_, 7); }
  constexpr bool long_mode() const { return test_bit(raw_, 13); }    // L
  constexpr bool default_big() const { return test_bit(raw_, 14); }  // D/B
  constexpr bool granularity() const { return test_bit(raw_, 15); }  // G
  constexpr bool unusable() const { return test_bit(raw_, 16); }
  constexpr bool reserved_clear() const { return (raw_ & kReservedMask) == 0; }

  // Type bits for code/data segments (S = 1).
  constexpr bool accessed() const { return test_bit(raw_, 0); }
  constexpr bool is_code() const { return test_bit(raw_, 3); }
  constexpr bool code_readable() const { return is_code() && test_bit(raw_, 1); }

 private:
  uint32_t raw_ = 0;
};

static_assert(sizeof(SegmentAccessRights) == 4);

}  // namespace arch
