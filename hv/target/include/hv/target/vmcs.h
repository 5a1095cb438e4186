// Width-checked VMCS access on the current VMCS. A field's enum class picks the overload,
// so writing a 64-bit value to a 16-bit field does not compile (-Wconversion -Werror).
#pragma once

#include <cstdint>

#include "arch/assert.h"
#include "arch/target/vmx.h"
#include "arch/vmcs_fields.h"

namespace hv::target {

inline uint64_t vmread_raw(uint32_t encoding) {
  uint64_t value = 0;
  HV_ASSERT(arch::target::vmread(encoding, &value) == arch::target::VmxOutcome::kSucceed);
  return value;
}

inline uint16_t vmread(arch::VmcsField16 f) {
  return static_cast<uint16_t>(vmread_raw(arch::encoding(f)));
}
inline uint32_t vmread(arch::VmcsField32 f) {
  return static_cast<uint32_t>(vmread_raw(arch::encoding(f)));
}
inline uint64_t vmread(arch::VmcsField64 f) { return vmread_raw(arch::encoding(f)); }
inline uint64_t vmread(arch::VmcsFieldNatural f) { return vmread_raw(arch::encoding(f)); }

// On the exit path a VMWRITE to a valid field of the current VMCS cannot fail; if it does,
// the VMCS is not what we think it is, and carrying on would corrupt the guest.
inline void vmwrite_raw(uint32_t encoding, uint64_t value) {
  HV_ASSERT(arch::target::vmwrite(encoding, value) == arch::target::VmxOutcome::kSucceed);
}
inline void vmwrite(arch::VmcsField16 f, uint16_t v) { vmwrite_raw(arch::encoding(f), v); }
inline void vmwrite(arch::VmcsField32 f, uint32_t v) { vmwrite_raw(arch::encoding(f), v); }
inline void vmwrite(arch::VmcsField64 f, uint64_t v) { vmwrite_raw(arch::encoding(f), v); }
inline void vmwrite(arch::VmcsFieldNatural f, uint64_t v) { vmwrite_raw(arch::encoding(f), v); }

// For VMCS setup: writes everything, remembers the first failure, is checked once.
class VmcsWriter {
 public:
  void operator()(arch::VmcsField16 f, uint16_t v) { put(arch::encoding(f), v); }
  void operator()(arch::VmcsField32 f, uint32_t v) { put(arch::encoding(f), v); }
  void operator()(arch::VmcsField64 f, uint64_t v) { put(arch::encoding(f), v); }
  void operator()(arch::VmcsFieldNatural f, uint64_t v) { put(arch::encoding(f), v); }

  bool ok() const { return failed_field_ == kNone; }
  uint32_t failed_field() const { return failed_field_; }

 private:
  static constexpr uint32_t kNone = ~0u;
  void put(uint32_t encoding, uint64_t value) {
    if (arch::target::vmwrite(encoding, value) != arch::target::VmxOutcome::kSucceed && ok()) {
      failed_field_ = encoding;
    }
  }
  uint32_t failed_field_ = kNone;
};

}  // namespace hv::target
