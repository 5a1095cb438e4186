// IA32_FEATURE_CONTROL (MSR 3AH): firmware's permission to use VMX. Once the lock bit is set
// the MSR cannot change until reset; VMXON outside SMX raises #GP unless bit 2 is set.
// [SDM 3C "Enabling and Entering VMX Operation"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class FeatureControl {
 public:
  static constexpr uint64_t kLock = bit(0);
  static constexpr uint64_t kVmxInsideSmx = bit(1);
  static constexpr uint64_t kVmxOutsideSmx = bit(2);

  constexpr FeatureControl() = default;
  constexpr explicit FeatureControl(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }
  constexpr bool locked() const { return (raw_ & kLock) != 0; }
  constexpr bool vmx_inside_smx() const { return (raw_ & kVmxInsideSmx) != 0; }
  constexpr bool vmx_outside_smx() const { return (raw_ & kVmxOutsideSmx) != 0; }
  constexpr bool senter_enabled() const { return test_bit(raw_, 15); }
  constexpr bool sgx_enabled() const { return test_bit(raw_, 18); }
  constexpr bool lmce_enabled() const { return test_bit(raw_, 20); }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(FeatureControl) == 8);
static_assert(FeatureControl(0x40005).locked() && FeatureControl(0x40005).vmx_outside_smx());

}  // namespace arch
