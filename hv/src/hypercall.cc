#include "hv/hypercall.h"

#include "hv/guest_cpuid.h"

namespace hv {
namespace {

void set_status(HypercallRegisters& regs, HypercallStatus status) {
  regs.rax = static_cast<uint64_t>(status);
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
          context.copy_log(context.copy_log_self, regs.rbx, regs.rcx, &copied);
      regs.rbx = status == HypercallStatus::kOk ? copied : 0;
      set_status(regs, status);
      return;
    }
    case Hypercall::kAge: {
      if (context.age == nullptr) {
        set_status(regs, HypercallStatus::kUnknownFunction);
        return;
      }
      AgeCounts counts;
      const HypercallStatus status = context.age(context.tracker_self, &counts);
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
          context.copy_working_set(context.tracker_self, regs.rbx, regs.rcx, &written);
      regs.rbx = status == HypercallStatus::kOk ? written : 0;
      set_status(regs, status);
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
          context.copy_frame_ages(context.tracker_self, regs.rbx, regs.rcx, regs.rdx, &written);
      regs.rbx = status == HypercallStatus::kOk ? written : 0;
      set_status(regs, status);
      return;
    }
  }
  set_status(regs, HypercallStatus::kUnknownFunction);
}

}  // namespace hv
