// VMX control bits, as masks over the 32-bit control fields. Bit numbers as in the SDM
// tables. [SDM 3C "VM-Execution Controls", "VM-Exit Controls", "VM-Entry Controls"]
#pragma once

#include <cstdint>

namespace arch {

namespace pin_based {  // "Definitions of Pin-Based VM-Execution Controls"
inline constexpr uint32_t kExternalInterruptExiting = 1u << 0;
inline constexpr uint32_t kNmiExiting = 1u << 3;
inline constexpr uint32_t kVirtualNmis = 1u << 5;
inline constexpr uint32_t kPreemptionTimer = 1u << 6;
inline constexpr uint32_t kPostedInterrupts = 1u << 7;
// Reserved bits that are 1 on processors without the TRUE_* MSRs.
inline constexpr uint32_t kDefault1 = 0x16;
}  // namespace pin_based

namespace proc_based {  // "Primary Processor-Based VM-Execution Controls"
inline constexpr uint32_t kInterruptWindowExiting = 1u << 2;
inline constexpr uint32_t kTscOffsetting = 1u << 3;
inline constexpr uint32_t kHltExiting = 1u << 7;
inline constexpr uint32_t kInvlpgExiting = 1u << 9;
inline constexpr uint32_t kMwaitExiting = 1u << 10;
inline constexpr uint32_t kRdpmcExiting = 1u << 11;
inline constexpr uint32_t kRdtscExiting = 1u << 12;
inline constexpr uint32_t kCr3LoadExiting = 1u << 15;
inline constexpr uint32_t kCr3StoreExiting = 1u << 16;
inline constexpr uint32_t kTertiaryControls = 1u << 17;
inline constexpr uint32_t kCr8LoadExiting = 1u << 19;
inline constexpr uint32_t kCr8StoreExiting = 1u << 20;
inline constexpr uint32_t kTprShadow = 1u << 21;
inline constexpr uint32_t kNmiWindowExiting = 1u << 22;
inline constexpr uint32_t kMovDrExiting = 1u << 23;
inline constexpr uint32_t kUnconditionalIoExiting = 1u << 24;
inline constexpr uint32_t kIoBitmaps = 1u << 25;
inline constexpr uint32_t kMonitorTrapFlag = 1u << 27;
inline constexpr uint32_t kMsrBitmaps = 1u << 28;
inline constexpr uint32_t kMonitorExiting = 1u << 29;
inline constexpr uint32_t kPauseExiting = 1u << 30;
inline constexpr uint32_t kSecondaryControls = 1u << 31;
inline constexpr uint32_t kDefault1 = 0x0401E172;
}  // namespace proc_based

namespace proc_based2 {  // "Secondary Processor-Based VM-Execution Controls"
inline constexpr uint32_t kVirtualizeApicAccesses = 1u << 0;
inline constexpr uint32_t kEpt = 1u << 1;
inline constexpr uint32_t kDescriptorTableExiting = 1u << 2;
inline constexpr uint32_t kRdtscp = 1u << 3;
inline constexpr uint32_t kVirtualizeX2apic = 1u << 4;
inline constexpr uint32_t kVpid = 1u << 5;
inline constexpr uint32_t kWbinvdExiting = 1u << 6;
inline constexpr uint32_t kUnrestrictedGuest = 1u << 7;
inline constexpr uint32_t kApicRegisterVirtualization = 1u << 8;
inline constexpr uint32_t kVirtualInterruptDelivery = 1u << 9;
inline constexpr uint32_t kPauseLoopExiting = 1u << 10;
inline constexpr uint32_t kRdrandExiting = 1u << 11;
inline constexpr uint32_t kInvpcid = 1u << 12;
inline constexpr uint32_t kVmFunctions = 1u << 13;
inline constexpr uint32_t kVmcsShadowing = 1u << 14;
inline constexpr uint32_t kEnclsExiting = 1u << 15;
inline constexpr uint32_t kRdseedExiting = 1u << 16;
inline constexpr uint32_t kPml = 1u << 17;
inline constexpr uint32_t kEptViolationVe = 1u << 18;
inline constexpr uint32_t kConcealVmxFromPt = 1u << 19;
inline constexpr uint32_t kXsaves = 1u << 20;
inline constexpr uint32_t kModeBasedExecute = 1u << 22;
inline constexpr uint32_t kSubPageWrite = 1u << 23;
inline constexpr uint32_t kPtUsesGuestPhysical = 1u << 24;
inline constexpr uint32_t kTscScaling = 1u << 25;
inline constexpr uint32_t kUserWaitPause = 1u << 26;
inline constexpr uint32_t kEnclvExiting = 1u << 28;
}  // namespace proc_based2

namespace exit_ctls {  // "Definitions of Primary VM-Exit Controls"
inline constexpr uint32_t kSaveDebugControls = 1u << 2;
inline constexpr uint32_t kHostAddressSpaceSize = 1u << 9;  // 64-bit host
inline constexpr uint32_t kLoadPerfGlobalCtrl = 1u << 12;
inline constexpr uint32_t kAcknowledgeInterrupt = 1u << 15;
inline constexpr uint32_t kSavePat = 1u << 18;
inline constexpr uint32_t kLoadPat = 1u << 19;
inline constexpr uint32_t kSaveEfer = 1u << 20;
inline constexpr uint32_t kLoadEfer = 1u << 21;
inline constexpr uint32_t kSavePreemptionTimer = 1u << 22;
inline constexpr uint32_t kClearBndcfgs = 1u << 23;
inline constexpr uint32_t kConcealVmxFromPt = 1u << 24;
inline constexpr uint32_t kDefault1 = 0x00036DFF;
}  // namespace exit_ctls

namespace entry_ctls {  // "Definitions of VM-Entry Controls"
inline constexpr uint32_t kLoadDebugControls = 1u << 2;
inline constexpr uint32_t kIa32eModeGuest = 1u << 9;
inline constexpr uint32_t kEntryToSmm = 1u << 10;
inline constexpr uint32_t kDeactivateDualMonitor = 1u << 11;
inline constexpr uint32_t kLoadPerfGlobalCtrl = 1u << 13;
inline constexpr uint32_t kLoadPat = 1u << 14;
inline constexpr uint32_t kLoadEfer = 1u << 15;
inline constexpr uint32_t kLoadBndcfgs = 1u << 16;
inline constexpr uint32_t kConcealVmxFromPt = 1u << 17;
inline constexpr uint32_t kDefault1 = 0x000011FF;
}  // namespace entry_ctls

}  // namespace arch
