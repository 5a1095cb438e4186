// Aging one live leaf: mm::age applied through LiveEntry, with a bounded number of
// compare-and-swap attempts. What is reported (accessed, dirty) comes from the value the
// successful compare-and-swap replaced, so a concurrent restore, write restore or hardware
// A/D update is either included in this pass or left for the next one, never lost.
#pragma once

#include <type_traits>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/flush_request.h"
#include "mm/live_entry.h"
#include "mm/tracking_mode.h"

namespace mm {

// Enough for any real contention (two vCPUs and the hardware on one entry); a loop that
// keeps losing is reported instead of spinning.
inline constexpr unsigned kMaxCasAttempts = 16;

struct AgeReport {
  bool accessed = false;
  bool dirty = false;
  FlushRequest flush;     // needed before the next access is guaranteed to fault / set A
  arch::EptEntry before;  // the value replaced
  arch::EptEntry after;   // the value installed (== before when nothing changed)
  unsigned attempts = 0;
};

// Error::kRetryLimit: every attempt lost a race; the entry is unchanged by this call and is
// left for the next pass (report it as accessed, since something keeps changing it).
// Error::kInvalidArgument: `mode` does not fit `caps`, or the aged value would break
// check_entry (the entry was already illegal); nothing is written.
template <EntrySlotRef Slot>
arch::Result<AgeReport> age_live_entry(Slot&& entry, arch::EptLevel level, TrackingMode mode,
                                       const arch::EptCapabilities& caps,
                                       unsigned max_attempts = kMaxCasAttempts) {
  if (!tracking_mode_fits(mode, caps))
    return arch::Error::kInvalidArgument;
  arch::EptEntry old = entry.load();
  for (unsigned attempt = 1; attempt <= max_attempts; ++attempt) {
    const AgeResult aged = age(old, level, mode);
    if (aged.entry == old)
      return AgeReport{false, false, FlushRequest::none(), old, old, attempt};
    if (!check_entry(aged.entry, level, caps).ok())
      return arch::Error::kInvalidArgument;
    const arch::EptEntry replaced = old;
    if (entry.compare_exchange(old, aged.entry)) {
      return AgeReport{aged.accessed, aged.dirty, required_flush(replaced, aged.entry, level, caps),
                       replaced,      aged.entry, attempt};
    }
  }
  return arch::Error::kRetryLimit;
}

}  // namespace mm
