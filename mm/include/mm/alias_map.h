// One guest page backed by a host page that is not its identity: how agevisor hides its own
// memory. The identity map leaves hypervisor ranges unmapped; when the guest touches one,
// hv/ maps the faulting 4 KiB page to a shared dummy page, so reads see no hypervisor data,
// writes never reach hypervisor memory and the guest carries on.
#pragma once

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/memory_type.h"
#include "arch/result.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/install_leaf.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"

namespace mm {

// The leaf: R/W/X (a guest that jumps there runs its own bytes, like any RAM), never
// tracked (hypervisor ranges are not RAM to the tracker), policy-writable.
constexpr arch::EptEntry alias_leaf(arch::Hpa target, arch::MemoryType type,
                                    const arch::EptCapabilities& caps) {
  arch::EptEntry e;
  e.set_rwx(0b111).set_memory_type(type).set_ignore_pat(false).set_address(target);
  e.set_user_execute(caps.mode_based_execute_enabled);
  return arch::EptEntry(e.raw() | EptSwBits::kPolicyWritable);
}

// Maps the 4 KiB page holding `gpa` to `target` (4 KiB aligned). Missing tables are built
// unpublished, bottom-up, and linked by one compare-and-swap on the non-present entry the
// walk stopped at (a loser hands its tables back and walks again). Returns true when this
// call mapped it, false when the page was already mapped (by another CPU, or it is not a
// hole at all: the caller decides what that means). Needs no flush: the entry was not
// present. Errors: kInvalidArgument (unaligned target, or a leaf check_entry refuses),
// kOutOfRange (above the 48-bit space), kNoMemory, kRetryLimit.
template <TableMemory Memory>
arch::Result<bool> map_alias_page(Memory& memory, arch::Hpa root, arch::Gpa gpa, arch::Hpa target,
                                  arch::MemoryType type, const arch::EptCapabilities& caps) {
  if (!arch::is_aligned(target.value(), arch::kPageSize4K))
    return arch::Error::kInvalidArgument;
  const arch::EptEntry leaf = alias_leaf(target, type, caps);
  if (!check_entry(leaf, arch::EptLevel::kPte, caps).ok())
    return arch::Error::kInvalidArgument;
  for (unsigned attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    const EptWalk w = TRY(walk(memory, root, gpa));
    if (is_mapped(w.entry))
      return false;
    if (TRY(install_leaf_below(memory, w, gpa, arch::EptLevel::kPte, leaf, caps)))
      return true;
  }
  return arch::Error::kRetryLimit;
}

}  // namespace mm
