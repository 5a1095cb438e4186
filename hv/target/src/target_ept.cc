// The EPT seam of the exit path on target. Logs only when something goes wrong: a normal
// access-tracking fault is silent.
#include "hv/target/target_ept.h"

#include "arch/ept_violation_qualification.h"
#include "arch/target/target_cpu_io.h"
#include "arch/target/vmx.h"
#include "hv/mtrr_reader.h"
#include "hv/target/log.h"

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
  if (fault.result != EptFaultResult::kResolved) {
    log::printf("ept: %s access to GPA %#lx: %s (%s)",
                fault.result == EptFaultResult::kDenied ? "denied" : "unresolved", gpa,
                mm::violation_name(fault.violation), arch::error_name(fault.error));
  }
  return fault.result;
}

bool TargetEpt::mtrrs_written() {
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
  flush_ept(*state, flush.value());
  return true;
}

}  // namespace hv::target
