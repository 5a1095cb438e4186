// Installing a new leaf below a non-present entry: the tables between them are built
// unpublished, bottom-up, and linked by one compare-and-swap on that entry. Shared by
// on-demand mapping (mm/on_demand.h) and the dummy-page alias (mm/alias_map.h).
#pragma once

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/ept_walk.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"

namespace mm {

// Puts `leaf` (for `gpa`, at `level`) below the non-present entry the walk `w` stopped at,
// with the tables in between. Returns true when it is installed, false when the entry
// changed under us (the tables are handed back; walk again). Error::kNoMemory when a table
// cannot be had (nothing published).
template <TableMemory Memory>
arch::Result<bool> install_leaf_below(Memory& memory, const EptWalk& w, arch::Gpa gpa,
                                      arch::EptLevel level, arch::EptEntry leaf,
                                      const arch::EptCapabilities& caps) {
  arch::EptEntry link = leaf;
  arch::Hpa built[3];
  unsigned count = 0;
  for (unsigned l = static_cast<unsigned>(level) + 1; l <= static_cast<unsigned>(w.level); ++l) {
    arch::Result<arch::Hpa> table = memory.allocate_table();
    if (!table.ok()) {
      for (unsigned i = 0; i < count; ++i)
        split_detail::release_unpublished(memory, built[i]);
      return table.error();
    }
    built[count++] = table.value();
    const auto child = static_cast<arch::EptLevel>(l - 1);
    memory.table(table.value())[ept_index(gpa, child)] = link.raw();
    link = table_link(table.value(), caps);
  }
  arch::EptEntry expected = w.entry;
  if (LiveEntry(memory.table(w.table)[w.index]).compare_exchange(expected, link))
    return true;
  for (unsigned i = 0; i < count; ++i)
    split_detail::release_unpublished(memory, built[i]);
  return false;
}

}  // namespace mm
