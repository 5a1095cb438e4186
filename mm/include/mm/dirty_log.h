// Dirty logging: which 4 KiB frames of a range were written since the previous harvest.
// [docs/aging.md "Dirty logging"]
//
// The dirty bit is the one aging already uses, so both see every write:
//   rwx-stash     W. It comes back only on a write (restore_write), so W = 1 means written
//                 since W was last taken; harvest takes it with withhold_write.
//   accessed-bit  D, set by the processor. Harvest clears it; W is never touched, so
//                 dirty logging in this mode costs no write faults (no write-protection).
// Each is taken by compare-and-swap and reported from the value replaced, so a write racing
// a harvest sets the bit before the swap (reported now) or after it (reported next time).
// An aging pass takes the same bit: while logging, feed every on_leaf report to note(), and
// the next harvest includes it.
//
// Harvest returns a flush: until it is done on every CPU, a CPU that cached the translation
// with W (D) set keeps writing without setting it again. The caller must flush before it
// uses the bitmap (copies or discards the pages), so that any later write is caught anew.
//
// Single-threaded like WorkingSet: start, note, harvest and stop run on the aging thread.
#pragma once

#include <bit>
#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/flush_request.h"
#include "mm/granularity.h"
#include "mm/leaf_walk.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/table_memory.h"
#include "mm/tracking_mode.h"

namespace mm {

// The page was written since its dirty bit was last taken.
constexpr bool is_dirty(arch::EptEntry e, arch::EptLevel level, TrackingMode mode) {
  if (!e.is_leaf(level) || !is_hw_present(e))
    return false;
  return mode == TrackingMode::kAccessedBit ? e.dirty() : e.writable();
}

// Takes the dirty bit: D cleared, or W withheld (a later write restores it). Anything else
// is returned as is.
constexpr arch::EptEntry take_dirty(arch::EptEntry e, arch::EptLevel level, TrackingMode mode) {
  if (!is_dirty(e, level, mode))
    return e;
  if (mode == TrackingMode::kAccessedBit)
    return e.set_dirty(false);
  return withhold_write(e);
}

struct DirtyTake {
  bool dirty = false;
  FlushRequest flush;
  arch::EptEntry before;  // the value the decision was made on (replaced if dirty)
};

// take_dirty on a live leaf by compare-and-swap. kRetryLimit: every attempt lost a race and
// nothing was written; kInvalidArgument: the new value would fail check_entry.
template <EntrySlotRef Slot>
arch::Result<DirtyTake> take_live_dirty(Slot&& entry, arch::EptLevel level, TrackingMode mode,
                                        const arch::EptCapabilities& caps,
                                        unsigned max_attempts = kMaxCasAttempts) {
  arch::EptEntry old = entry.load();
  for (unsigned attempt = 0; attempt < max_attempts; ++attempt) {
    if (!is_dirty(old, level, mode))
      return DirtyTake{false, FlushRequest::none(), old};
    const arch::EptEntry next = take_dirty(old, level, mode);
    if (!check_entry(next, level, caps).ok())
      return arch::Error::kInvalidArgument;
    const arch::EptEntry replaced = old;
    if (entry.compare_exchange(old, next))
      return DirtyTake{true, required_flush(replaced, next, level, caps), replaced};
  }
  return arch::Error::kRetryLimit;
}

struct DirtyLogReport {
  uint64_t leaves = 0;       // mapped leaves visited
  uint64_t dirty_pages = 0;  // harvest: frames in the returned bitmap
  uint64_t splits = 0;       // start at 4 KiB granularity: large leaves split
  uint64_t contended = 0;    // leaves that kept losing races: reported dirty, and again next time
  FlushRequest flush;
};

template <TableMemory Memory>
class DirtyLog {
 public:
  static constexpr uint64_t bitmap_words(uint64_t frames) { return (frames + 63) / 64; }

  // Logs [base, base + frames * 4 KiB) (4 KiB aligned; RAM only, as for AgingWalk).
  // `pending` holds bitmap_words(frames) words of the caller's; start() clears it.
  DirtyLog(arch::Gpa base, uint64_t frames, uint64_t* pending, TrackingMode mode,
           const arch::EptCapabilities& caps)
      : base_(base.value()), frames_(frames), pending_(pending), mode_(mode), caps_(caps) {}

  // Takes every dirty bit in the range (what was written before start is not reported) and,
  // at 4 KiB granularity, first splits every large leaf, so a large leaf is never reported
  // whole. At kAsMapped a dirty large leaf reports all its frames. The caller flushes
  // before the log counts: writes through translations cached earlier are not seen.
  arch::Result<DirtyLogReport> start(Memory& memory, arch::Hpa root,
                                     TrackingGranularity granularity) {
    if (!tracking_mode_fits(mode_, caps_))
      return arch::Error::kInvalidArgument;
    DirtyLogReport report;
    if (granularity == TrackingGranularity::k4K) {
      const SplitRangeReport split = TRY(split_range_to_4k(memory, root, begin(), end(), caps_));
      report.splits = split.splits;
      report.flush.merge(split.flush);
    }
    for (uint64_t w = 0; w < bitmap_words(frames_); ++w)
      pending_[w] = 0;
    TRY(take_all(memory, root, report, [](uint64_t, uint64_t) {}));
    active_ = true;
    return report;
  }

  // An aging report (AgingWalk's on_leaf): aging took the same dirty bit.
  void note(arch::Gpa leaf_base, uint64_t pages, bool dirty) {
    if (active_ && dirty)
      mark(pending_, leaf_base.value(), pages);
  }

  // Fills `bits` (bitmap_words(frames) words, bit i = frame i of the range) with every frame
  // written since the previous harvest (or start), taking the dirty bits, and calls
  // on_dirty(arch::Gpa base, uint64_t pages) for each leaf found dirty (not for noted ones).
  // kInvalidArgument when logging is off.
  template <typename OnDirty>
  arch::Result<DirtyLogReport> harvest(Memory& memory, arch::Hpa root, uint64_t* bits,
                                       OnDirty&& on_dirty) {
    if (!active_)
      return arch::Error::kInvalidArgument;
    for (uint64_t w = 0; w < bitmap_words(frames_); ++w) {
      bits[w] = pending_[w];
      pending_[w] = 0;
    }
    DirtyLogReport report;
    TRY(take_all(memory, root, report, [&](uint64_t base, uint64_t pages) {
      mark(bits, base, pages);
      on_dirty(arch::Gpa(base), pages);
    }));
    for (uint64_t w = 0; w < bitmap_words(frames_); ++w)
      report.dirty_pages += static_cast<uint64_t>(std::popcount(bits[w]));
    return report;
  }

  arch::Result<DirtyLogReport> harvest(Memory& memory, arch::Hpa root, uint64_t* bits) {
    return harvest(memory, root, bits, [](arch::Gpa, uint64_t) {});
  }

  // Ends logging. No entry is written: in rwx-stash mode W is also aging's dirty bit and
  // comes back on the next write anyway (giving it back now would make the next pass report
  // every such page dirty); in accessed-bit mode W was never taken.
  void stop() { active_ = false; }

  bool active() const { return active_; }
  // Compare-and-swap attempts per leaf (see AgingWalk::set_max_attempts).
  void set_max_attempts(unsigned attempts) { max_attempts_ = attempts; }
  arch::Gpa begin() const { return arch::Gpa(base_); }
  arch::Gpa end() const { return arch::Gpa(base_ + frames_ * arch::kPageSize4K); }

 private:
  template <typename Found>
  arch::Result<void> take_all(Memory& memory, arch::Hpa root, DirtyLogReport& report,
                              Found&& found) {
    arch::Error error = arch::Error::kNone;
    for_each_mapped_leaf(
        memory, root, begin(), end(), [&](LiveEntry& slot, arch::EptLevel level, uint64_t base) {
          const uint64_t pages = arch::ept_level_span(level) / arch::kPageSize4K;
          const auto take = take_live_dirty(slot, level, mode_, caps_, max_attempts_);
          if (take.ok()) {
            const DirtyTake& t = take.value();
            if (is_hw_present(t.before) && !t.before.is_leaf(level))
              return LeafVisit::kDescend;
            if (t.dirty)
              found(base, pages);
            report.flush.merge(t.flush);
          } else if (take.error() == arch::Error::kRetryLimit) {
            ++report.contended;
            found(base, pages);
          } else {
            error = take.error();
            return LeafVisit::kStop;
          }
          ++report.leaves;
          return LeafVisit::kNext;
        });
    if (error != arch::Error::kNone)
      return error;
    return {};
  }

  // Sets the bits of the frames of [start, start + pages * 4 KiB) inside the range.
  void mark(uint64_t* bits, uint64_t start, uint64_t pages) const {
    const uint64_t lo = start > base_ ? start : base_;
    const uint64_t leaf_end = start + pages * arch::kPageSize4K;
    const uint64_t hi = leaf_end < end().value() ? leaf_end : end().value();
    for (uint64_t a = lo; a < hi; a += arch::kPageSize4K) {
      const uint64_t i = (a - base_) / arch::kPageSize4K;
      bits[i / 64] |= uint64_t{1} << (i % 64);
    }
  }

  uint64_t base_;
  uint64_t frames_;
  uint64_t* pending_;
  TrackingMode mode_;
  arch::EptCapabilities caps_;
  bool active_ = false;
  unsigned max_attempts_ = kMaxCasAttempts;
};

}  // namespace mm
