// A pure checker for the guest-state area, following the SDM's VM-entry checks, so that a
// bad field is named before VMLAUNCH (and after a failed entry, whose exit reason 33 says
// only "invalid guest state"). [SDM 3C "Checks on the Guest State Area"]
//
// Covered: control registers and fixed bits (PE/PG relaxed with unrestricted guest), the
// IA-32e mode guest / EFER / CR0.PG / CR4.PAE / PCIDE relations, CR3 and DR7 width, PAT
// and EFER (when loaded on entry), SYSENTER canonicality, every segment register's base,
// limit/granularity and access rights (protected and IA-32e mode; unrestricted guest rules
// for CS/SS DPL; virtual-8086 mode segments are not checked: agevisor never launches one),
// GDTR/IDTR, RIP and RFLAGS, activity and interruptibility state with event injection,
// pending debug exceptions, and the VMCS link pointer (agevisor uses no VMCS shadowing).
// Not covered: PDPTEs (PAE paging without IA-32e mode), CET, PKRS, RTIT, LBR, BNDCFGS,
// PERF_GLOBAL_CTRL, enclave interruption.
#pragma once

#include <cstdint>

#include "arch/vmx_cr_fixed.h"
#include "hv/guest_state.h"

namespace hv {

struct GuestCheckContext {
  uint32_t entry_controls = 0;  // negotiated VM-entry controls
  uint32_t pin_controls = 0;
  uint32_t proc2_controls = 0;
  uint64_t cr0_fixed0 = 0;  // IA32_VMX_CR0_FIXED0, before the unrestricted-guest relaxation
  uint64_t cr0_fixed1 = ~uint64_t{0};
  uint64_t cr4_fixed0 = 0;
  uint64_t cr4_fixed1 = ~uint64_t{0};
  uint8_t max_phys_addr = 36;
  uint8_t linear_width = 48;             // canonical checks
  uint32_t activity_states = 0x7;        // IA32_VMX_MISC bits 8:6 shifted down: HLT, shutdown, SIPI
  uint32_t entry_interruption_info = 0;  // the event being injected, if valid
};

struct GuestStateCheck {
  static constexpr int kMaxFailures = 16;
  int count = 0;  // may exceed kMaxFailures; only the first ones are kept
  const char* failures[kMaxFailures] = {};

  constexpr bool ok() const { return count == 0; }
  constexpr void fail(const char* what) {
    if (count < kMaxFailures)
      failures[count] = what;
    ++count;
  }
};

// Every violated check, named by the SDM rule it breaks.
GuestStateCheck check_guest_state(const GuestState& guest, const GuestCheckContext& context);

}  // namespace hv
