// agevisor's EPT on target: the pure EptContext over the page pool, plus INVEPT for the
// flushes mm/ asks for. Lives in the hypervisor region.
#pragma once

#include <cstdint>

#include "hv/ept_context.h"
#include "hv/exits/exit_seams.h"
#include "hv/tracker.h"
#include "mm/flush_request.h"
#include "mm/page_pool.h"

namespace hv::target {

using HostPool = mm::PagePool<>;
using HostEptContext = EptContext<HostPool>;

struct EptState {
  HostPool pool;
  HostEptContext context;
  uint64_t eptp = 0;
  // Aging passes and the working set over guest RAM (idle ages in pool metadata); always
  // started before launch (a tracker that cannot start stops the launch).
  Tracker<HostPool> tracker;
  uint32_t timer_ticks = 0;  // preemption-timer value of one aging period (0: no periodic aging)
};

// Sets up the tracker over the RAM ranges of the memory map, its idle ages taken from the
// pool. Called once the identity map is built.
arch::Result<void> start_tracker(EptState& ept, const mm::MemoryRange* ranges, size_t count,
                                 mm::TrackingMode mode);

// Issues the INVEPT a FlushRequest asks for: single-context for agevisor's one EPT when the
// processor has it, else all-context. [SDM 3C "Guidelines for Use of the INVEPT Instruction"]
void flush_ept(const EptState& ept, mm::FlushRequest flush);

struct TargetEpt {
  EptState* state = nullptr;
  EptFaultResult resolve_violation(uint64_t gpa, uint64_t qualification);
  bool mtrrs_written();
  HypercallStatus copy_log(uint64_t gpa, uint64_t size, uint64_t* copied);
  uint32_t timer_tick();
  HypercallStatus age(AgeCounts* counts);
  HypercallStatus copy_working_set(uint64_t gpa, uint64_t size, uint64_t* written);
  HypercallStatus copy_frame_ages(uint64_t gpa, uint64_t frames, uint64_t first, uint64_t* written);
};

static_assert(EptService<TargetEpt>);

}  // namespace hv::target
