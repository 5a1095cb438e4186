// A small set of 4 KiB pages agectl must not overwrite after ExitBootServices (its page
// tables, GDT, IDT). Pure, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

namespace agectl {

class PageSet {
 public:
  static constexpr size_t kMax = 2048;
  // false when full (the caller must then not overwrite anything it cannot account for).
  constexpr bool add(uint64_t address) {
    const uint64_t page = address & ~uint64_t{0xFFF};
    if (contains(page))
      return true;
    if (count_ == kMax)
      return false;
    pages_[count_++] = page;
    return true;
  }
  constexpr bool contains(uint64_t address) const {
    const uint64_t page = address & ~uint64_t{0xFFF};
    for (size_t i = 0; i < count_; ++i) {
      if (pages_[i] == page)
        return true;
    }
    return false;
  }
  constexpr size_t size() const { return count_; }

 private:
  uint64_t pages_[kMax] = {};
  size_t count_ = 0;
};

}  // namespace agectl
