// The EPT seam of the exit path on target. Logs only when something goes wrong: a normal
// access-tracking fault is silent.
#include "hv/target/target_ept.h"

#include "arch/ept_violation_qualification.h"
#include "arch/target/target_cpu_io.h"
#include "arch/target/vmx.h"
#include "hv/mtrr_reader.h"
#include "hv/target/log.h"
#include "hv/target/vcpu.h"

extern "C" void* memcpy(void* dst, const void* src, size_t n);

namespace hv::target {

void flush_ept(const EptState& ept, mm::FlushRequest flush) {
  if (!flush.needed())
    return;
  const auto& caps = ept.context.caps;
  arch::target::InveptDescriptor descriptor;
  descriptor.eptp = ept.eptp;
  const bool single = caps.invept_single && flush == mm::FlushRequest::single_context();
  (void)arch::target::invept(single ? 1 : 2, descriptor);
}

EptFaultResult TargetEpt::resolve_violation(uint64_t gpa, uint64_t qualification) {
  auto& context = state->context;
  const auto q = arch::EptViolationQualification::from_raw(qualification, false,
                                                           context.caps.advanced_exit_info);
  const EptFault fault = resolve_ept_violation(context, arch::Gpa(gpa), q);
  if (fault.first_report) {
    const auto& range = context.hidden.ranges[fault.hidden_range];
    log::printf(
        "ept: guest %s of hypervisor memory at GPA %#lx (range %#lx-%#lx): backed by a "
        "dummy page, the guest continues (reported once per range)",
        q.write ? "write" : (q.fetch ? "fetch" : "read"), gpa, range.start, range.end);
  }
  if (fault.result != EptFaultResult::kResolved) {
    log::printf("ept: %s access to GPA %#lx: %s (%s)",
                fault.result == EptFaultResult::kDenied ? "denied" : "unresolved", gpa,
                mm::violation_name(fault.violation), arch::error_name(fault.error));
  }
  return fault.result;
}

// After an aging pass or slice: this CPU flushes now, the others at their next VM entry
// (accuracy only: a CPU may miss an access through a translation it still caches).
void flush_deferred(EptState& ept, const Vcpu& self, mm::FlushRequest flush) {
  if (!flush.needed())
    return;
  flush_ept(ept, flush);
  ept.flushes.flushed(self.index, ept.flushes.request());
}

bool TargetEpt::mtrrs_written() {
  SpinGuard guard(state->tracker_lock);  // no aging pass while the map is retyped
  arch::target::TargetCpuIo io;
  const auto mtrrs = read_mtrr_state(io, state->context.caps.max_phys_addr);
  if (!mtrrs.ok()) {
    log::printf("ept: cannot read the new MTRRs: %s", arch::error_name(mtrrs.error()));
    return false;
  }
  const auto flush = retype_for_mtrrs(state->context, mtrrs.value());
  if (!flush.ok()) {
    log::printf("ept: retyping after an MTRR write failed: %s", arch::error_name(flush.error()));
    return false;
  }
  // A memory type every CPU must use from now on: synchronous.
  if (flush.value().needed()) {
    uint64_t generation = 0;
    flush_everywhere(*state, *vcpu, flush.value(), &generation);
  }
  return true;
}

arch::Result<void> start_tracker(EptState& ept, const mm::MemoryRange* ranges, size_t count,
                                 mm::TrackingMode mode) {
  const uint64_t frames = Tracker<HostPool>::frames_needed(ranges, count);
  const uint64_t pages = (frames + arch::kPageSize4K - 1) / arch::kPageSize4K;
  const arch::Hpa storage = TRY(ept.pool.allocate_contiguous(pages == 0 ? 1 : pages));
  // The pool is identity-mapped for the host (and, before launch, for the firmware).
  auto* ages = reinterpret_cast<uint8_t*>(storage.value());
  TRY(ept.tracker.init(ranges, count, mode, ept.context.caps, ages, pages * arch::kPageSize4K));
  log::printf("track: %lu MiB of RAM in %zu ranges, idle ages in %lu pool pages", frames / 256,
              ept.tracker.range_count(), pages);
  return {};
}

HypercallStatus TargetEpt::copy_log(uint64_t gpa, uint64_t size, uint64_t* copied) {
  // The buffer must be guest RAM: never hypervisor memory, MMIO or across a hole.
  if (!state->tracker.guest_buffer_ok(gpa, size))
    return HypercallStatus::kDenied;
  *copied = log::copy_recent(reinterpret_cast<char*>(gpa), size);
  return HypercallStatus::kOk;
}

uint32_t TargetEpt::timer_tick() {
  // Entries per period. The slice must keep this CPU's stint in VMX root short: INIT is held
  // while a CPU is in VMX root and a SIPI that arrives before it is back in wait-for-SIPI is
  // discarded [SDM 3C "VMX Non-Root Operation": SIPIs], so a CPU woken by INIT-SIPI-SIPI (the
  // firmware at ExitBootServices, an OS starting its APs) in a long slice misses both SIPIs
  // and never starts. 64 entries cost at most 64 2 MiB leaves, whose 32K frame ages are
  // the bulk of the work (about 100K instructions: tens of microseconds on hardware, 2 ms of
  // Bochs time against edk2's 10 ms between INIT and SIPI); 4096 entries could take
  // milliseconds on a large machine. A pass now completes over tens of periods.
  constexpr uint64_t kSliceBudget = 64;
  // Another CPU's pass or slice is running: this period's slice is skipped, not waited for.
  if (!state->tracker_lock.try_lock())
    return state->timer_ticks;
  const auto step =
      state->tracker.age_step(*state->context.memory, state->context.map.root, kSliceBudget);
  state->tracker_lock.unlock();
  if (step.ok())
    flush_deferred(*state, *vcpu, step.value().flush);
  else
    log::printf("track: periodic aging slice failed: %s", arch::error_name(step.error()));
  return state->timer_ticks;
}

HypercallStatus TargetEpt::age(AgeCounts* counts) {
  state->tracker_lock.lock();  // waits for a pass or slice in progress on another CPU
  const auto pass = state->tracker.age_pass(*state->context.memory, state->context.map.root);
  state->tracker_lock.unlock();
  if (!pass.ok()) {
    log::printf("track: aging pass failed: %s", arch::error_name(pass.error()));
    return HypercallStatus::kInvalidArgument;
  }
  // This CPU's next access is seen; other CPUs' once they next exit (the flush hypercall
  // makes that immediate).
  flush_deferred(*state, *vcpu, pass.value().flush);
  *counts = pass.value().counts;
  return HypercallStatus::kOk;
}

HypercallStatus TargetEpt::copy_working_set(uint64_t gpa, uint64_t size, uint64_t* written) {
  (void)size;  // at least sizeof(WorkingSetReport): handle_hypercall checked
  state->tracker_lock.lock();
  const WorkingSetReport report = state->tracker.report();
  state->tracker_lock.unlock();
  if (!state->tracker.guest_buffer_ok(gpa, sizeof(report)))
    return HypercallStatus::kDenied;
  // Guest RAM is identity-mapped in the host's page tables.
  memcpy(reinterpret_cast<void*>(gpa), &report, sizeof(report));
  *written = sizeof(report);
  return HypercallStatus::kOk;
}

HypercallStatus TargetEpt::copy_frame_ages(uint64_t gpa, uint64_t frames, uint64_t first,
                                           uint64_t* written) {
  if (!state->tracker.guest_buffer_ok(gpa, frames))
    return HypercallStatus::kDenied;
  SpinGuard guard(state->tracker_lock);
  state->tracker.frame_ages(arch::Gpa(first), frames, reinterpret_cast<uint8_t*>(gpa));
  *written = frames;
  return HypercallStatus::kOk;
}

}  // namespace hv::target
