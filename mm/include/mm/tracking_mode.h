// How aging passes learn that a page was accessed. [docs/ept-layout.md]
#pragma once

#include <cstdint>

namespace mm {

enum class TrackingMode : uint8_t {
  // EPT A/D flags exist and are enabled in the EPT pointer: age by clearing bit 8.
  kAccessedBit,
  // No EPT A/D (or forced): the seed's technique. Aging makes the entry not-present and
  // stashes R and X in software bits; the EPT-violation handler restores it.
  kRwxStash,
};

constexpr const char* tracking_mode_name(TrackingMode mode) {
  return mode == TrackingMode::kAccessedBit ? "accessed-bit" : "rwx-stash";
}

}  // namespace mm
