// CPUID.80000008H:EAX, physical and linear address widths. MAXPHYADDR bounds every physical
// address in EPT entries and the EPT pointer: bits at or above it are reserved.
// [SDM 2A "CPUID"; SDM 3A "Physical Address Width"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/cpu_io.h"

namespace arch {

inline constexpr uint32_t kCpuidAddressWidthLeaf = 0x80000008;

struct AddressWidths {
  // Without the leaf the SDM gives 36 for processors with PAE or PSE-36, which every
  // processor with VMX has.
  uint8_t physical = 36;  // MAXPHYADDR
  uint8_t linear = 32;
  bool from_leaf = false;  // false: the defaults above, the leaf does not exist

  // max_extended_leaf: CPUID.80000000H:EAX.
  static constexpr AddressWidths from_cpuid(uint32_t max_extended_leaf,
                                            const CpuidResult& leaf_80000008) {
    AddressWidths w;
    if (max_extended_leaf < kCpuidAddressWidthLeaf)
      return w;
    w.physical = static_cast<uint8_t>(extract(leaf_80000008.eax, 7, 0));
    w.linear = static_cast<uint8_t>(extract(leaf_80000008.eax, 15, 8));
    w.from_leaf = true;
    return w;
  }
};

static_assert(AddressWidths::from_cpuid(0x80000008, {0x3027, 0, 0, 0}).physical == 39);
static_assert(AddressWidths::from_cpuid(0x80000004, {0x3027, 0, 0, 0}).physical == 36);

}  // namespace arch
