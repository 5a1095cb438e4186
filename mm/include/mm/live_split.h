// Live split: a 1 GiB or 2 MiB leaf becomes a table of 512 smaller leaves while other CPUs
// (and the processor's A/D updates) may be using it. The table is built unpublished, from
// the exact parent value, and installed with one compare-and-swap on the parent; if the
// parent changed meanwhile the table is rebuilt from the new value, so no A/D, W, dirty or
// tracking state is lost. If another CPU split it first, our table is handed back unused.
//
// A split turns a present large leaf into a table: cached translations of the large page
// may live on, so the returned flush (single-context INVEPT) must be done before relying on
// the children, e.g. before aging them [SDM 3C "Guidelines for Use of the INVEPT
// Instruction"]. Until then the processor may still use the old 2 MiB/1 GiB translation,
// which carries the same permissions and type as every child.
#pragma once

#include <cstdint>
#include <type_traits>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/ept_sw_bits.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/table_memory.h"

namespace mm {

constexpr arch::EptLevel child_level(arch::EptLevel level) {
  return static_cast<arch::EptLevel>(static_cast<unsigned>(level) - 1);
}

// Child `index` of a large leaf: every bit of the parent (R/W/X, memory type, ignore-PAT,
// A/D, user-execute, tracked marker, saved bits, policy-writable, write-withheld) with the
// address advanced, and bit 7 kept only if the child is itself a large page.
constexpr arch::EptEntry split_child(arch::EptEntry parent, arch::EptLevel level, unsigned index) {
  const arch::EptLevel child = child_level(level);
  arch::EptEntry e = parent;
  e.set_address(arch::Hpa(parent.address().value() + index * arch::ept_level_span(child)));
  e.set_large_page(child != arch::EptLevel::kPte);
  return e;
}

// The non-leaf entry agevisor links tables with: full access (the leaves decide).
constexpr arch::EptEntry table_link(arch::Hpa table, const arch::EptCapabilities& caps) {
  arch::EptEntry e;
  e.set_rwx(0b111).set_address(table).set_user_execute(caps.mode_based_execute_enabled);
  return e;
}

struct SplitReport {
  enum class Kind : uint8_t {
    kSplit,         // this call installed `table`
    kAlreadySplit,  // another CPU did; `table` is theirs, nothing was changed here
  };
  Kind kind = Kind::kSplit;
  arch::Hpa table;        // the table the parent now links to
  arch::EptEntry before;  // the leaf replaced (kSplit), or the link found (kAlreadySplit)
  arch::EptEntry after;   // the parent entry now
  FlushRequest flush;
  unsigned attempts = 0;
};

namespace split_detail {

// Only a never-published table can be reused at once; memories without a free just keep it.
template <typename Memory>
void release_unpublished(Memory& memory, arch::Hpa table) {
  if constexpr (requires { memory.free_unpublished_table(table); })
    memory.free_unpublished_table(table);
}

template <typename Memory>
void fill_children(Memory& memory, arch::Hpa table, arch::EptEntry parent, arch::EptLevel level) {
  uint64_t* entries = memory.table(table);
  for (unsigned i = 0; i < kTableEntries; ++i)
    entries[i] = split_child(parent, level, i).raw();  // unpublished: plain stores
}

}  // namespace split_detail

// Errors: kInvalidArgument (level is not PDE/PDPTE), kNotFound (the parent is neither a
// leaf nor a table link: nothing to split), kNoMemory (the parent is unchanged),
// kRetryLimit (every attempt lost a race; the parent is unchanged by this call).
// A walk that finds its leaf gone (split) starts again from the root.
template <TableMemory Memory, typename Slot>
requires EntrySlot<std::remove_cvref_t<Slot>> arch::Result<SplitReport> split_live_leaf(
    Memory& memory, Slot&& parent, arch::EptLevel level, const arch::EptCapabilities& caps,
    unsigned max_attempts = kMaxCasAttempts) {
  if (level != arch::EptLevel::kPde && level != arch::EptLevel::kPdpte)
    return arch::Error::kInvalidArgument;
  arch::EptEntry old = parent.load();
  arch::Hpa table;
  bool have_table = false;
  for (unsigned attempt = 1; attempt <= max_attempts; ++attempt) {
    if (!old.is_leaf(level)) {
      if (have_table)
        split_detail::release_unpublished(memory, table);
      if (!is_hw_present(old))
        return arch::Error::kNotFound;
      return SplitReport{
          SplitReport::Kind::kAlreadySplit, old.address(), old, old, FlushRequest::none(), attempt};
    }
    if (!have_table) {
      table = TRY(memory.allocate_table());
      have_table = true;
    }
    split_detail::fill_children(memory, table, old, level);
    const arch::EptEntry link = table_link(table, caps);
    const arch::EptEntry replaced = old;
    if (parent.compare_exchange(old, link)) {
      return SplitReport{SplitReport::Kind::kSplit,
                         table,
                         replaced,
                         link,
                         required_flush(replaced, link, level, caps),
                         attempt};
    }
  }
  if (have_table)
    split_detail::release_unpublished(memory, table);
  return arch::Error::kRetryLimit;
}

}  // namespace mm
