// VM-instruction error numbers (VMCS field 4400H after VMfailValid), one list with names.
// [SDM 3C "VM Instruction Error Numbers"]
#pragma once

#include <cstdint>

// X(enumerator, number, description as in the SDM table)
#define ARCH_VM_INSTRUCTION_ERRORS(X)                                                      \
  X(kVmcallInVmxRoot, 1, "VMCALL executed in VMX root operation")                          \
  X(kVmclearInvalidAddress, 2, "VMCLEAR with invalid physical address")                    \
  X(kVmclearVmxonPointer, 3, "VMCLEAR with VMXON pointer")                                 \
  X(kVmlaunchNonClearVmcs, 4, "VMLAUNCH with non-clear VMCS")                              \
  X(kVmresumeNonLaunchedVmcs, 5, "VMRESUME with non-launched VMCS")                        \
  X(kVmresumeAfterVmxoff, 6, "VMRESUME after VMXOFF")                                      \
  X(kEntryInvalidControlFields, 7, "VM entry with invalid control field(s)")               \
  X(kEntryInvalidHostStateFields, 8, "VM entry with invalid host-state field(s)")          \
  X(kVmptrldInvalidAddress, 9, "VMPTRLD with invalid physical address")                    \
  X(kVmptrldVmxonPointer, 10, "VMPTRLD with VMXON pointer")                                \
  X(kVmptrldIncorrectRevision, 11, "VMPTRLD with incorrect VMCS revision identifier")      \
  X(kUnsupportedVmcsComponent, 12, "VMREAD/VMWRITE from/to unsupported VMCS component")    \
  X(kVmwriteReadOnlyComponent, 13, "VMWRITE to read-only VMCS component")                  \
  X(kVmxonInVmxRoot, 15, "VMXON executed in VMX root operation")                           \
  X(kEntryInvalidExecutiveVmcsPointer, 16, "VM entry with invalid executive-VMCS pointer") \
  X(kEntryNonLaunchedExecutiveVmcs, 17, "VM entry with non-launched executive VMCS")       \
  X(kEntryExecutiveVmcsNotVmxonPointer, 18,                                                \
    "VM entry with executive-VMCS pointer not VMXON pointer")                              \
  X(kVmcallNonClearVmcs, 19, "VMCALL with non-clear VMCS")                                 \
  X(kVmcallInvalidExitControls, 20, "VMCALL with invalid VM-exit control fields")          \
  X(kVmcallIncorrectMsegRevision, 22, "VMCALL with incorrect MSEG revision identifier")    \
  X(kVmxoffUnderDualMonitor, 23, "VMXOFF under dual-monitor treatment of SMIs and SMM")    \
  X(kVmcallInvalidSmmMonitorFeatures, 24, "VMCALL with invalid SMM-monitor features")      \
  X(kEntryInvalidExecutiveControls, 25,                                                    \
    "VM entry with invalid VM-execution control fields in executive VMCS")                 \
  X(kEntryEventsBlockedByMovSs, 26, "VM entry with events blocked by MOV SS")              \
  X(kInvalidInveptInvvpidOperand, 28, "Invalid operand to INVEPT/INVVPID")

namespace arch {

enum class VmInstructionError : uint32_t {
#define ARCH_VM_INSTRUCTION_ERROR_ENUM(name, number, text) name = number,
  ARCH_VM_INSTRUCTION_ERRORS(ARCH_VM_INSTRUCTION_ERROR_ENUM)
#undef ARCH_VM_INSTRUCTION_ERROR_ENUM
};

// The SDM's description of error `number`, or "unknown VM-instruction error" (0 and the
// reserved numbers 14, 21, 27 included).
constexpr const char* vm_instruction_error_name(uint32_t number) {
  switch (number) {
#define ARCH_VM_INSTRUCTION_ERROR_CASE(name, value, text) \
  case value:                                             \
    return text;
    ARCH_VM_INSTRUCTION_ERRORS(ARCH_VM_INSTRUCTION_ERROR_CASE)
#undef ARCH_VM_INSTRUCTION_ERROR_CASE
  }
  return "unknown VM-instruction error";
}

}  // namespace arch
