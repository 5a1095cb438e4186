// What undoing a failed first VM entry must put back. A VM entry that fails after loading
// guest state ends like a VM exit: the processor loads the host state, so the firmware,
// resumed natively, would run on with the host's CR0/CR4 (which differ: the host sets
// CR4.OSXSAVE, hv::host_cr4), DR7 = 400H, IA32_DEBUGCTL cleared and the host's SYSENTER MSRs.
// Segment registers, descriptor tables, CR3 and the FS/GS bases are restored by
// agevisor_resume_native (arch/native_context.h); EFER and PAT on the host side are the
// firmware's own values. [SDM 3C "VM-Entry Failures During or After Loading Guest State",
// "Loading Host State"]
#pragma once

#include <cstdint>

#include "arch/vmx_cr_fixed.h"
#include "hv/guest_state.h"

namespace hv {

struct FirmwareRegisters {
  uint64_t cr0 = 0;
  uint64_t cr4 = 0;
  uint64_t dr7 = 0;
  uint64_t debugctl = 0;
  uint64_t sysenter_cs = 0;
  uint64_t sysenter_esp = 0;
  uint64_t sysenter_eip = 0;
};

// The firmware's registers as its guest view had them: CR0/CR4 from the read shadows (what
// the firmware believed it had; VMXE is never part of it), the rest from the guest state.
constexpr FirmwareRegisters firmware_registers_after_failed_entry(const GuestState& g,
                                                                  uint64_t cr0_read_shadow,
                                                                  uint64_t cr4_read_shadow) {
  FirmwareRegisters r;
  r.cr0 = cr0_read_shadow;
  r.cr4 = cr4_read_shadow & ~arch::kCr4Vmxe;
  r.dr7 = g.dr7;
  r.debugctl = g.debugctl;
  r.sysenter_cs = g.sysenter_cs;
  r.sysenter_esp = g.sysenter_esp;
  r.sysenter_eip = g.sysenter_eip;
  return r;
}

}  // namespace hv
