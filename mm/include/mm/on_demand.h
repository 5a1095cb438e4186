// On-demand mapping above the eager identity map. Below IdentityMap::top every address was
// decided at build time (mapped, or deliberately unmapped like the hypervisor's own pages);
// above it, an EPT violation on a guest-physical address (a 64-bit PCI BAR the memory map
// did not show, say) maps it 1:1 here, so a large MAXPHYADDR does not cost page tables
// for address space nobody uses. Memory there is never RAM from the map, so it is mapped
// like MMIO: R/W/X = 111, the MTRR type, never tracked.
//
// The leaf is the largest page the capabilities allow that lies wholly at or above the top
// and below 2^MAXPHYADDR, inside the non-present entry the walk stopped at, with one MTRR
// type. Any new tables are built unpublished and linked with one compare-and-swap on that
// entry; a CPU that loses the race hands its tables back and finds the other's mapping.
// Mapping a non-present entry needs no INVEPT: nothing could have been cached from it.
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/identity_map.h"
#include "mm/install_leaf.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/mtrr.h"
#include "mm/table_memory.h"

namespace mm {

struct OnDemandReport {
  bool mapped_here = false;  // false: another CPU mapped it first (the fault is spurious)
  arch::EptLevel level = arch::EptLevel::kPte;  // of the leaf now translating the address
  arch::EptEntry leaf;
};

namespace on_demand_detail {

// The largest legal leaf level for `gpa` no higher than `stop` (a non-present entry there).
constexpr arch::EptLevel leaf_level(arch::Gpa gpa, arch::EptLevel stop, uint64_t top,
                                    const MtrrState& mtrrs, const arch::EptCapabilities& caps) {
  const uint64_t space = uint64_t{1} << caps.max_phys_addr;
  for (unsigned l = static_cast<unsigned>(stop); l > 1; --l) {
    const auto level = static_cast<arch::EptLevel>(l);
    const uint64_t span = arch::ept_level_span(level);
    const uint64_t base = arch::align_down(gpa.value(), span);
    if (identity_map_detail::leaf_allowed(level, caps) && base >= top && base + span <= space &&
        mtrrs.type_of(arch::Gpa(base), span).uniform)
      return level;
  }
  return arch::EptLevel::kPte;
}

constexpr arch::EptEntry mmio_leaf(arch::Gpa gpa, arch::EptLevel level, MemoryType type,
                                   const arch::EptCapabilities& caps) {
  arch::EptEntry e;
  e.set_rwx(0b111).set_memory_type(type).set_ignore_pat(false);
  e.set_address(arch::Hpa(arch::align_down(gpa.value(), arch::ept_level_span(level))));
  e.set_large_page(level != arch::EptLevel::kPte);
  e.set_user_execute(caps.mode_based_execute_enabled);
  return arch::EptEntry(e.raw() | EptSwBits::kPolicyWritable);
}

}  // namespace on_demand_detail

// Errors: kNotFound (below the eager top: unmapped there on purpose, e.g. hypervisor
// memory; the violation is the guest's), kOutOfRange (at or above 2^MAXPHYADDR or 2^48),
// kNoMemory (nothing changed), kRetryLimit.
template <TableMemory Memory>
arch::Result<OnDemandReport> map_on_demand(Memory& memory, const IdentityMap& map, arch::Gpa gpa,
                                           const MtrrState& mtrrs,
                                           const arch::EptCapabilities& caps) {
  if (gpa.value() >= (uint64_t{1} << caps.max_phys_addr) || gpa.value() >= kEptGpaLimit)
    return arch::Error::kOutOfRange;
  if (gpa.value() < map.top)
    return arch::Error::kNotFound;
  for (unsigned attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    const EptWalk w = TRY(walk(memory, map.root, gpa));
    if (w.mapped())
      return OnDemandReport{false, w.level, w.entry};
    const arch::EptLevel level = on_demand_detail::leaf_level(gpa, w.level, map.top, mtrrs, caps);
    const arch::EptEntry leaf = on_demand_detail::mmio_leaf(
        gpa, level,
        mtrrs.type_of(gpa.page_base(arch::ept_level_span(level)), arch::ept_level_span(level)).type,
        caps);
    if (TRY(install_leaf_below(memory, w, gpa, level, leaf, caps)))
      return OnDemandReport{true, level, leaf};
  }
  return arch::Error::kRetryLimit;
}

}  // namespace mm
