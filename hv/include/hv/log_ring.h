// The log ring: the last lines agevisor logged, kept in hypervisor memory so a guest can read
// them with the log hypercall after the serial port has become the OS's. Pure and
// header-only: host tests drive it, the target keeps one in its image (resident).
//
// Lines are stored with their '\n'; when the ring is full the oldest bytes are overwritten.
// Not thread-safe: one CPU logs at a time (the SMP issue adds the log lock).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

class LogRing {
 public:
  constexpr LogRing(char* storage, size_t capacity) : data_(storage), capacity_(capacity) {}

  // Appends `length` bytes of `text` and a '\n'.
  constexpr void append(const char* text, size_t length) {
    for (size_t i = 0; i < length; ++i)
      put(text[i]);
    put('\n');
  }

  // Copies the newest whole lines that fit in `size` bytes to `out`, oldest first, and
  // returns the bytes copied. A line that does not fit whole is left out; so is the oldest,
  // partly overwritten line of a wrapped ring.
  constexpr size_t copy_recent(char* out, size_t size) const {
    const size_t held = used();
    size_t take = held < size ? held : size;
    size_t skip = held - take;
    while (take > 0 && !line_starts_at(skip)) {
      ++skip;
      --take;
    }
    for (size_t i = 0; i < take; ++i)
      out[i] = at(skip + i);
    return take;
  }

  constexpr size_t used() const {
    return total_ < capacity_ ? static_cast<size_t>(total_) : capacity_;
  }
  constexpr uint64_t total() const { return total_; }  // bytes ever appended
  constexpr size_t capacity() const { return capacity_; }

 private:
  // Whether the held byte `i` (oldest first) begins a line. The oldest byte of a ring that
  // wrapped may be the middle of a line.
  constexpr bool line_starts_at(size_t i) const {
    if (i == 0)
      return total_ <= capacity_;
    return at(i - 1) == '\n';
  }
  constexpr void put(char c) {
    if (capacity_ == 0)
      return;
    data_[total_ % capacity_] = c;
    ++total_;
  }
  // The i-th held byte, oldest first.
  constexpr char at(size_t i) const {
    const uint64_t first = total_ - used();
    return data_[(first + i) % capacity_];
  }

  char* data_;
  size_t capacity_;
  uint64_t total_ = 0;
};

}  // namespace hv
