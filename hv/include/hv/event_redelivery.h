// Re-delivering an event whose delivery a VM exit interrupted (an EPT violation while the
// CPU pushed an interrupt frame, say). If the hypervisor resumes without re-injecting it, the
// guest loses that interrupt or exception and eventually hangs.
// [SDM 3C "Information for VM Exits That Occur During Event Delivery"; SDM 3C "Resuming
// Guest Software after Handling an Exception"; Linux KVM __vmx_complete_interrupts]
#pragma once

#include <cstdint>

#include "arch/interruption_info.h"

namespace hv {

struct EventRedelivery {
  bool inject = false;
  arch::InterruptionInfo entry_info;  // for the VM-entry interruption-information field
  uint32_t error_code = 0;            // VM-entry exception error code, if entry_info says so
  uint32_t instruction_length = 0;    // VM-entry instruction length, for software events
  // Re-injecting an NMI: the exit set "blocking by NMI" for the aborted delivery; clear it
  // or the entry's NMI injection fails the guest-state checks.
  bool clear_nmi_blocking = false;
  // The exit happened after IRET unblocked NMIs but before IRET completed (no event was
  // being delivered): blocking by NMI must be set again before resuming.
  bool set_nmi_blocking = false;
};

// idt_vectoring: the IDT-vectoring information field; nmi_unblocking_due_to_iret: bit 12 of
// the exit qualification (EPT violation) or of the VM-exit interruption information.
constexpr EventRedelivery plan_event_redelivery(arch::InterruptionInfo idt_vectoring,
                                                uint32_t idt_vectoring_error_code,
                                                uint32_t exit_instruction_length,
                                                bool nmi_unblocking_due_to_iret) {
  EventRedelivery r;
  if (!idt_vectoring.valid()) {
    r.set_nmi_blocking = nmi_unblocking_due_to_iret;
    return r;
  }
  r.inject = true;
  // Rebuilt rather than copied: bits 30:12 are reserved in the VM-entry field.
  r.entry_info = arch::InterruptionInfo::make(idt_vectoring.type(), idt_vectoring.vector(),
                                              idt_vectoring.error_code_valid());
  r.error_code = idt_vectoring.error_code_valid() ? idt_vectoring_error_code : 0;
  r.instruction_length = idt_vectoring.needs_instruction_length() ? exit_instruction_length : 0;
  r.clear_nmi_blocking = idt_vectoring.type() == arch::InterruptionType::kNmi;
  return r;
}

}  // namespace hv
