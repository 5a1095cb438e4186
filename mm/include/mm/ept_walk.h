// Query: the entry that translates a guest-physical address, found by walking from the
// root, for tests and diagnostics. Entries are read with LiveEntry loads, so a walk may run
// while other CPUs age or restore entries.
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/ept_sw_bits.h"
#include "mm/live_entry.h"
#include "mm/table_memory.h"

namespace mm {

// A 4-level EPT translates 48-bit guest-physical addresses.
inline constexpr uint64_t kEptGpaLimit = uint64_t{1} << 48;

// The index of `gpa`'s entry in a table at `level`: bits 47:39, 38:30, 29:21 or 20:12.
constexpr unsigned ept_index(arch::Gpa gpa, arch::EptLevel level) {
  const unsigned l = static_cast<unsigned>(level);
  return static_cast<unsigned>(arch::extract(gpa.value(), 11 + 9 * l, 3 + 9 * l));
}

static_assert(ept_index(arch::Gpa(0x1FF000), arch::EptLevel::kPte) == 0x1FF);
static_assert(ept_index(arch::Gpa(uint64_t{0x1FF} << 39), arch::EptLevel::kPml4e) == 0x1FF);

struct EptWalk {
  arch::EptEntry entry;  // the leaf, or the non-present entry where the walk stopped
  arch::EptLevel level = arch::EptLevel::kPml4e;
  arch::Hpa table;     // the table holding `entry`
  unsigned index = 0;  // its index there

  // The walk ended at a leaf that maps the address (present or access-tracked).
  constexpr bool mapped() const { return entry.is_leaf(level) && is_mapped(entry); }
};

// Error::kOutOfRange above the 48-bit guest-physical space.
template <TableMemory Memory>
arch::Result<EptWalk> walk(Memory& memory, arch::Hpa root, arch::Gpa gpa) {
  if (gpa.value() >= kEptGpaLimit)
    return arch::Error::kOutOfRange;
  EptWalk w;
  w.table = root;
  for (;;) {
    w.index = ept_index(gpa, w.level);
    w.entry = LiveEntry(memory.table(w.table)[w.index]).load();
    if (w.entry.is_leaf(w.level) || !is_hw_present(w.entry))
      return w;
    w.table = w.entry.address();
    w.level = static_cast<arch::EptLevel>(static_cast<unsigned>(w.level) - 1);
  }
}

}  // namespace mm
