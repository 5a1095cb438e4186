// Working-set accounting: per 4 KiB frame, how many aging passes ago it was last found
// accessed (a saturating 8-bit count, as multi-generation LRU keeps generations), fed by the
// aging walk's on_leaf reports. The bytes live in memory the caller provides (pool metadata
// on target), one per frame; mm/ allocates nothing. [docs/aging.md]
//
// Not thread-safe: one aging thread calls observe; queries run on that thread too (or while
// it is stopped).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"

namespace mm {

// Frames by idle age: bucket 0 holds age 0, bucket k (1..7) ages [2^(k-1), 2^k), bucket 8
// ages 128 and more (255 = saturated, "idle since tracking began" when the caller starts
// with reset(kNeverSeen)).
struct IdleHistogram {
  static constexpr unsigned kBuckets = 9;
  uint64_t frames[kBuckets] = {};

  static constexpr unsigned bucket_of(uint8_t idle) {
    return idle == 0 ? 0u : static_cast<unsigned>(std::bit_width(static_cast<unsigned>(idle)));
  }
  // The smallest idle age bucket `b` holds.
  static constexpr unsigned lower_bound(unsigned b) { return b == 0 ? 0u : 1u << (b - 1); }

  constexpr uint64_t total() const {
    uint64_t sum = 0;
    for (uint64_t f : frames)
      sum += f;
    return sum;
  }
};

static_assert(IdleHistogram::bucket_of(0) == 0 && IdleHistogram::bucket_of(1) == 1);
static_assert(IdleHistogram::bucket_of(3) == 2 && IdleHistogram::bucket_of(4) == 3);
static_assert(IdleHistogram::bucket_of(127) == 7 && IdleHistogram::bucket_of(128) == 8);
static_assert(IdleHistogram::bucket_of(255) == 8);

class WorkingSet {
 public:
  static constexpr uint8_t kMaxIdle = 255;
  // Storage filled with this reads as "not accessed for at least 255 passes".
  static constexpr uint8_t kNeverSeen = kMaxIdle;

  // `ages` holds `frames` bytes for [base, base + frames * 4 KiB). Zero-initialised storage
  // reads as "accessed in the last pass" (idle 0); call reset(kNeverSeen) to start cold.
  WorkingSet(arch::Gpa base, uint64_t frames, uint8_t* ages)
      : base_(base.value()), frames_(frames), ages_(ages) {}

  void reset(uint8_t idle) {
    for (uint64_t i = 0; i < frames_; ++i)
      ages_[i] = idle;
  }

  // One aging report: every frame of the leaf that lies inside the set becomes idle 0 if the
  // leaf was accessed, else one pass older (saturating). Frames outside are ignored.
  void observe(arch::Gpa leaf_base, uint64_t pages, bool accessed) {
    uint64_t first = 0;
    uint64_t count = 0;
    if (!clip(leaf_base.value(), pages, first, count))
      return;
    uint8_t* a = ages_ + first;
    if (accessed) {
      for (uint64_t i = 0; i < count; ++i)
        a[i] = 0;
    } else {
      for (uint64_t i = 0; i < count; ++i)
        a[i] = static_cast<uint8_t>(a[i] + (a[i] != kMaxIdle ? 1 : 0));
    }
  }

  bool contains(arch::Gpa gpa) const {
    return gpa.value() >= base_ && (gpa.value() - base_) / arch::kPageSize4K < frames_;
  }

  // Passes since the frame holding `gpa` was last found accessed; kMaxIdle outside the set.
  uint8_t idle_passes(arch::Gpa gpa) const {
    return contains(gpa) ? ages_[(gpa.value() - base_) / arch::kPageSize4K] : kMaxIdle;
  }

  IdleHistogram histogram() const { return histogram(arch::Gpa(base_), frames_); }

  // The histogram of the frames of [start, start + frames * 4 KiB) inside the set.
  IdleHistogram histogram(arch::Gpa start, uint64_t frames) const {
    IdleHistogram h;
    uint64_t first = 0;
    uint64_t count = 0;
    if (clip(start.value(), frames, first, count)) {
      for (uint64_t i = 0; i < count; ++i)
        ++h.frames[IdleHistogram::bucket_of(ages_[first + i])];
    }
    return h;
  }

  // Copies the ages of `frames` frames from `start` (4 KiB aligned) into `out`; frames
  // outside the set read kMaxIdle. Returns how many were inside.
  uint64_t ages(arch::Gpa start, uint64_t frames, uint8_t* out) const {
    uint64_t inside = 0;
    for (uint64_t i = 0; i < frames; ++i) {
      const arch::Gpa gpa(start.value() + i * arch::kPageSize4K);
      out[i] = idle_passes(gpa);
      inside += contains(gpa) ? 1u : 0u;
    }
    return inside;
  }

  // Bit i of `bits` (64 per word, (frames + 63) / 64 words, fully overwritten) is set when
  // frame i of [start, ...) was found accessed by the last pass that visited it (idle 0).
  // Frames outside the set read 0. Returns how many bits were set.
  uint64_t accessed_bitmap(arch::Gpa start, uint64_t frames, uint64_t* bits) const {
    uint64_t set = 0;
    for (uint64_t w = 0; w < (frames + 63) / 64; ++w)
      bits[w] = 0;
    for (uint64_t i = 0; i < frames; ++i) {
      if (idle_passes(arch::Gpa(start.value() + i * arch::kPageSize4K)) == 0) {
        bits[i / 64] |= uint64_t{1} << (i % 64);
        ++set;
      }
    }
    return set;
  }

  arch::Gpa base() const { return arch::Gpa(base_); }
  uint64_t frames() const { return frames_; }

 private:
  // The frames of [start, start + pages * 4 KiB) inside the set, as [first, first + count).
  bool clip(uint64_t start, uint64_t pages, uint64_t& first, uint64_t& count) const {
    const uint64_t end = start + pages * arch::kPageSize4K;
    const uint64_t set_end = base_ + frames_ * arch::kPageSize4K;
    const uint64_t lo = start > base_ ? start : base_;
    const uint64_t hi = end < set_end ? end : set_end;
    if (lo >= hi)
      return false;
    first = (lo - base_) / arch::kPageSize4K;
    count = (hi - lo + arch::kPageSize4K - 1) / arch::kPageSize4K;
    return true;
  }

  uint64_t base_;
  uint64_t frames_;
  uint8_t* ages_;
};

}  // namespace mm
