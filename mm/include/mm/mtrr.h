// MtrrState: the memory type of guest-physical ranges as the MTRRs define them, decoded from
// raw MSR values. Each EPT leaf carries this type with ignore-PAT = 0, so the guest's PAT
// combines with it as on bare metal (docs/memory-types.md).
//
// Precedence [SDM 3A "Mechanism for Determining the Memory Type of a Physical Address"]:
//   E = 0                          -> UC everywhere (the default type is ignored too)
//   FE = 1 and address < 1 MiB     -> the fixed-range type
//   one variable range matches     -> its type
//   several match, all the same    -> that type
//   several match, one is UC       -> UC
//   several match, exactly WT + WB -> WT
//   other overlaps (undefined)     -> UC, our choice: the safe type
//   none matches                   -> the default type
// A reserved type (2, 3, 7 and above) in any MTRR is treated as UC; validate() reports it.
//
// Queries work on aligned power-of-two blocks: for a block, each variable range either
// covers all of it, none of it or part of it (one mask test), so a 1 GiB block costs a few
// mask tests per range, never a walk over its 4 KiB pages. Only partially covered blocks are
// halved. A range matches A when (A & mask) == (base & mask) over bits MAXPHYADDR-1:12,
// exactly as the hardware compares, so non-contiguous masks are decoded faithfully too
// (validate() still reports them); addresses at or above 2^MAXPHYADDR alias lower ones.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/memory_type.h"
#include "arch/mtrr_capabilities.h"
#include "arch/mtrr_def_type.h"
#include "arch/result.h"
#include "mm/mtrr_msrs.h"

namespace mm {

using arch::MemoryType;

// The type of a range: uniform (one type everywhere) or mixed.
struct RangeType {
  bool uniform = false;
  MemoryType type = MemoryType::kUncacheable;  // meaningful only when uniform

  static constexpr RangeType of(MemoryType t) { return {true, t}; }
  static constexpr RangeType mixed() { return {}; }
  constexpr bool operator==(const RangeType&) const = default;
};

// The largest page allowed by the capabilities around an address with one type throughout.
struct UniformPage {
  arch::Gpa base;
  uint64_t size = 0;
  MemoryType type = MemoryType::kUncacheable;
};

// What is wrong with the firmware's MTRR programming. Bit n of a mask names variable MTRR n.
struct MtrrDiagnostics {
  bool invalid_default_type = false;
  bool fixed_enabled_without_support = false;    // FE = 1 but IA32_MTRRCAP.FIX = 0
  bool write_combining_without_support = false;  // a WC type but IA32_MTRRCAP.WC = 0
  unsigned invalid_fixed_types = 0;              // sub-ranges with a reserved type
  uint32_t invalid_variable_types = 0;           // valid ranges with a reserved type
  uint32_t noncontiguous_masks = 0;              // valid ranges whose mask has holes
  uint32_t reserved_bits = 0;                    // reserved bits set in PHYSBASE/PHYSMASK

  constexpr bool ok() const {
    return !invalid_default_type && !fixed_enabled_without_support &&
           !write_combining_without_support && invalid_fixed_types == 0 &&
           invalid_variable_types == 0 && noncontiguous_masks == 0 && reserved_bits == 0;
  }
};

// Counts the blocks a query examined, for tests that prove queries do not walk 4 KiB pages.
struct MtrrQueryStats {
  uint64_t blocks = 0;
};

class MtrrState {
 public:
  // Error::kUnsupported when VCNT exceeds kMaxVariableMtrrs; Error::kInvalidArgument when
  // MAXPHYADDR is outside 13..52.
  static constexpr arch::Result<MtrrState> from_msrs(const MtrrMsrs& msrs);

  // Type of [start, start + size), widened to 4 KiB pages (the MTRR granularity).
  constexpr RangeType type_of(arch::Gpa start, uint64_t size,
                              MtrrQueryStats* stats = nullptr) const;
  constexpr MemoryType type_at(arch::Gpa addr) const {
    return type_of(addr.page_base(), arch::kPageSize4K).type;
  }
  // 1 GiB and 2 MiB pages are considered only when the capabilities allow them; a 4 KiB page
  // is always uniform.
  constexpr UniformPage largest_uniform_page(arch::Gpa addr, const arch::EptCapabilities& caps,
                                             MtrrQueryStats* stats = nullptr) const;

  constexpr MtrrDiagnostics validate() const;

  constexpr bool enabled() const { return def_.enabled(); }
  // Fixed ranges apply only with E, FE and IA32_MTRRCAP.FIX all set.
  constexpr bool fixed_enabled() const {
    return def_.enabled() && def_.fixed_enabled() && cap_.fixed_supported();
  }
  constexpr arch::MtrrCapabilities cap() const { return cap_; }
  constexpr arch::MtrrDefType def_type() const { return def_; }
  constexpr uint8_t max_phys_addr() const { return max_phys_addr_; }

 private:
  enum class Cover : uint8_t { kNone, kAll, kPartial };
  struct Variable {
    uint64_t raw_base = 0;
    uint64_t raw_mask = 0;
    uint64_t base = 0;  // bits MAXPHYADDR-1:12 of PHYSBASE
    uint64_t mask = 0;  // bits MAXPHYADDR-1:12 of PHYSMASK
    bool valid = false;
  };

  static constexpr MemoryType effective(uint64_t raw) {
    return is_valid_mtrr_type(raw) ? static_cast<MemoryType>(raw) : MemoryType::kUncacheable;
  }
  static constexpr uint32_t type_bit(MemoryType t) { return 1u << static_cast<unsigned>(t); }
  constexpr uint8_t fixed_raw(unsigned msr, unsigned byte) const {
    return static_cast<uint8_t>(arch::extract(fixed_[msr], byte * 8 + 7, byte * 8));
  }
  constexpr MemoryType fixed_type(uint64_t addr) const {
    FixedRangeSlot slot = fixed_range_slot(addr);
    return effective(fixed_raw(slot.msr, slot.byte));
  }
  static constexpr Cover cover(const Variable& v, uint64_t base, unsigned order);
  static constexpr MemoryType combine(uint32_t types_seen, MemoryType default_type);
  constexpr RangeType fixed_block(uint64_t base, uint64_t end) const;
  constexpr RangeType block(uint64_t base, unsigned order, MtrrQueryStats* stats) const;

  arch::MtrrCapabilities cap_;
  arch::MtrrDefType def_;
  uint8_t max_phys_addr_ = 36;
  std::array<uint64_t, kMtrrFixedMsrCount> fixed_{};
  std::array<Variable, kMaxVariableMtrrs> variable_{};
};

constexpr arch::Result<MtrrState> MtrrState::from_msrs(const MtrrMsrs& msrs) {
  if (msrs.max_phys_addr < 13 || msrs.max_phys_addr > 52)
    return arch::Error::kInvalidArgument;
  MtrrState s;
  s.cap_ = arch::MtrrCapabilities(msrs.cap);
  s.def_ = arch::MtrrDefType(msrs.def_type);
  s.max_phys_addr_ = msrs.max_phys_addr;
  if (s.cap_.variable_count() > kMaxVariableMtrrs)
    return arch::Error::kUnsupported;
  if (s.cap_.fixed_supported())
    s.fixed_ = msrs.fixed;
  const uint64_t address_bits = arch::bit_range(msrs.max_phys_addr - 1u, 12);
  for (unsigned i = 0; i < s.cap_.variable_count(); ++i) {
    Variable& v = s.variable_[i];
    v.raw_base = msrs.variable[i].phys_base;
    v.raw_mask = msrs.variable[i].phys_mask;
    v.base = v.raw_base & address_bits;
    v.mask = v.raw_mask & address_bits;
    v.valid = arch::test_bit(v.raw_mask, kPhysMaskValidBit);
  }
  return s;
}

// Block [base, base + 2^order), base aligned to 2^order.
constexpr MtrrState::Cover MtrrState::cover(const Variable& v, uint64_t base, unsigned order) {
  const uint64_t inside = order >= 64 ? ~uint64_t{0} : arch::bit(order) - 1;
  if (((v.base ^ base) & v.mask & ~inside) != 0)
    return Cover::kNone;  // an address bit above the block already differs
  return (v.mask & inside) == 0 ? Cover::kAll : Cover::kPartial;
}

constexpr MemoryType MtrrState::combine(uint32_t seen, MemoryType default_type) {
  if (seen == 0)
    return default_type;
  if ((seen & (seen - 1)) == 0)
    return static_cast<MemoryType>(std::countr_zero(seen));
  if (seen == (type_bit(MemoryType::kWriteThrough) | type_bit(MemoryType::kWriteBack)))
    return MemoryType::kWriteThrough;
  return MemoryType::kUncacheable;  // contains UC, or an undefined combination
}

constexpr RangeType MtrrState::fixed_block(uint64_t base, uint64_t end) const {
  const MemoryType first = fixed_type(base);
  for (uint64_t a = base; a < end; a += fixed_range_slot(a).size) {
    if (fixed_type(a) != first)
      return RangeType::mixed();
  }
  return RangeType::of(first);
}

constexpr RangeType MtrrState::block(uint64_t base, unsigned order, MtrrQueryStats* stats) const {
  if (stats != nullptr)
    ++stats->blocks;
  if (!def_.enabled())
    return RangeType::of(MemoryType::kUncacheable);
  const uint64_t size = arch::bit(order);
  const bool has_fixed = fixed_enabled() && base < kMtrrFixedLimit;
  if (has_fixed && base + size <= kMtrrFixedLimit)
    return fixed_block(base, base + size);
  bool partial = has_fixed;  // the block straddles 1 MiB: fixed below, variable above
  uint32_t seen = 0;
  for (unsigned i = 0; i < cap_.variable_count(); ++i) {
    const Variable& v = variable_[i];
    if (!v.valid)
      continue;
    Cover c = cover(v, base, order);
    if (c == Cover::kAll)
      seen |= type_bit(effective(v.raw_base & kPhysBaseTypeMask));
    partial |= c == Cover::kPartial;
  }
  // UC wins over every other match, so ranges covering only part of the block cannot change
  // the answer; the fixed ranges can, hence the straddle check above.
  if (!has_fixed && (seen & type_bit(MemoryType::kUncacheable)) != 0)
    return RangeType::of(MemoryType::kUncacheable);
  if (!partial)
    return RangeType::of(combine(seen, effective(def_.default_type())));
  // Masks never cover bits 11:0 and fixed sub-ranges are 4 KiB at least, so 4 KiB blocks
  // are never partial: the recursion ends there.
  HV_ASSERT(order > 12);
  const RangeType low = block(base, order - 1, stats);
  if (!low.uniform)
    return low;
  const RangeType high = block(base + size / 2, order - 1, stats);
  return high == low ? low : RangeType::mixed();
}

constexpr RangeType MtrrState::type_of(arch::Gpa start, uint64_t size,
                                       MtrrQueryStats* stats) const {
  HV_ASSERT(size > 0 && start.value() + size > start.value());
  uint64_t a = arch::align_down(start.value(), arch::kPageSize4K);
  const uint64_t end = arch::align_up(start.value() + size, arch::kPageSize4K);
  HV_ASSERT(end > a);
  RangeType result;
  // Cover [a, end) with the largest aligned power-of-two blocks (at most two per bit).
  while (a < end) {
    unsigned order = a == 0 ? 63 : static_cast<unsigned>(std::countr_zero(a));
    while (arch::bit(order) > end - a)
      --order;
    const RangeType part = block(a, order, stats);
    if (!part.uniform || (result.uniform && part.type != result.type))
      return RangeType::mixed();
    result = part;
    a += arch::bit(order);
  }
  return result;
}

constexpr UniformPage MtrrState::largest_uniform_page(arch::Gpa addr,
                                                      const arch::EptCapabilities& caps,
                                                      MtrrQueryStats* stats) const {
  const uint64_t candidates[] = {caps.pages_1g ? arch::kPageSize1G : 0,
                                 caps.pages_2m ? arch::kPageSize2M : 0, arch::kPageSize4K};
  for (uint64_t size : candidates) {
    if (size == 0)
      continue;
    const uint64_t base = arch::align_down(addr.value(), size);
    const RangeType t = block(base, static_cast<unsigned>(std::countr_zero(size)), stats);
    if (t.uniform)
      return UniformPage{arch::Gpa(base), size, t.type};
  }
  HV_PANIC("a 4 KiB block always has one MTRR type");
}

constexpr MtrrDiagnostics MtrrState::validate() const {
  MtrrDiagnostics d;
  d.invalid_default_type = !is_valid_mtrr_type(def_.default_type());
  d.fixed_enabled_without_support = def_.fixed_enabled() && !cap_.fixed_supported();
  bool wc = def_.default_type() == static_cast<uint8_t>(MemoryType::kWriteCombining);
  for (unsigned msr = 0; cap_.fixed_supported() && msr < kMtrrFixedMsrCount; ++msr) {
    for (unsigned byte = 0; byte < 8; ++byte) {
      d.invalid_fixed_types += is_valid_mtrr_type(fixed_raw(msr, byte)) ? 0u : 1u;
      wc |= fixed_raw(msr, byte) == static_cast<uint8_t>(MemoryType::kWriteCombining);
    }
  }
  const uint64_t address_bits = arch::bit_range(max_phys_addr_ - 1u, 12);
  for (unsigned i = 0; i < cap_.variable_count(); ++i) {
    const Variable& v = variable_[i];
    const uint64_t type = v.raw_base & kPhysBaseTypeMask;
    if ((v.raw_base & ~(address_bits | kPhysBaseTypeMask)) != 0 ||
        (v.raw_mask & ~(address_bits | arch::bit(kPhysMaskValidBit))) != 0)
      d.reserved_bits |= 1u << i;
    if (!v.valid)
      continue;
    if (!is_valid_mtrr_type(type))
      d.invalid_variable_types |= 1u << i;
    wc |= type == static_cast<uint64_t>(MemoryType::kWriteCombining);
    // Contiguous: every address bit from the lowest mask bit up to MAXPHYADDR-1 is set.
    const uint64_t lowest = v.mask & (~v.mask + 1);
    if (v.mask != 0 && v.mask != (address_bits & ~(lowest - 1)))
      d.noncontiguous_masks |= 1u << i;
  }
  d.write_combining_without_support = wc && !cap_.write_combining();
  return d;
}

}  // namespace mm
