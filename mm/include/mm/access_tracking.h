// Access tracking as pure value transforms, the inverse of each other (KVM's
// mark_spte_for_access_track and fast_pf_fix_direct_spte, commit f160c7b7bb32). They know
// nothing of concurrency: mm/live_aging.h and mm/fault_resolver.h apply them to live entries
// with LiveEntry, which is where the old value (and so A/D/W) comes from.
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/ept_sw_bits.h"
#include "mm/tracking_mode.h"

namespace mm {

// Whether `mode` can run with these capabilities: accessed-bit mode needs A/D enabled in the
// EPT pointer; rwx-stash mode needs it off (forcing rwx-stash on A/D hardware turns A/D
// off), so the transforms of that mode never have to touch bits 8/9.
constexpr bool tracking_mode_fits(TrackingMode mode, const arch::EptCapabilities& caps) {
  return mode == TrackingMode::kAccessedBit ? caps.ad_enabled : !caps.ad_enabled;
}

// rwx-stash aging of one present leaf: save R and X (and user-execute), clear R/W/X, set the
// marker. W is not saved; if it was set, "write withheld" records that tracking took it,
// so a later write may have it back. Anything else (tracked, never mapped) is returned as is.
constexpr arch::EptEntry mark_tracked(arch::EptEntry e) {
  using arch::EptEntry;
  if (!is_hw_present(e))
    return e;
  uint64_t raw = e.raw();
  uint64_t saved = (raw & (arch::bit(EptEntry::kReadBit) | arch::bit(EptEntry::kExecuteBit)))
                   << EptSwBits::kSavedReadBit;
  if (e.user_execute())
    saved |= EptSwBits::kSavedUserExecute;
  if (e.writable())
    raw |= EptSwBits::kWriteWithheld;
  raw &= ~(EptEntry::kRwxMask | arch::bit(EptEntry::kUserExecuteBit));
  return EptEntry(raw | saved | EptSwBits::kTracked);
}

// The inverse for an access that needs no write: R and X (and user-execute) come back, the
// marker and saved bits go. W stays off; "write withheld" stays as it was.
constexpr arch::EptEntry restore_access(arch::EptEntry e) {
  if (!is_tracked(e))
    return e;
  uint64_t raw = e.raw() & ~(EptSwBits::kSavedMask | EptSwBits::kTracked);
  raw |= saved_rwx(e);
  if (saved_user_execute(e))
    raw |= arch::bit(arch::EptEntry::kUserExecuteBit);
  return arch::EptEntry(raw);
}

// A present entry whose W tracking took away, on a page policy lets the guest write, and
// readable (W without R is a misconfiguration).
constexpr bool can_restore_write(arch::EptEntry e) {
  return is_hw_present(e) && !e.writable() && e.readable() && is_write_withheld(e) &&
         is_policy_writable(e);
}

// W back after a write fault. Only with can_restore_write; otherwise unchanged.
constexpr arch::EptEntry restore_write(arch::EptEntry e) {
  if (!can_restore_write(e))
    return e;
  return arch::EptEntry((e.raw() | arch::bit(arch::EptEntry::kWriteBit)) &
                        ~EptSwBits::kWriteWithheld);
}

// Take W away for write tracking without tracking accesses (dirty logging of a present
// entry). A write then faults and restore_write gives W back.
constexpr arch::EptEntry withhold_write(arch::EptEntry e) {
  if (!e.writable())
    return e;
  return arch::EptEntry((e.raw() & ~arch::bit(arch::EptEntry::kWriteBit)) |
                        EptSwBits::kWriteWithheld);
}

struct AgeResult {
  arch::EptEntry entry;   // the new value (equal to the input when nothing changes)
  bool accessed = false;  // the page was used since the previous pass
  bool dirty = false;     // ... and written
};

// One aging step of one entry, computed from the value it replaces.
//   accessed-bit: clear A and D; accessed = A, dirty = D. D is cleared too so that both
//     modes report "written since the previous pass" (rwx-stash consumes W the same way).
//   rwx-stash: mark tracked; accessed = it was present, dirty = W was set (the seed's
//     is_writable_pte before mark_spte_for_access_track).
// Non-leaf and non-present entries are left alone and report nothing.
constexpr AgeResult age(arch::EptEntry e, arch::EptLevel level, TrackingMode mode) {
  if (!e.is_leaf(level) || !is_hw_present(e))
    return {e, false, false};
  if (mode == TrackingMode::kAccessedBit) {
    arch::EptEntry next = e;
    next.set_accessed(false).set_dirty(false);
    return {next, e.accessed(), e.dirty()};
  }
  return {mark_tracked(e), true, e.writable()};
}

// Whether the page was used since the previous pass, without aging it.
constexpr bool test_age(arch::EptEntry e, arch::EptLevel level, TrackingMode mode) {
  if (!e.is_leaf(level) || !is_hw_present(e))
    return false;
  return mode == TrackingMode::kAccessedBit ? e.accessed() : true;
}

}  // namespace mm
