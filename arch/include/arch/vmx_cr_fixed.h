// IA32_VMX_CR{0,4}_FIXED{0,1}: CR0/CR4 bits VMX operation fixes. A bit set in FIXED0 must be
// 1; a bit clear in FIXED1 must be 0. VMXON needs the host's CR0/CR4 to comply, VM entry the
// guest's, except that with "unrestricted guest" the guest may clear CR0.PE and CR0.PG.
// [SDM 3D "VMX-Fixed Bits in CR0", "VMX-Fixed Bits in CR4"; SDM 3C "Checks on Guest Control
// Registers, Debug Registers, and MSRs"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

inline constexpr uint64_t kCr0Pe = bit(0);
inline constexpr uint64_t kCr0Ne = bit(5);
inline constexpr uint64_t kCr0Pg = bit(31);
inline constexpr uint64_t kCr4Vmxe = bit(13);
inline constexpr uint64_t kCr4Osxsave = bit(18);
inline constexpr uint64_t kCr4Pke = bit(22);

struct CrFixedBits {
  uint64_t fixed0 = 0;             // 1 = must be 1
  uint64_t fixed1 = ~uint64_t{0};  // 0 = must be 0

  // `cr` with every fixed bit forced to its required value.
  constexpr uint64_t apply(uint64_t cr) const { return (cr | fixed0) & fixed1; }
  constexpr bool complies(uint64_t cr) const { return apply(cr) == cr; }
  // Bits the hypervisor forces: the guest/host mask, so guest reads of them come from the
  // read shadow and guest writes to them exit.
  constexpr uint64_t forced_mask() const { return fixed0 | ~fixed1; }

  // The rules for a guest's CR0: with unrestricted guest, PE and PG are free (real mode and
  // protected mode without paging are legal guest states).
  static constexpr CrFixedBits guest_cr0(uint64_t fixed0, uint64_t fixed1,
                                         bool unrestricted_guest) {
    uint64_t relaxed = unrestricted_guest ? (kCr0Pe | kCr0Pg) : 0;
    return {fixed0 & ~relaxed, fixed1};
  }
};

static_assert(CrFixedBits{0x80000021, 0xFFFFFFFF}.apply(0x11) == 0x80000031);
static_assert(!CrFixedBits::guest_cr0(0x80000021, 0xFFFFFFFF, true).complies(0x10));
static_assert(CrFixedBits::guest_cr0(0x80000021, 0xFFFFFFFF, true).complies(0x30));

}  // namespace arch
