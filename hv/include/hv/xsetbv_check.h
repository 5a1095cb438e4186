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

inline constexpr uint64_t kCr4Osxsave = uint64_t{1} << 18;

// HOST_CR4: the firmware's CR4, plus CR4.OSXSAVE whenever the processor has XSAVE (and the
// VMX fixed bits allow it). The host executes the guest's XSETBV in VMX root, under HOST_CR4,
// and XSETBV raises #UD there without OSXSAVE. The firmware usually runs with OSXSAVE clear
// (OVMF does) and an OS sets it only in its own, guest, CR4: Linux's first XSETBV (at
// "x86/fpu" initialization) was a host #UD before this. The host itself never uses XSAVE
// state (the exit path is general-registers only), so the bit changes nothing else.
constexpr uint64_t host_cr4(uint64_t firmware_cr4, bool xsave_supported, uint64_t cr4_fixed1) {
  if (xsave_supported && (cr4_fixed1 & kCr4Osxsave) != 0)
    return firmware_cr4 | kCr4Osxsave;
  return firmware_cr4;
}

}  // namespace hv
