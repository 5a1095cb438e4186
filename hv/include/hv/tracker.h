// agevisor's access tracker: aging passes over the guest's RAM and the working set they
// feed, behind the age, working_set and frame_ages hypercalls. Pure over mm::TableMemory, so
// host tests run it on host memory with a fake guest.
//
// One mm::AgingWalk and one mm::WorkingSet per RAM range of the memory map (the walk ages
// every mapped leaf of its range; MMIO and reserved memory are never walked). The idle ages,
// one byte per 4 KiB frame, live in pool metadata the caller hands in. A pass ages every
// range to the end and returns the merged flush, which the caller issues (INVEPT) before
// the guest runs again: until then a CPU may keep using a cached translation and its
// accesses would be missed by the next pass.
//
// Not thread-safe: one pass at a time (the hypercall runs on the calling vCPU; with several
// vCPUs, hv/ serialises passes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/result.h"
#include "hv/hypercall_abi.h"
#include "mm/aging_walk.h"
#include "mm/flush_request.h"
#include "mm/memory_range.h"
#include "mm/table_memory.h"
#include "mm/tracking_mode.h"
#include "mm/working_set.h"

namespace hv {

struct PassResult {
  AgeCounts counts;
  mm::FlushRequest flush;
  uint64_t contended = 0;  // leaves left for the next pass after losing every CAS
};

// One slice of a pass (periodic aging): the flush it needs before the guest runs on, and
// whether it completed the pass.
struct StepResult {
  mm::FlushRequest flush;
  bool pass_done = false;
};

template <mm::TableMemory Memory>
class Tracker {
 public:
  static constexpr size_t kMaxRanges = 128;

  // Frames (bytes of idle-age storage) the RAM ranges of `ranges` need.
  static constexpr uint64_t frames_needed(const mm::MemoryRange* ranges, size_t count) {
    uint64_t frames = 0;
    for (size_t i = 0; i < count; ++i)
      frames += ranges[i].kind == mm::MemoryKind::kRam ? ranges[i].pages : 0;
    return frames;
  }

  // Takes the RAM ranges of `ranges` (sorted, non-overlapping) and `ages` storage of
  // frames_needed() bytes. Every frame starts at "never seen" (mm::WorkingSet::kNeverSeen)
  // until a pass finds it accessed. Error::kInvalidArgument when the storage is too small
  // or the mode does not fit the capabilities; Error::kNoMemory with more RAM ranges than
  // kMaxRanges.
  arch::Result<void> init(const mm::MemoryRange* ranges, size_t count, mm::TrackingMode mode,
                          const arch::EptCapabilities& caps, uint8_t* ages, uint64_t age_bytes) {
    if (!mm::tracking_mode_fits(mode, caps) || age_bytes < frames_needed(ranges, count))
      return arch::Error::kInvalidArgument;
    count_ = 0;
    passes_ = 0;
    current_ = 0;
    pass_totals_ = {};
    mode_ = mode;
    caps_ = caps;
    uint8_t* next = ages;
    for (size_t i = 0; i < count; ++i) {
      const mm::MemoryRange& r = ranges[i];
      if (r.kind != mm::MemoryKind::kRam || r.pages == 0)
        continue;
      if (count_ == kMaxRanges)
        return arch::Error::kNoMemory;
      ranges_[count_] = Range{r.start, r.end(), mm::WorkingSet(r.start, r.pages, next),
                              mm::AgingWalk<Memory>(r.start, r.end(), mode, caps)};
      ranges_[count_].working_set.reset(mm::WorkingSet::kNeverSeen);
      next += r.pages;
      ++count_;
    }
    return {};
  }

  // A slice of the pass in progress: at most `budget` entries of one range (a pass moves to
  // the next range on the next call). The caller issues result.flush before the guest runs
  // again. Periodic aging calls this from the VMX-preemption timer.
  arch::Result<StepResult> age_step(Memory& memory, arch::Hpa root, uint64_t budget) {
    StepResult out;
    if (count_ == 0) {
      out.pass_done = true;
      ++passes_;
      return out;
    }
    Range& r = ranges_[current_];
    mm::AgingTotals step;
    auto on_leaf = [&r](arch::Gpa base, uint64_t pages, bool accessed, bool) {
      r.working_set.observe(base, pages, accessed);
    };
    const bool range_done = TRY(r.walk.step(memory, root, budget, step, on_leaf));
    out.flush = step.flush;
    pass_totals_.merge(step);
    if (range_done && ++current_ == count_) {
      current_ = 0;
      ++passes_;
      last_pass_.counts = {pass_totals_.accessed_pages, pass_totals_.tracked_pages,
                           pass_totals_.dirty_pages};
      last_pass_.flush = pass_totals_.flush;
      last_pass_.contended = pass_totals_.contended;
      pass_totals_ = {};
      out.pass_done = true;
    }
    return out;
  }

  // Completes the pass in progress (all of it when none is): its counts include what earlier
  // slices found. The caller issues result.flush, which covers the slices run by this call
  // (earlier slices' flushes were issued after them).
  arch::Result<PassResult> age_pass(Memory& memory, arch::Hpa root) {
    mm::FlushRequest flush;
    for (;;) {
      const StepResult step = TRY(age_step(memory, root, kStepBudget));
      flush.merge(step.flush);
      if (step.pass_done)
        break;
    }
    PassResult result = last_pass_;
    result.flush = flush;
    return result;
  }

  WorkingSetReport report() const {
    WorkingSetReport report;
    report.passes = passes_;
    for (size_t i = 0; i < count_; ++i) {
      const mm::IdleHistogram h = ranges_[i].working_set.histogram();
      for (unsigned b = 0; b < kIdleBuckets; ++b)
        report.idle[b] += h.frames[b];
      report.frames += h.total();
    }
    return report;
  }

  // Idle ages of `frames` frames from `first` into `out`: saturating at 254, and
  // kFrameNotTracked for frames outside every RAM range (and for all of them before the
  // first pass).
  void frame_ages(arch::Gpa first, uint64_t frames, uint8_t* out) const {
    for (uint64_t f = 0; f < frames; ++f) {
      const arch::Gpa gpa(first.value() + f * arch::kPageSize4K);
      const Range* r = range_of(gpa);
      if (r == nullptr || passes_ == 0) {
        out[f] = kFrameNotTracked;
        continue;
      }
      const uint8_t idle = r->working_set.idle_passes(gpa);
      out[f] = idle >= kFrameNotTracked ? kFrameNotTracked - 1 : idle;
    }
  }

  // Whether [gpa, gpa + size) lies inside one RAM range: the only guest memory a hypercall
  // may write (never the hypervisor's, never MMIO, never across a hole).
  bool guest_buffer_ok(uint64_t gpa, uint64_t size) const {
    if (size == 0 || gpa + size < gpa)
      return false;
    const Range* r = range_of(arch::Gpa(gpa));
    return r != nullptr && gpa + size <= r->end.value();
  }

  uint64_t passes() const { return passes_; }
  size_t range_count() const { return count_; }
  mm::TrackingMode mode() const { return mode_; }

 private:
  // Entries per slice when a whole pass is asked for.
  static constexpr uint64_t kStepBudget = 4096;

  struct Range {
    arch::Gpa start;
    arch::Gpa end;
    mm::WorkingSet working_set{arch::Gpa(0), 0, nullptr};
    mm::AgingWalk<Memory> walk{arch::Gpa(0), arch::Gpa(0), mm::TrackingMode::kRwxStash, {}};
  };

  const Range* range_of(arch::Gpa gpa) const {
    for (size_t i = 0; i < count_; ++i) {
      if (gpa.value() >= ranges_[i].start.value() && gpa.value() < ranges_[i].end.value())
        return &ranges_[i];
    }
    return nullptr;
  }

  Range ranges_[kMaxRanges];
  size_t count_ = 0;
  uint64_t passes_ = 0;
  size_t current_ = 0;           // the range the pass in progress is in
  mm::AgingTotals pass_totals_;  // what the pass in progress found so far
  PassResult last_pass_;
  mm::TrackingMode mode_ = mm::TrackingMode::kRwxStash;
  arch::EptCapabilities caps_;
};

}  // namespace hv
