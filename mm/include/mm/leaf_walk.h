// Every mapped leaf of a guest-physical range, for the passes that are not budgeted (dirty
// logging, splitting a range to 4 KiB). Entries are read with atomic loads; the visitor
// changes them only through the LiveEntry it is given. A visitor that finds its leaf turned
// into a table link (split by another CPU, or by the visitor itself) says kDescend and the
// walk follows the link at the same index. [docs/aging.md]
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/ept_entry.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"

namespace mm {

enum class LeafVisit : uint8_t {
  kNext,     // done with this leaf
  kDescend,  // the entry is a table link now: walk into it
  kStop,     // end the walk (the visitor recorded why)
};

namespace leaf_walk_detail {

// visit(LiveEntry&, arch::EptLevel, uint64_t base) -> LeafVisit. Returns false on kStop.
template <TableMemory Memory, typename Visit>
bool walk_table(Memory& memory, arch::Hpa table, arch::EptLevel level, uint64_t table_base,
                uint64_t start, uint64_t end, Visit& visit) {
  uint64_t* entries = memory.table(table);
  const uint64_t span = arch::ept_level_span(level);
  const unsigned first = table_base < start ? ept_index(arch::Gpa(start), level) : 0;
  for (unsigned i = first; i < kTableEntries; ++i) {
    const uint64_t base = table_base + i * span;
    if (base >= end)
      return true;
    LiveEntry slot(entries[i]);
    const arch::EptEntry e = slot.load();
    if (is_hw_present(e) && !e.is_leaf(level)) {
      if (!walk_table(memory, e.address(), child_level(level), base, start, end, visit))
        return false;
      continue;
    }
    if (!is_mapped(e))
      continue;
    switch (visit(slot, level, base)) {
      case LeafVisit::kNext:
        break;
      case LeafVisit::kDescend:
        --i;  // unsigned wrap-around is well defined; the loop's ++i restores it
        break;
      case LeafVisit::kStop:
        return false;
    }
  }
  return true;
}

}  // namespace leaf_walk_detail

// Returns false when the visitor stopped the walk. [start, end) must lie below 2^48.
template <TableMemory Memory, typename Visit>
bool for_each_mapped_leaf(Memory& memory, arch::Hpa root, arch::Gpa start, arch::Gpa end,
                          Visit&& visit) {
  return leaf_walk_detail::walk_table(memory, root, arch::EptLevel::kPml4e, 0, start.value(),
                                      end.value(), visit);
}

}  // namespace mm
