// One-line descriptions of failed VMX instructions and failed VM entries, for the log.
// Never ignore a failed VMX instruction: decode VMfailInvalid / VMfailValid and name the
// VM-instruction error. [SDM 3C "VM Instruction Error Numbers"; SDM 3C "VM-Entry Failures
// During or After Loading Guest State"]
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/vmx_status.h"

namespace hv {

// "VMLAUNCH failed: VMfailValid, VM-instruction error 7 (VM entry with invalid control
// field(s))". `error_number` is read from the VMCS only for VMfailValid (with VMfailInvalid
// there is no current VMCS to read it from); it is ignored otherwise. Returns the would-be
// length, like arch::format.
int format_vmx_failure(char* buf, size_t size, const char* instruction, arch::VmxStatus status,
                       uint32_t error_number);

// A VM exit with bit 31 of the exit reason set: the entry loaded (part of) the guest state and
// failed. "VM entry failed: exit reason 33 (VM-entry failure due to invalid guest state),
// qualification 0x0".
int format_entry_failure(char* buf, size_t size, uint32_t exit_reason, uint64_t qualification);

}  // namespace hv
