// The user's say in the access-tracking mode (load option `track=`).
#pragma once

#include <cstdint>

namespace hv {

enum class TrackingOverride : uint8_t {
  kAuto,         // accessed-bit when EPT A/D exists, else rwx-stash
  kAccessedBit,  // insist on EPT A/D (an error where the processor lacks it)
  kRwxStash,     // the seed's technique even where A/D exists (tests it on A/D hardware)
};

constexpr const char* tracking_override_name(TrackingOverride o) {
  switch (o) {
    case TrackingOverride::kAuto:
      return "auto";
    case TrackingOverride::kAccessedBit:
      return "accessed-bit";
    case TrackingOverride::kRwxStash:
      return "rwx-stash";
  }
  return "?";
}

}  // namespace hv
