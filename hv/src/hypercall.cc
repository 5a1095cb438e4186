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
  }
  set_status(regs, HypercallStatus::kUnknownFunction);
}

}  // namespace hv
