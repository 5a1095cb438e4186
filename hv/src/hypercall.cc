#include "hv/hypercall.h"

#include "hv/guest_cpuid.h"

namespace hv {
namespace {

void set_status(HypercallRegisters& regs, HypercallStatus status) {
  regs.rax = static_cast<uint64_t>(status);
}

// A copy service's answer: the count in RBX when it succeeded, 0 otherwise.
void answer_copy(HypercallRegisters& regs, HypercallStatus status, uint64_t count) {
  regs.rbx = status == HypercallStatus::kOk ? count : 0;
  set_status(regs, status);
}

}  // namespace

void handle_hypercall(HypercallRegisters& regs, const HypercallContext& context) {
  if (context.guest_cpl != 0) {
    set_status(regs, HypercallStatus::kDenied);
    return;
  }
  switch (static_cast<Hypercall>(regs.rax)) {
    case Hypercall::kVersion:
      regs.rbx = kHypercallAbiVersion;
      regs.rcx = kSignatureEbx;
      regs.rdx = kSignatureEcx;
      set_status(regs, HypercallStatus::kOk);
      return;
    case Hypercall::kCpu:
      regs.rbx = context.apic_id;
      regs.rcx = context.exit_count;
      set_status(regs, HypercallStatus::kOk);
      return;
    case Hypercall::kLog: {
      if (context.copy_log == nullptr) {
        set_status(regs, HypercallStatus::kUnknownFunction);
        return;
      }
      uint64_t copied = 0;
      const HypercallStatus status =
          context.copy_log(context.services, regs.rbx, regs.rcx, &copied);
      answer_copy(regs, status, copied);
      return;
    }
    case Hypercall::kAge: {
      if (context.age == nullptr) {
        set_status(regs, HypercallStatus::kUnknownFunction);
        return;
      }
      AgeCounts counts;
      const HypercallStatus status = context.age(context.services, &counts);
      if (status == HypercallStatus::kOk) {
        regs.rbx = counts.accessed_pages;
        regs.rcx = counts.tracked_pages;
        regs.rdx = counts.dirty_pages;
      }
      set_status(regs, status);
      return;
    }
    case Hypercall::kWorkingSet: {
      if (context.copy_working_set == nullptr) {
        set_status(regs, HypercallStatus::kUnknownFunction);
        return;
      }
      if (regs.rcx < sizeof(WorkingSetReport)) {
        set_status(regs, HypercallStatus::kInvalidArgument);
        return;
      }
      uint64_t written = 0;
      const HypercallStatus status =
          context.copy_working_set(context.services, regs.rbx, regs.rcx, &written);
      answer_copy(regs, status, written);
      return;
    }
    case Hypercall::kFrameAges: {
      if (context.copy_frame_ages == nullptr) {
        set_status(regs, HypercallStatus::kUnknownFunction);
        return;
      }
      if (regs.rcx == 0 || (regs.rdx & 0xFFF) != 0) {
        set_status(regs, HypercallStatus::kInvalidArgument);
        return;
      }
      uint64_t written = 0;
      const HypercallStatus status =
          context.copy_frame_ages(context.services, regs.rbx, regs.rcx, regs.rdx, &written);
      answer_copy(regs, status, written);
      return;
    }
    case Hypercall::kFlush:
      break;  // reserved for the SMP work: unknown until it is built
  }
  set_status(regs, HypercallStatus::kUnknownFunction);
}

}  // namespace hv
