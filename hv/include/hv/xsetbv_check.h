// Validation of a guest XSETBV, which always exits. The processor checks CR4.OSXSAVE (#UD)
// before the exit; the rest of the instruction's #GP(0) conditions are the handler's to
// enforce, exactly as hardware would. [SDM 2B "XSETBV"], [SDM 1 "Enabling the XSAVE Feature
// Set and XSAVE-Enabled Features"]
#pragma once

#include <cstdint>

#include "arch/vmx_cr_fixed.h"

namespace hv {

// `supported_xcr0` is CPUID.(EAX=0DH,ECX=0):EDX:EAX, the XCR0 bits the processor supports.
// Returns true if XSETBV(ecx, value) executes; false means the guest gets #GP(0).
bool xsetbv_is_valid(unsigned guest_cpl, uint32_t ecx, uint64_t value, uint64_t supported_xcr0);

// The CR4 the host runs with on VM exits. The handler executes the guest's XSETBV itself,
// which raises #UD under CR4.OSXSAVE = 0: firmware often leaves OSXSAVE clear, so the host sets
// it whenever the processor has XSAVE (CPUID.1:ECX[26]). The guest's own CR4 is unaffected.
constexpr uint64_t host_cr4(uint64_t current_cr4, bool xsave_supported) {
  return xsave_supported ? (current_cr4 | arch::kCr4Osxsave) : current_cr4;
}

}  // namespace hv
