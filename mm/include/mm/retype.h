// Retype: bring the memory types of a guest-physical range in line with new MTRR values
// (hv/ intercepts guest MTRR writes, decodes the new registers into an MtrrState and calls
// this for the range they affect). Each mapped leaf in the range gets the type the MTRRs
// give over its whole span, changed with a compare-and-swap that keeps every other bit
// (permissions, A/D, W, tracked marker, saved bits); a leaf whose span is no longer uniform
// is split first (mm/live_split.h) and its children are retyped. Leaves are never merged
// back. A changed type of a present leaf needs a single-context INVEPT [SDM 3C "Guidelines
// for Use of the INVEPT Instruction"], which the merged flush request says.
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/mtrr.h"
#include "mm/table_memory.h"

namespace mm {

struct RetypeReport {
  FlushRequest flush;
  uint64_t leaves_changed = 0;
  uint64_t splits = 0;
};

namespace retype_detail {

// Sets the memory type of the leaf in `slot` if it is still a leaf. Returns false when the
// entry stopped being a leaf (split by another CPU): the caller walks again.
template <typename Slot>
arch::Result<bool> set_leaf_type(Slot&& slot, arch::EptEntry old, arch::EptLevel level,
                                 MemoryType type, const arch::EptCapabilities& caps,
                                 RetypeReport& report) {
  for (unsigned attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    if (!old.is_leaf(level))
      return false;
    arch::EptEntry next = old;
    next.set_memory_type(type);
    if (next == old)
      return true;
    const arch::EptEntry replaced = old;
    if (slot.compare_exchange(old, next)) {
      report.flush.merge(required_flush(replaced, next, level, caps));
      ++report.leaves_changed;
      return true;
    }
  }
  return arch::Error::kRetryLimit;
}

}  // namespace retype_detail

// [start, start + size), widened to 4 KiB pages. Unmapped parts are skipped. Errors:
// kOutOfRange (beyond the 48-bit space), kNoMemory (a needed split could not get a table;
// leaves already retyped stay retyped, and the returned error means the caller must still
// flush what it may have changed: it should issue a single-context INVEPT), kRetryLimit.
template <TableMemory Memory>
arch::Result<RetypeReport> retype_range(Memory& memory, arch::Hpa root, arch::Gpa start,
                                        uint64_t size, const MtrrState& mtrrs,
                                        const arch::EptCapabilities& caps) {
  RetypeReport report;
  uint64_t a = arch::align_down(start.value(), arch::kPageSize4K);
  const uint64_t end = arch::align_up(start.value() + size, arch::kPageSize4K);
  if (end > kEptGpaLimit || end < a)
    return arch::Error::kOutOfRange;
  while (a < end) {
    const EptWalk w = TRY(walk(memory, root, arch::Gpa(a)));
    const uint64_t span = arch::ept_level_span(w.level);
    const uint64_t base = arch::align_down(a, span);
    if (!w.mapped()) {  // not present above the leaves, or an unmapped leaf
      a = base + span;
      continue;
    }
    LiveEntry slot(memory.table(w.table)[w.index]);
    const RangeType type = mtrrs.type_of(arch::Gpa(base), span);
    if (!type.uniform) {
      const SplitReport split = TRY(split_live_leaf(memory, slot, w.level, caps));
      report.flush.merge(split.flush);
      report.splits += split.kind == SplitReport::Kind::kSplit ? 1 : 0;
      continue;  // walk again: the address now resolves to a child
    }
    if (TRY(retype_detail::set_leaf_type(slot, w.entry, w.level, type.type, caps, report)))
      a = base + span;
  }
  return report;
}

}  // namespace mm
