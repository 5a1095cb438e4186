// Compiled with the target's language restrictions (see CMakeLists.txt): if any mm/ header
// needs exceptions, RTTI or a hosted library, this object fails to build.
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/aging_walk.h"
#include "mm/dirty_log.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/fault_resolver.h"
#include "mm/fault_walk.h"
#include "mm/flush_request.h"
#include "mm/granularity.h"
#include "mm/leaf_walk.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_zap.h"
#include "mm/tracking_mode.h"
#include "mm/working_set.h"

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

// The part 3 walks over a minimal table memory (the target's is the page pool).
struct FreestandingTables {
  uint64_t* table(arch::Hpa) { return nullptr; }
  arch::Result<arch::Hpa> allocate_table() { return arch::Error::kNoMemory; }
};

arch::Result<bool> freestanding_aging_step(FreestandingTables& memory, arch::Hpa root,
                                           const arch::EptCapabilities& caps, uint8_t* ages) {
  AgingWalk<FreestandingTables> walk(arch::Gpa(0), arch::Gpa(1 << 30), TrackingMode::kRwxStash,
                                     caps);
  WorkingSet ws(arch::Gpa(0), 1 << 18, ages);
  AgingTotals totals;
  auto done =
      walk.step(memory, root, 64, totals, [&](arch::Gpa base, uint64_t pages, bool accessed, bool) {
        ws.observe(base, pages, accessed);
      });
  (void)ws.histogram();
  return done;
}

arch::Result<DirtyLogReport> freestanding_dirty_log(FreestandingTables& memory, arch::Hpa root,
                                                    const arch::EptCapabilities& caps,
                                                    uint64_t* pending, uint64_t* bits) {
  DirtyLog<FreestandingTables> log(arch::Gpa(0), 1 << 18, pending, TrackingMode::kRwxStash, caps);
  TRY(log.start(memory, root, TrackingGranularity::k4K));
  log.note(arch::Gpa(0), 512, true);
  return log.harvest(memory, root, bits);
}

arch::Result<FaultAtReport> freestanding_fault_at(FreestandingTables& memory, arch::Hpa root,
                                                  const arch::EptCapabilities& caps) {
  return resolve_fault_at(memory, root, arch::Gpa(0), AccessSet(false, true, false), caps);
}

}  // namespace mm
