// How a VMX instruction reports its outcome in RFLAGS: VMsucceed (CF = ZF = 0),
// VMfailInvalid (CF = 1: no current VMCS to hold an error number) and VMfailValid (ZF = 1:
// the number is in the VMCS's VM-instruction error field).
// [SDM 3C "Conventions" (VMX instruction reference)]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

enum class VmxStatus : uint8_t { kSuccess, kFailInvalid, kFailValid };

inline constexpr unsigned kRflagsCf = 0;
inline constexpr unsigned kRflagsZf = 6;

constexpr VmxStatus vmx_status_from_rflags(uint64_t rflags) {
  if (test_bit(rflags, kRflagsCf))
    return VmxStatus::kFailInvalid;
  if (test_bit(rflags, kRflagsZf))
    return VmxStatus::kFailValid;
  return VmxStatus::kSuccess;
}

constexpr const char* vmx_status_name(VmxStatus s) {
  switch (s) {
    case VmxStatus::kSuccess:
      return "VMsucceed";
    case VmxStatus::kFailInvalid:
      return "VMfailInvalid";
    case VmxStatus::kFailValid:
      return "VMfailValid";
  }
  return "?";
}

}  // namespace arch
