// The checks a processor makes on the guest-state area at VM entry, as pure code.
// [SDM 3C "Checks on the Guest State Area"] and its subsections on control registers, debug
// registers and MSRs; segment registers; descriptor-table registers; RIP and RFLAGS; and
// non-register state.
//
// Bochs accepts some states real processors reject, so agevisor runs this checker before
// VMLAUNCH and again on any VM-entry failure, and reports every rule that is broken.
// Not covered (agevisor never enables them): PDPTE checks for PAE guests with EPT, CET,
// PKRS, IA32_PERF_GLOBAL_CTRL, IA32_BNDCFGS, IA32_RTIT_CTL, IA32_LBR_CTL, enclave
// interruption, and VMCS shadowing of the link pointer.
#pragma once

#include <cstdint>

#include "hv/guest_state.h"

namespace hv {

// The VM-entry and execution controls and capability MSRs the checks depend on.
struct GuestCheckContext {
  uint64_t cr0_fixed0 = 0;             // IA32_VMX_CR0_FIXED0: bits that must be 1
  uint64_t cr0_fixed1 = ~uint64_t{0};  // IA32_VMX_CR0_FIXED1: bits that may be 1
  uint64_t cr4_fixed0 = 0;
  uint64_t cr4_fixed1 = ~uint64_t{0};
  uint8_t max_phys_addr = 36;
  uint8_t linear_address_bits = 48;

  bool unrestricted_guest = false;   // secondary processor-based control
  bool ia32e_mode_guest = false;     // VM-entry control bit 9
  bool entry_to_smm = false;         // VM-entry control bit 10
  bool load_debug_controls = false;  // VM-entry control bit 2
  bool load_pat = false;             // VM-entry control bit 14
  bool load_efer = false;            // VM-entry control bit 15

  // VM-entry interruption-information field, if an event is being injected.
  bool injecting = false;
  uint8_t injection_type = 0;  // 0 external interrupt, 2 NMI, 3 hardware exception, ...
};

// One broken rule: which field, and the rule in the SDM's words (shortened).
struct GuestStateViolation {
  const char* field = "";
  const char* rule = "";
};

struct GuestStateReport {
  static constexpr int kMaxRecorded = 16;

  int count = 0;  // every violation is counted; the first kMaxRecorded are kept
  GuestStateViolation violations[kMaxRecorded];

  constexpr bool ok() const { return count == 0; }
  void add(const char* field, const char* rule) {
    if (count < kMaxRecorded)
      violations[count] = {field, rule};
    ++count;
  }
  // True if some recorded violation names `field` (for tests and diagnostics).
  bool has(const char* field) const;
};

GuestStateReport check_guest_state(const GuestState& state, const GuestCheckContext& context);

}  // namespace hv
