// A VMX control capability MSR (IA32_VMX_[TRUE_]{PINBASED,PROCBASED,EXIT,ENTRY}_CTLS,
// IA32_VMX_PROCBASED_CTLS2) as its pair of 32-bit masks.
// [SDM 3D "VMX Capability Reporting Facility", "VM-Execution Controls"]
#pragma once

#include <cstdint>

namespace arch {

struct VmxAllowedControls {
  // Bits 31:0, the "allowed 0-settings": a 1 here means the control must be 1.
  uint32_t allowed0 = 0;
  // Bits 63:32, the "allowed 1-settings": a 0 here means the control must be 0.
  uint32_t allowed1 = 0;

  static constexpr VmxAllowedControls from_msr(uint64_t raw) {
    return {static_cast<uint32_t>(raw), static_cast<uint32_t>(raw >> 32)};
  }

  constexpr uint64_t raw() const { return (uint64_t{allowed1} << 32) | allowed0; }
  constexpr bool must_be_one(uint32_t mask) const { return (allowed0 & mask) == mask; }
  constexpr bool can_be_one(uint32_t mask) const { return (allowed1 & mask) == mask; }
  // Inconsistent MSR: a control that must be 1 but may not be.
  constexpr bool consistent() const { return (allowed0 & ~allowed1) == 0; }
};

// IA32_VMX_PROCBASED_CTLS2 under Bochs 2.7 (Ivy Bridge; shared/reference/platform.md).
inline constexpr uint64_t kBochsIvyBridgeProcbasedCtls2 = 0x8FF00000000;

static_assert(VmxAllowedControls::from_msr(kBochsIvyBridgeProcbasedCtls2).can_be_one(1u << 1));
static_assert(!VmxAllowedControls::from_msr(kBochsIvyBridgeProcbasedCtls2).must_be_one(1u << 1));

}  // namespace arch
