// The EPT pointer (VMCS field 201AH): where the EPT PML4 table is and how to walk it.
// [SDM 3C "Extended-Page-Table Pointer (EPTP)"]
//
//  63        MAXPHYADDR  N-1          12 11  7  6   5:3         2:0
// +------------+----------------------+-----+----+-----------+----------+
// |  reserved  |  PML4 table address  | rsv | AD | walk - 1  | mem type |
// +------------+----------------------+-----+----+-----------+----------+
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/memory_type.h"
#include "arch/result.h"

namespace arch {

class EptPointer {
 public:
  constexpr EptPointer() = default;
  static constexpr EptPointer from_raw(uint64_t raw) { return EptPointer(raw); }

  // A 4-level, write-back EPTP for `pml4`; A/D flags only if asked for. Fails with
  // kUnsupported if the processor cannot walk 4 levels, keep WB paging structures or (when
  // asked) set A/D flags, and with kInvalidArgument for a misaligned or too-wide address.
  static constexpr Result<EptPointer> make(Hpa pml4, const EptCapabilities& caps,
                                           bool enable_accessed_dirty) {
    if (!caps.page_walk_4 || !caps.memtype_wb || (enable_accessed_dirty && !caps.accessed_dirty))
      return Error::kUnsupported;
    if (!pml4.is_aligned_to(kPageSize4K) || (pml4.value() >> caps.max_phys_addr) != 0)
      return Error::kInvalidArgument;
    uint64_t raw = pml4.value() | static_cast<uint64_t>(MemoryType::kWriteBack);
    raw = insert(raw, 5, 3, 4 - 1);
    raw = set_bit(raw, 6, enable_accessed_dirty);
    return EptPointer(raw);
  }

  constexpr uint64_t raw() const { return raw_; }
  constexpr uint8_t memory_type() const { return static_cast<uint8_t>(extract(raw_, 2, 0)); }
  constexpr unsigned walk_length() const { return static_cast<unsigned>(extract(raw_, 5, 3)) + 1; }
  constexpr bool accessed_dirty_enabled() const { return test_bit(raw_, 6); }
  constexpr Hpa pml4() const { return Hpa(raw_ & bit_range(51, 12)); }

 private:
  constexpr explicit EptPointer(uint64_t raw) : raw_(raw) {}
  uint64_t raw_ = 0;
};

static_assert(sizeof(EptPointer) == 8);

}  // namespace arch
