// Bit helpers shared by every layer. Bit positions are written as in the SDM figures.
#pragma once

#include <cstdint>

namespace arch {

// Single bit `n` of a 64-bit word.
constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

// Bits hi..lo inclusive, as the SDM writes ranges ("bits 51:12").
constexpr uint64_t bit_range(unsigned hi, unsigned lo) {
  return (hi >= 63 ? ~uint64_t{0} : (bit(hi + 1) - 1)) & ~(bit(lo) - 1);
}

constexpr bool test_bit(uint64_t value, unsigned n) { return (value & bit(n)) != 0; }

// Field hi..lo of `value`, shifted down to bit 0.
constexpr uint64_t extract(uint64_t value, unsigned hi, unsigned lo) {
  return (value & bit_range(hi, lo)) >> lo;
}

// `value` with field hi..lo replaced by `field` (excess high bits of `field` are dropped).
constexpr uint64_t insert(uint64_t value, unsigned hi, unsigned lo, uint64_t field) {
  return (value & ~bit_range(hi, lo)) | ((field << lo) & bit_range(hi, lo));
}

constexpr uint64_t set_bit(uint64_t value, unsigned n, bool on) {
  return on ? (value | bit(n)) : (value & ~bit(n));
}

constexpr bool is_aligned(uint64_t value, uint64_t alignment) {
  return (value & (alignment - 1)) == 0;
}

constexpr uint64_t align_down(uint64_t value, uint64_t alignment) {
  return value & ~(alignment - 1);
}

constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

inline constexpr uint64_t kPageSize4K = uint64_t{1} << 12;
inline constexpr uint64_t kPageSize2M = uint64_t{1} << 21;
inline constexpr uint64_t kPageSize1G = uint64_t{1} << 30;

static_assert(bit_range(2, 0) == 0x7);
static_assert(bit_range(63, 0) == ~uint64_t{0});
static_assert(bit_range(51, 12) == 0x000F'FFFF'FFFF'F000);
static_assert(extract(0xF0106114141, 5, 0) == 0x1);
static_assert(insert(0, 5, 3, 6) == 0x30);

}  // namespace arch
