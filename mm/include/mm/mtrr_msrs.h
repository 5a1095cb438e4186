// The raw MTRR register values hv/ reads (RDMSR) and hands to MtrrState, and the register
// field layouts. mm/ never reads MSRs itself. [SDM 3A "Memory Type Range Registers (MTRRs)"]
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "arch/bits.h"

namespace mm {

// VCNT is 8 bits wide, but processors implement 8 to 10 variable ranges; a larger VCNT is
// refused (Error::kUnsupported) rather than silently ignoring ranges.
inline constexpr size_t kMaxVariableMtrrs = 32;

// Fixed-range MSRs in address order: 64K_00000, 16K_80000, 16K_A0000, 4K_C0000..4K_F8000.
inline constexpr std::array<uint32_t, 11> kMtrrFixedMsrs = {
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
inline constexpr size_t kMtrrFixedMsrCount = kMtrrFixedMsrs.size();
// Each fixed-range MSR holds eight one-byte types, byte 0 for the lowest sub-range.
inline constexpr size_t kMtrrFixedRangeCount = kMtrrFixedMsrCount * 8;
// Fixed ranges cover the first MiB.
inline constexpr uint64_t kMtrrFixedLimit = uint64_t{1} << 20;

constexpr uint32_t mtrr_phys_base_msr(unsigned n) { return 0x200 + 2 * n; }
constexpr uint32_t mtrr_phys_mask_msr(unsigned n) { return 0x201 + 2 * n; }

struct VariableMtrrMsrs {
  uint64_t phys_base = 0;  // IA32_MTRR_PHYSBASEn
  uint64_t phys_mask = 0;  // IA32_MTRR_PHYSMASKn
};

struct MtrrMsrs {
  uint64_t cap = 0;
  uint64_t def_type = 0;  // IA32_MTRR_DEF_TYPE
  // In kMtrrFixedMsrs order; read them only when IA32_MTRRCAP.FIX is set (else leave 0).
  std::array<uint64_t, kMtrrFixedMsrCount> fixed{};
  // The first IA32_MTRRCAP.VCNT entries are used.
  std::array<VariableMtrrMsrs, kMaxVariableMtrrs> variable{};
  // CPUID.80000008H:EAX[7:0]: PHYSBASE/PHYSMASK hold address bits MAXPHYADDR-1:12.
  uint8_t max_phys_addr = 36;
};

// Encodings 2, 3 and 7 and above are reserved in an MTRR (2, 3 and 7 also make an EPT leaf
// a misconfiguration; 7 is UC- in the PAT only).
constexpr bool is_valid_mtrr_type(uint64_t raw) {
  return raw == 0 || raw == 1 || raw == 4 || raw == 5 || raw == 6;
}

// Field positions in IA32_MTRR_PHYSBASEn / IA32_MTRR_PHYSMASKn.
inline constexpr unsigned kPhysMaskValidBit = 11;
inline constexpr uint64_t kPhysBaseTypeMask = arch::bit_range(7, 0);

// Which fixed-range MSR (index into kMtrrFixedMsrs) and byte hold the type of `addr`
// (addr < 1 MiB), and the size of that sub-range.
struct FixedRangeSlot {
  unsigned msr = 0;
  unsigned byte = 0;
  uint64_t size = 0;
};

constexpr FixedRangeSlot fixed_range_slot(uint64_t addr) {
  if (addr < 0x80000)  // 8 x 64 KiB
    return {0, static_cast<unsigned>(addr >> 16), uint64_t{1} << 16};
  if (addr < 0xC0000) {  // 2 MSRs x 8 x 16 KiB
    uint64_t index = (addr - 0x80000) >> 14;
    return {1 + static_cast<unsigned>(index / 8), static_cast<unsigned>(index % 8),
            uint64_t{1} << 14};
  }
  uint64_t index = (addr - 0xC0000) >> 12;  // 8 MSRs x 8 x 4 KiB
  return {3 + static_cast<unsigned>(index / 8), static_cast<unsigned>(index % 8),
          uint64_t{1} << 12};
}

static_assert(fixed_range_slot(0x7FFFF).msr == 0 && fixed_range_slot(0x7FFFF).byte == 7);
static_assert(fixed_range_slot(0xA0000).msr == 2 && fixed_range_slot(0xA0000).byte == 0);
static_assert(fixed_range_slot(0xBC000).msr == 2 && fixed_range_slot(0xBC000).byte == 7);
static_assert(fixed_range_slot(0xF8000).msr == 10 && fixed_range_slot(0xFF000).byte == 7);

}  // namespace mm
