// A single-threaded stand-in for a live entry that other CPUs keep changing: before each of
// the next N compare-and-swaps it applies a change "from another CPU", so the swap fails
// and the algorithm under test must re-read and decide again. Deterministic, unlike threads.
#pragma once

#include <functional>
#include <utility>

#include "arch/ept_entry.h"
#include "mm/live_entry.h"

namespace mm::test {

class InterferingSlot {
 public:
  explicit InterferingSlot(arch::EptEntry initial) : value_(initial) {}

  void interfere(unsigned times, std::function<arch::EptEntry(arch::EptEntry)> change) {
    remaining_ = times;
    change_ = std::move(change);
  }

  arch::EptEntry load() const { return value_; }

  bool compare_exchange(arch::EptEntry& expected, arch::EptEntry desired) {
    ++attempts_;
    if (remaining_ > 0) {
      --remaining_;
      value_ = change_(value_);
    }
    if (value_ == expected) {
      value_ = desired;
      return true;
    }
    expected = value_;
    return false;
  }

  arch::EptEntry exchange(arch::EptEntry desired) {
    const arch::EptEntry old = value_;
    value_ = desired;
    return old;
  }

  arch::EptEntry value() const { return value_; }
  unsigned attempts() const { return attempts_; }

 private:
  arch::EptEntry value_;
  unsigned remaining_ = 0;
  unsigned attempts_ = 0;
  std::function<arch::EptEntry(arch::EptEntry)> change_;
};

static_assert(EntrySlot<InterferingSlot>);

}  // namespace mm::test
