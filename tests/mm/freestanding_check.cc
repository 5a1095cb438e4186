// Compiled with the target's language restrictions (see CMakeLists.txt): if any mm/ header
// needs exceptions, RTTI or a hosted library, this object fails to build.
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/fault_resolver.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_zap.h"
#include "mm/tracking_mode.h"

namespace mm {

// Instantiates the live paths, so their code is compiled, not only parsed.
arch::Result<FaultResolution> freestanding_resolve(uint64_t& slot, AccessSet access,
                                                   const arch::EptCapabilities& caps) {
  return resolve_fault(LiveEntry(slot), arch::EptLevel::kPte, access, caps);
}

arch::Result<AgeReport> freestanding_age(uint64_t& slot, const arch::EptCapabilities& caps) {
  LiveEntry live(slot);
  return age_live_entry(live, arch::EptLevel::kPte, TrackingMode::kRwxStash, caps);
}

ZapReport freestanding_zap(uint64_t& slot, const arch::EptCapabilities& caps) {
  return zap_live_entry(LiveEntry(slot), arch::EptLevel::kPte, TrackingMode::kRwxStash, caps);
}

}  // namespace mm
