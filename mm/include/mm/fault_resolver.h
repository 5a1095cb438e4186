// The lockless EPT-violation fast path (the seed's fast_page_fault): given the decoded
// access set and the live leaf the faulting address uses, restore a tracked entry and/or
// give W back, with one compare-and-swap, or say why the fault is not ours to fix.
//
// Restoring never needs INVEPT: it only sets bits 2:0, so the worst a stale cached
// translation can do is cause another EPT violation, and an EPT violation invalidates the
// guest-physical and combined mappings that would translate the faulting address
// [SDM 3C "Operations that Invalidate Cached Mappings"]; INVEPT after 0 -> 1 permission
// changes is optional [SDM 3C "Guidelines for Use of the INVEPT Instruction"]. That is also
// why a fault the current leaf already allows is spurious: another CPU restored the entry
// after this one cached the old translation, and the violation has already dropped it.
//
// Not modelled: mode-based execute. The access set does not say whether a fetch was a
// user-mode one, so with that control on, a user fetch from an entry with X = 1 and
// user-execute = 0 would be called spurious and fault again forever. agevisor does not
// enable mode-based execute; whoever does must extend AccessSet first.
#pragma once

#include <type_traits>

#include <cstdint>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"

namespace mm {

// Why the fast path leaves a fault to the slow path (or to the guest).
enum class Violation : uint8_t {
  kNone = 0,
  kEmptyAccess,          // the qualification reported no access at all
  kNotLeaf,              // a present non-leaf entry was passed as the leaf (caller bug)
  kNotMapped,            // never mapped, protected or otherwise not ours to restore
  kReadNotPermitted,     // the restored entry still has R = 0
  kExecuteNotPermitted,  // ... X = 0
  kWriteNotPermitted,    // policy says the page must not be written
  kWriteProtected,       // W is off for a reason other than tracking (not withheld, or R = 0)
  kWouldMisconfigure,    // the restored value would fail check_entry; nothing written
};

constexpr const char* violation_name(Violation v) {
  switch (v) {
    case Violation::kNone:
      return "none";
    case Violation::kEmptyAccess:
      return "empty access set";
    case Violation::kNotLeaf:
      return "not a leaf";
    case Violation::kNotMapped:
      return "not mapped";
    case Violation::kReadNotPermitted:
      return "read not permitted";
    case Violation::kExecuteNotPermitted:
      return "execute not permitted";
    case Violation::kWriteNotPermitted:
      return "write not permitted by policy";
    case Violation::kWriteProtected:
      return "write-protected";
    case Violation::kWouldMisconfigure:
      return "restore would misconfigure";
  }
  return "unknown";
}

struct FaultResolution {
  enum Outcome : uint8_t {
    kAccessRestored = 1 << 0,  // a tracked entry is present again (the page was accessed)
    kWriteRestored = 1 << 1,   // W is back: the page is dirty from now on
    kSpurious = 1 << 2,        // the leaf already allows the access
    kNeedsSplit = 1 << 3,      // W must come back at 4 KiB granularity: split this leaf
    kViolation = 1 << 4,       // see `violation`
  };

  uint8_t outcomes = 0;
  Violation violation = Violation::kNone;
  arch::EptEntry before;  // the value the decision was made on (and, if written, replaced)
  arch::EptEntry after;   // the value installed (== before when nothing was written)
  unsigned attempts = 0;

  constexpr bool has(Outcome o) const { return (outcomes & o) != 0; }
  constexpr bool wrote() const { return !(after == before); }
  // Restoring only sets permission bits: never anything to invalidate (see above).
  static constexpr FlushRequest flush() { return FlushRequest::none(); }
};

struct ResolverPolicy {
  // The seed refuses to give W back to a leaf above 4 KiB so that dirty logging stays at
  // page granularity. agevisor's default reports dirtiness per leaf (2 MiB / 1 GiB when the
  // identity map uses large pages) and restores W there; set this to get kNeedsSplit
  // instead, with R/X still restored, when 4 KiB dirty granularity is wanted.
  bool split_large_for_write = false;
  unsigned max_attempts = kMaxCasAttempts;
};

namespace detail {

constexpr Violation why_still_denied(arch::EptEntry e, AccessSet access) {
  if (access.write() && !e.writable())
    return is_policy_writable(e) ? Violation::kWriteProtected : Violation::kWriteNotPermitted;
  if (access.read() && !e.readable())
    return Violation::kReadNotPermitted;
  return Violation::kExecuteNotPermitted;
}

constexpr FaultResolution violate(FaultResolution r, Violation v) {
  r.outcomes = static_cast<uint8_t>(r.outcomes | FaultResolution::kViolation);
  r.violation = v;
  return r;
}

}  // namespace detail

// The decision for one snapshot of the leaf, without writing anything.
constexpr FaultResolution plan_fault(arch::EptEntry old, arch::EptLevel level, AccessSet access,
                                     const arch::EptCapabilities& caps,
                                     const ResolverPolicy& policy = {}) {
  FaultResolution r;
  r.before = old;
  r.after = old;
  if (access.empty())
    return detail::violate(r, Violation::kEmptyAccess);
  if (is_hw_present(old) && !old.is_leaf(level))
    return detail::violate(r, Violation::kNotLeaf);
  if (!is_mapped(old))
    return detail::violate(r, Violation::kNotMapped);
  if (access.allowed_by(old)) {
    r.outcomes = FaultResolution::kSpurious;
    return r;
  }
  arch::EptEntry next = old;
  if (is_tracked(old)) {
    next = restore_access(old);
    r.outcomes |= FaultResolution::kAccessRestored;
  }
  if (access.write() && can_restore_write(next)) {
    if (level != arch::EptLevel::kPte && policy.split_large_for_write) {
      r.outcomes |= FaultResolution::kNeedsSplit;
    } else {
      next = restore_write(next);
      r.outcomes |= FaultResolution::kWriteRestored;
    }
  }
  if (!check_entry(next, level, caps).ok()) {
    FaultResolution refused;
    refused.before = old;
    refused.after = old;
    return detail::violate(refused, Violation::kWouldMisconfigure);
  }
  r.after = next;
  // After a split the write is the split's business; anything else still denied is not.
  const AccessSet still_needed = r.has(FaultResolution::kNeedsSplit)
                                     ? AccessSet(access.read(), false, access.fetch())
                                     : access;
  if (!still_needed.allowed_by(next))
    return detail::violate(r, detail::why_still_denied(next, still_needed));
  return r;
}

// plan_fault applied to the live leaf with compare-and-swap. A refused compare-and-swap
// re-plans from the value it found (another CPU may have restored the entry, making this
// fault spurious, or aged it again); after `policy.max_attempts` losses it gives up with
// Error::kRetryLimit and nothing written, and hv/ simply resumes the guest, which faults
// again if it still has to.
template <EntrySlotRef Slot>
arch::Result<FaultResolution> resolve_fault(Slot&& leaf, arch::EptLevel level, AccessSet access,
                                            const arch::EptCapabilities& caps,
                                            const ResolverPolicy& policy = {}) {
  arch::EptEntry old = leaf.load();
  for (unsigned attempt = 1; attempt <= policy.max_attempts; ++attempt) {
    FaultResolution plan = plan_fault(old, level, access, caps, policy);
    plan.attempts = attempt;
    if (!plan.wrote() || leaf.compare_exchange(old, plan.after))
      return plan;
  }
  return arch::Error::kRetryLimit;
}

}  // namespace mm
