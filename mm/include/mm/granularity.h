// Tracking granularity: what one accessed or dirty bit stands for. [docs/aging.md]
//
//   kAsMapped  every leaf as the identity map built it (2 MiB / 1 GiB RAM leaves where the
//              memory kind and MTRR type are uniform). Cheapest: one entry per 512 pages.
//              A large leaf is reported accessed (dirty) when any of its pages was, so the
//              accessed set is the set of leaves containing an accessed page.
//   k4K        every RAM leaf of the tracked ranges is split down to 4 KiB once, when
//              tracking (or dirty logging) starts: the accessed and dirty sets are exact.
//              Costs one table per 2 MiB and 512 times the entries per pass.
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/flush_request.h"
#include "mm/leaf_walk.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"

namespace mm {

enum class TrackingGranularity : uint8_t { kAsMapped, k4K };

struct SplitRangeReport {
  uint64_t splits = 0;  // large leaves this call split (1 GiB ones count once per level)
  FlushRequest flush;   // present large leaves were split: flush before relying on children
};

// Splits every mapped leaf above 4 KiB that overlaps [start, end) (whole leaves: a leaf that
// straddles the range is split too). Concurrent vCPUs, aging and other splitters are fine:
// each split is split_live_leaf's compare-and-swap, and a leaf someone else split is
// followed. On kNoMemory or kRetryLimit the leaves already split stay split (the flush so far
// is lost with the report: the caller flushes after any error).
template <TableMemory Memory>
arch::Result<SplitRangeReport> split_range_to_4k(Memory& memory, arch::Hpa root, arch::Gpa start,
                                                 arch::Gpa end, const arch::EptCapabilities& caps) {
  SplitRangeReport report;
  arch::Error error = arch::Error::kNone;
  for_each_mapped_leaf(memory, root, start, end,
                       [&](LiveEntry& slot, arch::EptLevel level, uint64_t) {
                         if (level == arch::EptLevel::kPte)
                           return LeafVisit::kNext;
                         auto split = split_live_leaf(memory, slot, level, caps);
                         if (!split.ok() && split.error() == arch::Error::kNotFound)
                           return LeafVisit::kNext;  // unmapped meanwhile
                         if (!split.ok()) {
                           error = split.error();
                           return LeafVisit::kStop;
                         }
                         if (split.value().kind == SplitReport::Kind::kSplit)
                           ++report.splits;
                         report.flush.merge(split.value().flush);
                         return LeafVisit::kDescend;
                       });
  if (error != arch::Error::kNone)
    return error;
  return report;
}

}  // namespace mm
