// Strong address types: a guest-physical address can never be passed where a host-physical
// one is meant. agevisor's EPT is an identity map, so the two are numerically equal for RAM,
// which is exactly why the compiler must keep them apart.
#pragma once

#include <compare>
#include <cstdint>

#include "arch/bits.h"

namespace arch {

template <typename Tag>
class PhysicalAddress {
 public:
  constexpr PhysicalAddress() = default;
  constexpr explicit PhysicalAddress(uint64_t value) : value_(value) {}

  constexpr uint64_t value() const { return value_; }
  constexpr PhysicalAddress offset(uint64_t bytes) const { return PhysicalAddress(value_ + bytes); }
  constexpr PhysicalAddress page_base(uint64_t page_size = kPageSize4K) const {
    return PhysicalAddress(align_down(value_, page_size));
  }
  constexpr bool is_aligned_to(uint64_t alignment) const { return is_aligned(value_, alignment); }

  constexpr auto operator<=>(const PhysicalAddress&) const = default;

 private:
  uint64_t value_ = 0;
};

struct GpaTag {};
struct HpaTag {};

using Gpa = PhysicalAddress<GpaTag>;  // guest-physical
using Hpa = PhysicalAddress<HpaTag>;  // host-physical

static_assert(sizeof(Gpa) == 8 && sizeof(Hpa) == 8);

}  // namespace arch
