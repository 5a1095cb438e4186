// The aging pass: age_live_entry applied to every leaf of a guest-physical range of one EPT,
// in either tracking mode, in slices of a bounded number of entries (so hv/ can interleave
// it with other work and never hold a CPU for a whole pass). [docs/aging.md]
//
// The walk reads each entry once with an atomic load and writes only through
// age_live_entry's compare-and-swap, so vCPUs may restore, write-restore and set A/D on the
// same entries meanwhile: what they did is reported in this pass or left for the next one.
// An entry that is already aged (tracked, or A and D clear) costs that read and no write.
//
// Which leaves are RAM: leaves carry no RAM marker (the identity map maps MMIO and reserved
// memory R/W/X = 111 too), so the walk ages every mapped leaf in [start, end) and the caller
// passes RAM ranges only (hv/ walks the memory map's RAM ranges).
#pragma once

#include <cstdint>
#include <type_traits>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_tracking.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_split.h"
#include "mm/table_memory.h"
#include "mm/tracking_mode.h"

namespace mm {

// What one or more steps of a pass found. Pages are 4 KiB frames: a 2 MiB leaf counts 512.
struct AgingTotals {
  uint64_t accessed_pages = 0;  // used since the previous pass (or harvest, see dirty_log.h)
  uint64_t tracked_pages = 0;   // mapped pages the pass visited (all now aged)
  uint64_t dirty_pages = 0;     // written since the previous pass (or harvest)
  uint64_t leaves = 0;          // mapped leaves visited
  uint64_t contended = 0;       // leaves left unaged after kMaxCasAttempts lost races
  uint64_t invalid = 0;         // leaves whose aged value would fail check_entry (unchanged)
  FlushRequest flush;           // the merged flush every aged entry needs

  constexpr AgingTotals& merge(const AgingTotals& o) {
    accessed_pages += o.accessed_pages;
    tracked_pages += o.tracked_pages;
    dirty_pages += o.dirty_pages;
    leaves += o.leaves;
    contended += o.contended;
    invalid += o.invalid;
    flush.merge(o.flush);
    return *this;
  }
};

// A resumable pass over [start, end). The walk keeps only a cursor (the next guest-physical
// address to visit): each step walks down from the root to the cursor again, so splits made
// between steps are simply followed. Leaves that straddle `start` or `end` are aged and
// reported whole; WorkingSet::observe clips them.
template <TableMemory Memory>
class AgingWalk {
 public:
  AgingWalk(arch::Gpa start, arch::Gpa end, TrackingMode mode, const arch::EptCapabilities& caps)
      : start_(start.value()),
        end_(end.value()),
        cursor_(start.value()),
        mode_(mode),
        caps_(caps) {}

  // Ages leaves from the cursor until `budget` entries were decided on (leaves and non-present
  // entries; table links are followed without counting, at most three per leaf), calling
  // on_leaf(arch::Gpa base, uint64_t pages, bool accessed, bool dirty) for every mapped leaf
  // and adding into `totals`. Returns true when this step finished the pass; the next step
  // then starts a new pass at `start`.
  //
  // The caller issues totals.flush (merged) before the guest relies on the aged entries:
  // after every step if vCPUs run meanwhile, else once per pass. Until it does, a CPU that
  // cached a translation keeps using it and its accesses are not seen by the next pass.
  //
  // A leaf that keeps losing compare-and-swaps (kRetryLimit) is reported accessed and left
  // for the next pass (its A/D or W stay set, so nothing is lost); one whose aged value
  // would be illegal is reported accessed and counted in `invalid`. Errors:
  // kInvalidArgument when the mode does not fit the capabilities or the range is empty or
  // above the 48-bit guest-physical space.
  template <typename OnLeaf>
  arch::Result<bool> step(Memory& memory, arch::Hpa root, uint64_t budget, AgingTotals& totals,
                          OnLeaf&& on_leaf) {
    if (!tracking_mode_fits(mode_, caps_) || start_ >= end_ || end_ > kEptGpaLimit)
      return arch::Error::kInvalidArgument;
    Step<std::remove_reference_t<OnLeaf>> s{memory, budget, totals, on_leaf};
    visit(s, root, arch::EptLevel::kPml4e, 0);
    if (cursor_ < end_)
      return false;
    cursor_ = start_;
    ++passes_;
    return true;
  }

  // Compare-and-swap attempts per leaf before it is left for the next pass (kMaxCasAttempts
  // by default; race tests raise it so that every report is a real transition).
  void set_max_attempts(unsigned attempts) { max_attempts_ = attempts; }

  // Abandons the pass in progress: the next step starts at `start`.
  void restart() { cursor_ = start_; }

  arch::Gpa cursor() const { return arch::Gpa(cursor_); }
  uint64_t passes_completed() const { return passes_; }
  TrackingMode mode() const { return mode_; }

 private:
  template <typename OnLeaf>
  struct Step {
    Memory& memory;
    uint64_t budget;
    AgingTotals& totals;
    OnLeaf& on_leaf;
  };

  // Visits the entries of one table from the cursor on. Returns false when the budget ran
  // out (the cursor then names the first entry not decided on).
  template <typename S>
  bool visit(S& s, arch::Hpa table, arch::EptLevel level, uint64_t table_base) {
    uint64_t* entries = s.memory.table(table);
    const uint64_t span = arch::ept_level_span(level);
    for (unsigned i = ept_index(arch::Gpa(cursor_), level); i < kTableEntries; ++i) {
      const uint64_t base = table_base + i * span;
      if (base >= end_) {
        cursor_ = end_;
        return true;
      }
      LiveEntry slot(entries[i]);
      const arch::EptEntry e = slot.load();
      if (is_hw_present(e) && !e.is_leaf(level)) {
        if (!visit(s, e.address(), child_level(level), base))
          return false;
        continue;
      }
      if (s.budget == 0)
        return false;
      if (already_aged(e)) {
        report(s, level, base, false, false);  // the read decided it: no write
      } else if (is_mapped(e) && !age_leaf(s, slot, level, base)) {
        --i;  // split under us: follow the new table link at the same index
        continue;
      }
      --s.budget;
      cursor_ = base + span;
    }
    return true;
  }

  // Returns false (nothing aged, nothing reported) when the leaf became a table link.
  template <typename S>
  bool age_leaf(S& s, LiveEntry& slot, arch::EptLevel level, uint64_t base) {
    bool accessed = true;
    bool dirty = false;
    const arch::Result<AgeReport> r = age_live_entry(slot, level, mode_, caps_, max_attempts_);
    if (r.ok()) {
      const AgeReport& report = r.value();
      if (is_hw_present(report.before) && !report.before.is_leaf(level))
        return false;
      if (!is_mapped(report.before))
        return true;  // unmapped meanwhile (zapped): nothing to report
      accessed = report.accessed;
      dirty = report.dirty;
      s.totals.flush.merge(report.flush);
    } else if (r.error() == arch::Error::kRetryLimit) {
      ++s.totals.contended;
    } else {
      ++s.totals.invalid;
    }
    report(s, level, base, accessed, dirty);
    return true;
  }

  // A leaf the previous pass aged and nothing used since: tracked (rwx-stash), or present with
  // A and D clear (accessed-bit). age_live_entry would find nothing to change.
  bool already_aged(arch::EptEntry e) const {
    if (mode_ == TrackingMode::kRwxStash)
      return is_tracked(e);
    return is_hw_present(e) && !e.accessed() && !e.dirty();
  }

  template <typename S>
  void report(S& s, arch::EptLevel level, uint64_t base, bool accessed, bool dirty) {
    const uint64_t pages = arch::ept_level_span(level) / arch::kPageSize4K;
    ++s.totals.leaves;
    s.totals.tracked_pages += pages;
    s.totals.accessed_pages += accessed ? pages : 0;
    s.totals.dirty_pages += dirty ? pages : 0;
    s.on_leaf(arch::Gpa(base), pages, accessed, dirty);
  }

  uint64_t start_;
  uint64_t end_;
  uint64_t cursor_;
  TrackingMode mode_;
  arch::EptCapabilities caps_;
  uint64_t passes_ = 0;
  unsigned max_attempts_ = kMaxCasAttempts;
};

}  // namespace mm
