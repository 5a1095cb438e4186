// Validation of a guest XSETBV, which always exits. The processor checks CR4.OSXSAVE (#UD)
// before the exit; the rest of the instruction's #GP(0) conditions are the handler's to
// enforce, exactly as hardware would. [SDM 2B "XSETBV"], [SDM 1 "Enabling the XSAVE Feature
// Set and XSAVE-Enabled Features"]
#pragma once

#include <cstdint>

namespace hv {

// `supported_xcr0` is CPUID.(EAX=0DH,ECX=0):EDX:EAX, the XCR0 bits the processor supports.
// Returns true if XSETBV(ecx, value) executes; false means the guest gets #GP(0).
bool xsetbv_is_valid(unsigned guest_cpl, uint32_t ecx, uint64_t value, uint64_t supported_xcr0);

}  // namespace hv
