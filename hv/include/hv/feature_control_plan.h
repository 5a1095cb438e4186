// What agevisor does with IA32_FEATURE_CONTROL before VMXON. Unlocked (as OVMF under Bochs
// leaves it): set lock + VMX outside SMX itself, or VMXON raises #GP. Locked by firmware:
// the MSR cannot change until reset, so VMX is usable only if firmware enabled it.
// [SDM 3C "Enabling and Entering VMX Operation"]
#pragma once

#include <cstdint>

#include "arch/feature_control.h"

namespace hv {

struct FeatureControlPlan {
  enum class Action : uint8_t {
    kUseAsIs,        // locked with VMX outside SMX enabled
    kLockAndEnable,  // unlocked: write value_to_write
    kRefuse,         // locked with VMX outside SMX disabled
  };
  Action action = Action::kRefuse;
  uint64_t value_to_write = 0;  // only for kLockAndEnable: current bits kept, lock + VMX added

  static constexpr FeatureControlPlan from(arch::FeatureControl fc) {
    if (!fc.locked())
      return {Action::kLockAndEnable,
              fc.raw() | arch::FeatureControl::kLock | arch::FeatureControl::kVmxOutsideSmx};
    if (fc.vmx_outside_smx())
      return {Action::kUseAsIs, 0};
    return {Action::kRefuse, 0};
  }
};

static_assert(FeatureControlPlan::from(arch::FeatureControl(0)).value_to_write == 0x5);

}  // namespace hv
