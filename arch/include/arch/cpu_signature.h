// CPUID.1:EAX, the processor signature, with the extended family/model rules.
// [SDM 2A "CPUID" - "Version Information: Type, Family, Model, and Stepping ID"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

struct CpuSignature {
  uint32_t family = 0;  // "DisplayFamily"
  uint32_t model = 0;   // "DisplayModel"
  uint32_t stepping = 0;
  uint32_t type = 0;  // 0 original OEM, 1 OverDrive, 2 dual processor

  static constexpr CpuSignature from_cpuid_eax(uint32_t eax) {
    auto family_id = static_cast<uint32_t>(extract(eax, 11, 8));
    auto model_id = static_cast<uint32_t>(extract(eax, 7, 4));
    CpuSignature s;
    s.stepping = static_cast<uint32_t>(extract(eax, 3, 0));
    s.type = static_cast<uint32_t>(extract(eax, 13, 12));
    // The extended family only counts for family 0xF; the extended model for 6 and 0xF.
    s.family =
        family_id == 0xF ? family_id + static_cast<uint32_t>(extract(eax, 27, 20)) : family_id;
    s.model = (family_id == 0x6 || family_id == 0xF)
                  ? (static_cast<uint32_t>(extract(eax, 19, 16)) << 4) + model_id
                  : model_id;
    return s;
  }
};

static_assert(CpuSignature::from_cpuid_eax(0x000306A9).model == 0x3A);   // Ivy Bridge
static_assert(CpuSignature::from_cpuid_eax(0x00A20F12).family == 0x19);  // AMD Zen 3

}  // namespace arch
