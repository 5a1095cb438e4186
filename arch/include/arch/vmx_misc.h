// IA32_VMX_MISC (MSR 485H). [SDM 3D "Miscellaneous Data"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class VmxMisc {
 public:
  constexpr VmxMisc() = default;
  constexpr explicit VmxMisc(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }
  // The VMX-preemption timer counts down by 1 every time bit X of the TSC changes, X being
  // this rate (under Bochs: emulated instructions instead of TSC).
  constexpr uint8_t preemption_timer_rate() const {
    return static_cast<uint8_t>(extract(raw_, 4, 0));
  }
  // Bit 5: VM exits store IA32_EFER.LMA into the "IA-32e mode guest" entry control.
  constexpr bool stores_lma_on_exit() const { return test_bit(raw_, 5); }
  constexpr bool activity_hlt() const { return test_bit(raw_, 6); }
  constexpr bool activity_shutdown() const { return test_bit(raw_, 7); }
  constexpr bool activity_wait_for_sipi() const { return test_bit(raw_, 8); }
  constexpr bool pt_in_vmx() const { return test_bit(raw_, 14); }
  constexpr bool rdmsr_smbase_in_smm() const { return test_bit(raw_, 15); }
  constexpr uint32_t cr3_target_count() const {
    return static_cast<uint32_t>(extract(raw_, 24, 16));
  }
  // Recommended maximum entries per MSR load/store list: 512 * (N + 1).
  constexpr uint32_t max_msr_list_entries() const {
    return 512 * (static_cast<uint32_t>(extract(raw_, 27, 25)) + 1);
  }
  constexpr bool smm_monitor_ctl_bit2() const { return test_bit(raw_, 28); }
  // Bit 29: VMWRITE may write the read-only VM-exit information fields.
  constexpr bool vmwrite_exit_fields() const { return test_bit(raw_, 29); }
  // Bit 30: VM entry may inject software interrupts/exceptions with instruction length 0.
  constexpr bool inject_zero_length() const { return test_bit(raw_, 30); }
  constexpr uint32_t mseg_revision_id() const {
    return static_cast<uint32_t>(extract(raw_, 63, 32));
  }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(VmxMisc) == 8);

// IA32_VMX_MISC under Bochs 2.7 (shared/reference/platform.md).
inline constexpr uint64_t kBochsIvyBridgeVmxMisc = 0x401E0;
inline constexpr uint64_t kBochsHaswellVmxMisc = 0x200401E0;

}  // namespace arch
