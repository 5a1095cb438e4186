// VMX instructions as inline assembly. Each reports its outcome the way the processor does,
// through RFLAGS: CF = 1 is VMfailInvalid (no current VMCS to hold an error number), ZF = 1
// is VMfailValid (the VM-instruction error field says why). [SDM 3C "Conventions" in
// "VMX Instruction Reference"]
#pragma once

#include <cstdint>

namespace arch::target {

enum class VmxOutcome : uint8_t { kSucceed = 0, kFailInvalid = 1, kFailValid = 2 };

constexpr VmxOutcome vmx_outcome(bool cf, bool zf) {
  return cf ? VmxOutcome::kFailInvalid : (zf ? VmxOutcome::kFailValid : VmxOutcome::kSucceed);
}

inline VmxOutcome vmxon(uint64_t region_phys) {
  bool cf = false;
  bool zf = false;
  asm volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(region_phys) : "memory");
  return vmx_outcome(cf, zf);
}

inline VmxOutcome vmxoff() {
  bool cf = false;
  bool zf = false;
  asm volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  return vmx_outcome(cf, zf);
}

inline VmxOutcome vmclear(uint64_t vmcs_phys) {
  bool cf = false;
  bool zf = false;
  asm volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(vmcs_phys) : "memory");
  return vmx_outcome(cf, zf);
}

inline VmxOutcome vmptrld(uint64_t vmcs_phys) {
  bool cf = false;
  bool zf = false;
  asm volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(vmcs_phys) : "memory");
  return vmx_outcome(cf, zf);
}

// Raw encodings; hv/ wraps these in width-checked accessors.
inline VmxOutcome vmread(uint64_t encoding, uint64_t* value) {
  bool cf = false;
  bool zf = false;
  uint64_t v = 0;
  asm volatile("vmread %3, %2" : "=@ccc"(cf), "=@ccz"(zf), "=rm"(v) : "r"(encoding) : "memory");
  *value = v;
  return vmx_outcome(cf, zf);
}

inline VmxOutcome vmwrite(uint64_t encoding, uint64_t value) {
  bool cf = false;
  bool zf = false;
  asm volatile("vmwrite %3, %2" : "=@ccc"(cf), "=@ccz"(zf) : "r"(encoding), "rm"(value) : "memory");
  return vmx_outcome(cf, zf);
}

struct InveptDescriptor {
  uint64_t eptp = 0;
  uint64_t reserved = 0;
};

struct InvvpidDescriptor {
  uint64_t vpid = 0;  // bits 15:0; the rest reserved
  uint64_t linear_address = 0;
};

// type 1 = single-context, 2 = all-context [SDM 3C "INVEPT"]
inline VmxOutcome invept(uint64_t type, const InveptDescriptor& descriptor) {
  bool cf = false;
  bool zf = false;
  asm volatile("invept %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(descriptor), "r"(type) : "memory");
  return vmx_outcome(cf, zf);
}

// type 0 = individual address, 1 = single-context, 2 = all-context, 3 = single-context
// retaining globals [SDM 3C "INVVPID"]
inline VmxOutcome invvpid(uint64_t type, const InvvpidDescriptor& descriptor) {
  bool cf = false;
  bool zf = false;
  asm volatile("invvpid %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(descriptor), "r"(type) : "memory");
  return vmx_outcome(cf, zf);
}

}  // namespace arch::target
