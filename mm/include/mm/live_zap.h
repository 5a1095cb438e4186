// Removing a live entry (unmapping, or replacing a leaf before a split) without losing what
// it knew: KVM lost accessed information when entries were zapped for reasons other than
// aging. The exchange returns the value it removed, and the accessed/dirty state is read
// from that value exactly as an aging pass would have read it.
#pragma once

#include <type_traits>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/access_tracking.h"
#include "mm/flush_request.h"
#include "mm/live_entry.h"
#include "mm/tracking_mode.h"

namespace mm {

struct ZapReport {
  bool accessed = false;   // used since the previous aging pass
  bool dirty = false;      // written since the previous aging pass
  FlushRequest flush;      // before the old translation is guaranteed gone
  arch::EptEntry removed;  // the value the exchange took out
};

// Installs `replacement` (all zero by default: never mapped) and reports what the removed
// value says about the page. Exchange, not compare-and-swap: the replacement does not
// depend on the old value, and nothing the hardware or another CPU wrote can be missed
// because whatever was there is what gets reported.
template <EntrySlotRef Slot>
ZapReport zap_live_entry(Slot&& entry, arch::EptLevel level, TrackingMode mode,
                         const arch::EptCapabilities& caps,
                         arch::EptEntry replacement = arch::EptEntry()) {
  const arch::EptEntry removed = entry.exchange(replacement);
  const AgeResult seen = age(removed, level, mode);
  return ZapReport{seen.accessed, seen.dirty, required_flush(removed, replacement, level, caps),
                   removed};
}

}  // namespace mm
