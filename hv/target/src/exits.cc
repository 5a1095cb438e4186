// The VM-exit entry point on target: the pure exit path (hv/exits/exit_handler.h) over the
// real VMCS and instructions, and what only the machine can do: dumps, halts, reset, and
// undoing a failed first entry. Built -mgeneral-regs-only (a VM exit does not save the
// guest's SSE/AVX state). Nothing here logs on the normal per-exit path.
#include "hv/exits/exit_handler.h"

#include "hv/target/exit_seams.h"
#include "hv/target/exits_internal.h"
#include "hv/target/log.h"

namespace hv::target {

// Once per sleep entry, which is rare: logging here is not on the per-exit path.
void TargetExitCpu::sleep_entry(unsigned type) {
  log::printf(
      "acpi: the guest enters ACPI sleep (PM1 control write, SLP_TYP %u): from S3 the "
      "machine resumes through the firmware without agevisor",
      type);
}

}  // namespace hv::target

extern "C" bool hv_vmexit_handler(arch::GuestGprs* gprs, void* opaque) {
  using namespace hv::target;
  Vcpu& v = *static_cast<Vcpu*>(opaque);
  TargetVmcs vmcs;
  TargetExitCpu cpu;
  TargetEpt ept{v.ept, &v};
  switch (hv::handle_exit(v.state, vmcs, cpu, ept, *gprs)) {
    case hv::ExitAction::kResume:
    case hv::ExitAction::kAdvance:
    case hv::ExitAction::kInjected:
      return true;
    case hv::ExitAction::kLeave:
      leave_to_native(v, *gprs);
    case hv::ExitAction::kEntryFailed:
      handle_entry_failure(v);
    case hv::ExitAction::kReset:
      reset_platform(v, *gprs);
    case hv::ExitAction::kHalt:
      break;
  }
  halt_after_dump(v, *gprs);
}
