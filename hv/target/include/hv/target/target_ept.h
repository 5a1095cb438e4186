// agevisor's EPT on target: the pure EptContext over the page pool, plus INVEPT for the
// flushes mm/ asks for. Lives in the hypervisor region.
#pragma once

#include <atomic>
#include <cstdint>

#include "hv/ept_context.h"
#include "hv/exits/exit_seams.h"
#include "hv/flush_generations.h"
#include "hv/spinlock.h"
#include "hv/tracker.h"
#include "mm/flush_request.h"
#include "mm/page_pool.h"

namespace hv::target {

using HostPool = mm::PagePool<>;
using HostEptContext = EptContext<HostPool>;

struct Vcpu;

inline constexpr size_t kMaxCpus = FlushGenerations::kMaxCpus;

// Shared by every CPU under agevisor.
struct EptState {
  HostPool pool;
  HostEptContext context;
  uint64_t eptp = 0;
  // Aging passes and the working set over guest RAM (idle ages in pool metadata); always
  // started before launch (a tracker that cannot start stops the launch).
  Tracker<HostPool> tracker;
  uint32_t timer_ticks = 0;  // preemption-timer value of one aging period (0: no periodic aging)
  // One aging pass (or slice) at a time, and no retype during one: the structural changes
  // to the EPT. The fault path stays lockless.
  Spinlock tracker_lock;
  FlushGenerations flushes;  // cross-CPU INVEPT [docs/smp.md]
  Vcpu* vcpus[kMaxCpus] = {};
  std::atomic<uint32_t> vcpu_count{0};  // CPUs prepared so far (slots 0..count-1)
  // Open only while boot/ undoes a launch that failed on some CPU: the leave hypercall.
  std::atomic<bool> leave_open{false};
};

// Sets up the tracker over the RAM ranges of the memory map, its idle ages taken from the
// pool. Called once the identity map is built.
arch::Result<void> start_tracker(EptState& ept, const mm::MemoryRange* ranges, size_t count,
                                 mm::TrackingMode mode);

// Issues the INVEPT a FlushRequest asks for: single-context for agevisor's one EPT when the
// processor has it, else all-context. [SDM 3C "Guidelines for Use of the INVEPT Instruction"]
void flush_ept(const EptState& ept, mm::FlushRequest flush);

// A synchronous flush: INVEPT here, an NMI to every other online CPU, and a wait (bounded)
// for each to flush. Returns how many CPUs flushed (this one included); `generation` gets
// the generation they reached.
size_t flush_everywhere(EptState& ept, Vcpu& self, mm::FlushRequest flush, uint64_t* generation);

// The INVEPT this CPU owes for other CPUs' EPT changes, if any (at each VM entry, and in the
// host NMI handler for a flush request that arrived in VMX root).
void sync_flushes(EptState& ept, const Vcpu& self);

struct TargetEpt {
  EptState* state = nullptr;
  Vcpu* vcpu = nullptr;  // the CPU this exit is on
  EptFaultResult resolve_violation(uint64_t gpa, uint64_t qualification);
  bool mtrrs_written();
  HypercallStatus copy_log(uint64_t gpa, uint64_t size, uint64_t* copied);
  uint32_t timer_tick();
  HypercallStatus age(AgeCounts* counts);
  HypercallStatus copy_working_set(uint64_t gpa, uint64_t size, uint64_t* written);
  HypercallStatus copy_frame_ages(uint64_t gpa, uint64_t frames, uint64_t first, uint64_t* written);
  HypercallStatus flush_all(uint64_t* cpus, uint64_t* generation);
  bool leave_allowed() const { return state->leave_open.load(std::memory_order_acquire); }
  void close_startup() { state->leave_open.store(false, std::memory_order_release); }
  bool request_leave();
  bool leave_requested() const;
  void sync_flushes();
  bool take_own_nmi();
  void set_online(bool online);
};

static_assert(EptService<TargetEpt>);

}  // namespace hv::target
