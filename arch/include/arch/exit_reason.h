// VM-exit reasons: the basic reasons as one list with names, and the exit-reason field.
// [SDM 3D "Basic Exit Reasons"; SDM 3C "Basic VM-Exit Information"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

// X(enumerator, number, name as in the SDM table)
#define ARCH_EXIT_REASONS(X)                                                   \
  X(kExceptionOrNmi, 0, "exception or NMI")                                    \
  X(kExternalInterrupt, 1, "external interrupt")                               \
  X(kTripleFault, 2, "triple fault")                                           \
  X(kInitSignal, 3, "INIT signal")                                             \
  X(kStartupIpi, 4, "start-up IPI")                                            \
  X(kIoSmi, 5, "I/O SMI")                                                      \
  X(kOtherSmi, 6, "other SMI")                                                 \
  X(kInterruptWindow, 7, "interrupt window")                                   \
  X(kNmiWindow, 8, "NMI window")                                               \
  X(kTaskSwitch, 9, "task switch")                                             \
  X(kCpuid, 10, "CPUID")                                                       \
  X(kGetsec, 11, "GETSEC")                                                     \
  X(kHlt, 12, "HLT")                                                           \
  X(kInvd, 13, "INVD")                                                         \
  X(kInvlpg, 14, "INVLPG")                                                     \
  X(kRdpmc, 15, "RDPMC")                                                       \
  X(kRdtsc, 16, "RDTSC")                                                       \
  X(kRsm, 17, "RSM")                                                           \
  X(kVmcall, 18, "VMCALL")                                                     \
  X(kVmclear, 19, "VMCLEAR")                                                   \
  X(kVmlaunch, 20, "VMLAUNCH")                                                 \
  X(kVmptrld, 21, "VMPTRLD")                                                   \
  X(kVmptrst, 22, "VMPTRST")                                                   \
  X(kVmread, 23, "VMREAD")                                                     \
  X(kVmresume, 24, "VMRESUME")                                                 \
  X(kVmwrite, 25, "VMWRITE")                                                   \
  X(kVmxoff, 26, "VMXOFF")                                                     \
  X(kVmxon, 27, "VMXON")                                                       \
  X(kCrAccess, 28, "control-register access")                                  \
  X(kMovDr, 29, "MOV DR")                                                      \
  X(kIoInstruction, 30, "I/O instruction")                                     \
  X(kRdmsr, 31, "RDMSR")                                                       \
  X(kWrmsr, 32, "WRMSR")                                                       \
  X(kEntryFailGuestState, 33, "VM-entry failure due to invalid guest state")   \
  X(kEntryFailMsrLoading, 34, "VM-entry failure due to MSR loading")           \
  X(kMwait, 36, "MWAIT")                                                       \
  X(kMonitorTrapFlag, 37, "monitor trap flag")                                 \
  X(kMonitor, 39, "MONITOR")                                                   \
  X(kPause, 40, "PAUSE")                                                       \
  X(kEntryFailMachineCheck, 41, "VM-entry failure due to machine-check event") \
  X(kTprBelowThreshold, 43, "TPR below threshold")                             \
  X(kApicAccess, 44, "APIC access")                                            \
  X(kVirtualizedEoi, 45, "virtualized EOI")                                    \
  X(kGdtrIdtrAccess, 46, "access to GDTR or IDTR")                             \
  X(kLdtrTrAccess, 47, "access to LDTR or TR")                                 \
  X(kEptViolation, 48, "EPT violation")                                        \
  X(kEptMisconfiguration, 49, "EPT misconfiguration")                          \
  X(kInvept, 50, "INVEPT")                                                     \
  X(kRdtscp, 51, "RDTSCP")                                                     \
  X(kPreemptionTimer, 52, "VMX-preemption timer expired")                      \
  X(kInvvpid, 53, "INVVPID")                                                   \
  X(kWbinvd, 54, "WBINVD or WBNOINVD")                                         \
  X(kXsetbv, 55, "XSETBV")                                                     \
  X(kApicWrite, 56, "APIC write")                                              \
  X(kRdrand, 57, "RDRAND")                                                     \
  X(kInvpcid, 58, "INVPCID")                                                   \
  X(kVmfunc, 59, "VMFUNC")                                                     \
  X(kEncls, 60, "ENCLS")                                                       \
  X(kRdseed, 61, "RDSEED")                                                     \
  X(kPmlFull, 62, "page-modification log full")                                \
  X(kXsaves, 63, "XSAVES")                                                     \
  X(kXrstors, 64, "XRSTORS")                                                   \
  X(kPconfig, 65, "PCONFIG")                                                   \
  X(kSppEvent, 66, "SPP-related event")                                        \
  X(kUmwait, 67, "UMWAIT")                                                     \
  X(kTpause, 68, "TPAUSE")                                                     \
  X(kLoadiwkey, 69, "LOADIWKEY")                                               \
  X(kEnclv, 70, "ENCLV")                                                       \
  X(kEnqcmdPasidFailure, 72, "ENQCMD PASID translation failure")               \
  X(kEnqcmdsPasidFailure, 73, "ENQCMDS PASID translation failure")             \
  X(kBusLock, 74, "bus lock")                                                  \
  X(kInstructionTimeout, 75, "instruction timeout")                            \
  X(kSeamcall, 76, "SEAMCALL")                                                 \
  X(kTdcall, 77, "TDCALL")                                                     \
  X(kRdmsrlist, 78, "RDMSRLIST")                                               \
  X(kWrmsrlist, 79, "WRMSRLIST")

namespace arch {

enum class BasicExitReason : uint16_t {
#define ARCH_EXIT_REASON_ENUM(name, number, text) name = number,
  ARCH_EXIT_REASONS(ARCH_EXIT_REASON_ENUM)
#undef ARCH_EXIT_REASON_ENUM
};

// The SDM's name for basic exit reason `number`, or "unknown exit reason".
constexpr const char* exit_reason_name(uint32_t number) {
  switch (number) {
#define ARCH_EXIT_REASON_CASE(name, value, text) \
  case value:                                    \
    return text;
    ARCH_EXIT_REASONS(ARCH_EXIT_REASON_CASE)
#undef ARCH_EXIT_REASON_CASE
  }
  return "unknown exit reason";
}

// The 32-bit exit-reason VMCS field (4402H).
struct ExitReason {
  BasicExitReason basic = BasicExitReason::kExceptionOrNmi;  // bits 15:0
  uint16_t basic_number = 0;                                 // the same, unconverted
  bool enclave_mode = false;                                 // bit 27
  bool pending_mtf = false;                                  // bit 28
  bool from_vmx_root = false;                                // bit 29 (SMM dual monitor)
  bool entry_failure = false;                                // bit 31: VM entry failed

  static constexpr ExitReason from_raw(uint32_t raw) {
    ExitReason r;
    r.basic_number = static_cast<uint16_t>(extract(raw, 15, 0));
    r.basic = static_cast<BasicExitReason>(r.basic_number);
    r.enclave_mode = test_bit(raw, 27);
    r.pending_mtf = test_bit(raw, 28);
    r.from_vmx_root = test_bit(raw, 29);
    r.entry_failure = test_bit(raw, 31);
    return r;
  }

  constexpr const char* name() const { return exit_reason_name(basic_number); }
};

static_assert(ExitReason::from_raw(0x80000021).entry_failure);
static_assert(ExitReason::from_raw(0x80000021).basic == BasicExitReason::kEntryFailGuestState);

}  // namespace arch
