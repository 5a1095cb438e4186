// Which access-tracking mode agevisor runs, from the EPT capabilities and the user's override.
#pragma once

#include "arch/ept_capabilities.h"
#include "arch/result.h"
#include "hv/tracking_override.h"
#include "mm/tracking_mode.h"

namespace hv {

// The one way choose_tracking_mode fails (Error::kUnsupported); callers print this.
inline constexpr const char* kAccessedBitUnsupportedMessage =
    "track=accessed-bit needs EPT accessed/dirty flags (IA32_VMX_EPT_VPID_CAP bit 21), which "
    "this processor lacks; use track=auto or track=rwx-stash";

// accessed-bit iff the EPT has A/D flags and the user did not force rwx-stash.
constexpr arch::Result<mm::TrackingMode> choose_tracking_mode(const arch::EptCapabilities& caps,
                                                              TrackingOverride override_mode) {
  switch (override_mode) {
    case TrackingOverride::kRwxStash:
      return mm::TrackingMode::kRwxStash;
    case TrackingOverride::kAccessedBit:
      if (!caps.accessed_dirty)
        return arch::Error::kUnsupported;
      return mm::TrackingMode::kAccessedBit;
    case TrackingOverride::kAuto:
      break;
  }
  return caps.accessed_dirty ? mm::TrackingMode::kAccessedBit : mm::TrackingMode::kRwxStash;
}

}  // namespace hv
