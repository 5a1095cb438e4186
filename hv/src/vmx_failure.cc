#include "hv/vmx_failure.h"

#include "arch/exit_reason.h"
#include "arch/format.h"
#include "arch/vm_instruction_error.h"

namespace hv {

int format_vmx_failure(char* buf, size_t size, const char* instruction, arch::VmxStatus status,
                       uint32_t error_number) {
  switch (status) {
    case arch::VmxStatus::kSuccess:
      return arch::format(buf, size, "%s succeeded", instruction);
    case arch::VmxStatus::kFailInvalid:
      return arch::format(buf, size, "%s failed: VMfailInvalid (no current VMCS, no error number)",
                          instruction);
    case arch::VmxStatus::kFailValid:
      break;
  }
  return arch::format(buf, size, "%s failed: VMfailValid, VM-instruction error %u (%s)",
                      instruction, error_number, arch::vm_instruction_error_name(error_number));
}

int format_entry_failure(char* buf, size_t size, uint32_t exit_reason, uint64_t qualification) {
  arch::ExitReason reason = arch::ExitReason::from_raw(exit_reason);
  if (reason.basic == arch::BasicExitReason::kEntryFailMsrLoading)
    return arch::format(buf, size, "VM entry failed: exit reason %u (%s), MSR-load entry %llu",
                        reason.basic_number, reason.name(),
                        static_cast<unsigned long long>(qualification));
  return arch::format(buf, size, "VM entry failed: exit reason %u (%s), qualification 0x%llx",
                      reason.basic_number, reason.name(),
                      static_cast<unsigned long long>(qualification));
}

}  // namespace hv
