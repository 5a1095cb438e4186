// An EPT violation on a mapped address, resolved to the end: walk to the leaf, resolve
// (mm/fault_resolver.h), and when the resolver asks for a split (a write to a large leaf
// under ResolverPolicy::split_large_for_write) split it and resolve the 4 KiB child. With no
// slow path in agevisor, a write to a tracked or write-withheld RAM leaf must never stay
// unresolvable: if the split cannot get a table, W is restored on the large leaf instead
// (dirty as a whole this time). [docs/aging.md "Large leaves and writes"]
//
// Restoring needs no flush (it only sets permission bits). A split of a present large leaf
// returns SplitReport's single-context flush, merged into the report: a stale large-page
// translation has the children's permissions, so it is only needed before the children are
// relied on (an aging pass's own flush, issued after it aged them, covers it).
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_set.h"
#include "mm/ept_walk.h"
#include "mm/fault_resolver.h"
#include "mm/flush_request.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"

namespace mm {

struct FaultAtReport {
  FaultResolution last;  // the final resolution (of the leaf that now maps the address)
  arch::EptLevel level = arch::EptLevel::kPte;  // that leaf's level
  unsigned splits = 0;                          // large leaves this call split
  bool access_restored = false;  // some resolution on the way restored access (accessed)
  bool fell_back = false;        // no table for the split: W restored on the large leaf
  unsigned walks = 0;
  FlushRequest flush;  // the splits' (see above)
};

// Errors: kNotFound (the address is not mapped: on-demand mapping or the guest's fault is
// the caller's business), kOutOfRange, kRetryLimit (the map kept changing for `max_walks`
// walks, or a resolution lost every race; nothing is wrong, the guest faults again), and
// split errors other than kNoMemory. A violation the resolver reports is returned in
// `last` (kViolation), not as an error.
template <TableMemory Memory>
arch::Result<FaultAtReport> resolve_fault_at(Memory& memory, arch::Hpa root, arch::Gpa gpa,
                                             AccessSet access, const arch::EptCapabilities& caps,
                                             const ResolverPolicy& policy = {},
                                             unsigned max_walks = 8) {
  FaultAtReport report;
  ResolverPolicy current = policy;
  for (report.walks = 1; report.walks <= max_walks; ++report.walks) {
    const EptWalk w = TRY(walk(memory, root, gpa));
    if (!w.mapped())
      return arch::Error::kNotFound;
    LiveEntry slot(memory.table(w.table)[w.index]);
    const FaultResolution r = TRY(resolve_fault(slot, w.level, access, caps, current));
    report.last = r;
    report.level = w.level;
    report.access_restored |= r.has(FaultResolution::kAccessRestored);
    if (r.has(FaultResolution::kViolation) && r.violation == Violation::kNotLeaf)
      continue;  // split under us: walk again
    if (!r.has(FaultResolution::kNeedsSplit))
      return report;
    const auto split = split_live_leaf(memory, slot, w.level, caps, current.max_attempts);
    if (split.ok()) {
      report.splits += split.value().kind == SplitReport::Kind::kSplit ? 1u : 0u;
      report.flush.merge(split.value().flush);
    } else if (split.error() == arch::Error::kNoMemory) {
      current.split_large_for_write = false;  // W on the large leaf rather than no W at all
      report.fell_back = true;
    } else if (split.error() != arch::Error::kRetryLimit &&
               split.error() != arch::Error::kNotFound) {
      return split.error();
    }
  }
  return arch::Error::kRetryLimit;
}

}  // namespace mm
