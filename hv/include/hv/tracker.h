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
    mode_ = mode;
    caps_ = caps;
    uint8_t* next = ages;
    for (size_t i = 0; i < count; ++i) {
      const mm::MemoryRange& r = ranges[i];
      if (r.kind != mm::MemoryKind::kRam || r.pages == 0)
        continue;
      if (count_ == kMaxRanges)
        return arch::Error::kNoMemory;
      ranges_[count_] = Range{r.start, r.end(), mm::WorkingSet(r.start, r.pages, next)};
      ranges_[count_].working_set.reset(mm::WorkingSet::kNeverSeen);
      next += r.pages;
      ++count_;
    }
    return {};
  }

  // One complete aging pass over every RAM range. The caller issues result.flush.
  arch::Result<PassResult> age_pass(Memory& memory, arch::Hpa root) {
    PassResult result;
    mm::AgingTotals totals;
    for (size_t i = 0; i < count_; ++i) {
      Range& r = ranges_[i];
      mm::AgingWalk<Memory> walk(r.start, r.end, mode_, caps_);
      auto on_leaf = [&r](arch::Gpa base, uint64_t pages, bool accessed, bool) {
        r.working_set.observe(base, pages, accessed);
      };
      for (;;) {
        const auto done = walk.step(memory, root, kStepBudget, totals, on_leaf);
        if (!done.ok())
          return done.error();
        if (done.value())
          break;
      }
    }
    ++passes_;
    result.counts = {totals.accessed_pages, totals.tracked_pages, totals.dirty_pages};
    result.flush = totals.flush;
    result.contended = totals.contended;
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
  // Entries per AgingWalk step. A whole pass runs at once today; the budget keeps each
  // step's walk short, for the live tracking to come (passes interleaved with exits).
  static constexpr uint64_t kStepBudget = 4096;

  struct Range {
    arch::Gpa start;
    arch::Gpa end;
    mm::WorkingSet working_set{arch::Gpa(0), 0, nullptr};
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
  mm::TrackingMode mode_ = mm::TrackingMode::kRwxStash;
  arch::EptCapabilities caps_;
};

}  // namespace hv
