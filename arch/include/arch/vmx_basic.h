// IA32_VMX_BASIC (MSR 480H). [SDM 3D "Basic VMX Information"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

class VmxBasic {
 public:
  constexpr VmxBasic() = default;
  constexpr explicit VmxBasic(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }
  // Written to the first dword of the VMXON region and of every VMCS.
  constexpr uint32_t revision_id() const { return static_cast<uint32_t>(extract(raw_, 30, 0)); }
  // Bytes to allocate for the VMXON region and each VMCS (at most 4096).
  constexpr uint32_t vmcs_size() const { return static_cast<uint32_t>(extract(raw_, 44, 32)); }
  // Bit 48: VMXON/VMCS/bitmap addresses are limited to 32 bits.
  constexpr bool addresses_limited_to_32_bits() const { return test_bit(raw_, 48); }
  constexpr bool dual_monitor_smm() const { return test_bit(raw_, 49); }
  // Memory type for the VMCS and structures it references (6 = WB).
  constexpr uint8_t memory_type() const { return static_cast<uint8_t>(extract(raw_, 53, 50)); }
  // Bit 54: VM exits from INS/OUTS report instruction information.
  constexpr bool ins_outs_info() const { return test_bit(raw_, 54); }
  // Bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist and some default-1 controls may be 0.
  constexpr bool true_controls() const { return test_bit(raw_, 55); }
  // Bit 56: VM entry may inject a hardware exception with or without an error code
  // regardless of vector (otherwise the error-code bit must match the vector's).
  constexpr bool no_error_code_requirement() const { return test_bit(raw_, 56); }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(VmxBasic) == 8);

// IA32_VMX_BASIC as read under Bochs 2.7 (Ivy Bridge model; shared/reference/platform.md).
inline constexpr uint64_t kBochsIvyBridgeVmxBasic = 0xD810000000002B;
static_assert(VmxBasic(kBochsIvyBridgeVmxBasic).true_controls());
static_assert(VmxBasic(kBochsIvyBridgeVmxBasic).vmcs_size() == 0x1000);

}  // namespace arch
