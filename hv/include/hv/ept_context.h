// agevisor's EPT as the exit path sees it: the identity map from mm/, the memory its tables
// come from, the MTRR types it follows, and the two things an exit may ask of it: resolve an
// EPT violation (access tracking, on-demand mapping above the eager top, splitting a large
// leaf when the resolver asks), and retype after the guest changed an MTRR. Pure over
// mm::TableMemory, so host tests run it on host memory.
#pragma once

#include <atomic>
#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_violation_qualification.h"
#include "hv/exits/exit_seams.h"
#include "mm/access_set.h"
#include "mm/alias_map.h"
#include "mm/ept_walk.h"
#include "mm/fault_resolver.h"
#include "mm/flush_request.h"
#include "mm/identity_map.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/mtrr.h"
#include "mm/on_demand.h"
#include "mm/retype.h"
#include "mm/table_memory.h"

namespace hv {

struct EptStats {
  uint64_t access_restored = 0;
  uint64_t write_restored = 0;
  uint64_t spurious = 0;
  uint64_t splits = 0;
  uint64_t mapped_on_demand = 0;
  uint64_t hidden_pages_backed = 0;  // hypervisor pages the guest touched, now on the dummy
};

// agevisor's own memory as the guest must (not) see it: ranges the identity map leaves
// unmapped, backed on first touch by one shared dummy page. Each range is reported once.
struct HiddenRanges {
  static constexpr size_t kMax = 16;
  struct Range {
    uint64_t start = 0;
    uint64_t end = 0;      // exclusive
    uint8_t reported = 0;  // set (atomically) by the first access
  };
  Range ranges[kMax];
  size_t count = 0;

  // false when full (the caller keeps the violation a denial for what did not fit).
  constexpr bool add(uint64_t start, uint64_t end) {
    if (count == kMax)
      return false;
    ranges[count++] = Range{start, end, 0};
    return true;
  }
  constexpr int find(uint64_t gpa) const {
    for (size_t i = 0; i < count; ++i) {
      if (gpa >= ranges[i].start && gpa < ranges[i].end)
        return static_cast<int>(i);
    }
    return -1;
  }
};

template <mm::TableMemory Memory>
struct EptContext {
  Memory* memory = nullptr;
  mm::IdentityMap map;
  mm::MtrrState mtrrs;
  arch::EptCapabilities caps;
  mm::ResolverPolicy policy;
  EptStats stats;
  // The dummy page hidden ranges are backed with (zero: hiding off, such accesses denied).
  arch::Hpa dummy_page;
  HiddenRanges hidden;
};

struct EptFault {
  EptFaultResult result = EptFaultResult::kFailed;
  mm::Violation violation = mm::Violation::kNone;
  arch::Error error = arch::Error::kNone;
  int hidden_range = -1;      // the hidden range the guest touched, if it did
  bool first_report = false;  // ... for the first time: the caller reports it
};

namespace ept_detail {

template <mm::TableMemory Memory>
mm::LiveEntry slot_of(EptContext<Memory>& ept, const mm::EptWalk& w) {
  return mm::LiveEntry(ept.memory->table(w.table)[w.index]);
}

// Splits can lose races to other CPUs; a few walks make sure a changing map is followed.
inline constexpr unsigned kMaxWalks = 8;

}  // namespace ept_detail

namespace ept_detail {

// A guest access to a hole of the identity map below its top: agevisor's own memory. With a
// dummy page, the touched page is backed by it (reads see no hypervisor data, writes land
// there) and the guest continues; otherwise, and outside every hidden range, it is denied.
template <mm::TableMemory Memory>
EptFault back_hidden_page(EptContext<Memory>& ept, arch::Gpa gpa) {
  EptFault f{EptFaultResult::kDenied, mm::Violation::kNotMapped, arch::Error::kNotFound};
  f.hidden_range = ept.hidden.find(gpa.value());
  if (f.hidden_range < 0 || ept.dummy_page.value() == 0)
    return f;
  const auto mapped = mm::map_alias_page(*ept.memory, ept.map.root, gpa, ept.dummy_page,
                                         arch::MemoryType::kWriteBack, ept.caps);
  if (!mapped.ok()) {
    f.result = EptFaultResult::kFailed;
    f.error = mapped.error();
    return f;
  }
  if (mapped.value())
    ++ept.stats.hidden_pages_backed;
  uint8_t& reported = ept.hidden.ranges[f.hidden_range].reported;
  f.first_report = std::atomic_ref<uint8_t>(reported).exchange(1) == 0;
  f.result = EptFaultResult::kResolved;
  f.violation = mm::Violation::kNone;
  f.error = arch::Error::kNone;
  return f;
}

}  // namespace ept_detail

using ept_detail::back_hidden_page;

// Resolving never needs an INVEPT: an EPT violation invalidates the faulting translation
// [SDM 3C "EPT Violations"; docs/ept-layout.md], and a split keeps every translation as it
// was.
template <mm::TableMemory Memory>
EptFault resolve_ept_violation(EptContext<Memory>& ept, arch::Gpa gpa,
                               const arch::EptViolationQualification& q) {
  const mm::AccessSet access{q.read, q.write, q.fetch};
  for (unsigned walks = 0; walks < ept_detail::kMaxWalks; ++walks) {
    const auto w = mm::walk(*ept.memory, ept.map.root, gpa);
    if (!w.ok())
      return {EptFaultResult::kFailed, mm::Violation::kNone, w.error()};
    if (!w.value().mapped()) {
      const auto mapped = mm::map_on_demand(*ept.memory, ept.map, gpa, ept.mtrrs, ept.caps);
      if (mapped.ok()) {
        ++ept.stats.mapped_on_demand;
        return {EptFaultResult::kResolved, mm::Violation::kNone, arch::Error::kNone};
      }
      if (mapped.error() == arch::Error::kNotFound)
        return back_hidden_page(ept, gpa);
      const bool ours = mapped.error() == arch::Error::kOutOfRange;
      return {ours ? EptFaultResult::kDenied : EptFaultResult::kFailed, mm::Violation::kNotMapped,
              mapped.error()};
    }
    auto slot = ept_detail::slot_of(ept, w.value());
    const auto r = mm::resolve_fault(slot, w.value().level, access, ept.caps, ept.policy);
    if (!r.ok())
      return {EptFaultResult::kFailed, mm::Violation::kNone, r.error()};
    const mm::FaultResolution& f = r.value();
    if (f.has(mm::FaultResolution::kAccessRestored))
      ++ept.stats.access_restored;
    if (f.has(mm::FaultResolution::kWriteRestored))
      ++ept.stats.write_restored;
    if (f.has(mm::FaultResolution::kSpurious))
      ++ept.stats.spurious;
    if (f.has(mm::FaultResolution::kViolation)) {
      return {EptFaultResult::kDenied, f.violation, arch::Error::kNone};
    }
    if (!f.has(mm::FaultResolution::kNeedsSplit)) {
      return {EptFaultResult::kResolved, mm::Violation::kNone, arch::Error::kNone};
    }
    const auto split = mm::split_live_leaf(*ept.memory, slot, w.value().level, ept.caps);
    if (!split.ok() && split.error() != arch::Error::kRetryLimit) {
      return {EptFaultResult::kFailed, mm::Violation::kNone, split.error()};
    }
    ++ept.stats.splits;  // walk again: the 4 KiB child now holds the page
  }
  return {EptFaultResult::kFailed, mm::Violation::kNone, arch::Error::kRetryLimit};
}

// After a guest MTRR write: every mapped leaf takes the type the new MTRRs give it,
// splitting where a leaf stops being uniform. The caller issues the flush returned (memory
// types are cached in the TLB) before resuming any guest.
template <mm::TableMemory Memory>
arch::Result<mm::FlushRequest> retype_for_mtrrs(EptContext<Memory>& ept,
                                                const mm::MtrrState& mtrrs) {
  ept.mtrrs = mtrrs;
  const auto report = TRY(
      mm::retype_range(*ept.memory, ept.map.root, arch::Gpa(0), ept.map.top, ept.mtrrs, ept.caps));
  return report.flush;
}

}  // namespace hv
