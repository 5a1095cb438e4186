// Emulating a guest's MOV to CR0/CR4 (and LMSW) that exited because it touched a bit in the
// guest/host mask: the #GP(0) checks the processor leaves to the hypervisor, the value the
// guest sees (read shadow) and the one it runs with (fixed bits forced), IA-32e mode entry
// and exit when paging changes with EFER.LME set, and whether the guest's TLB must be
// flushed (the processor did not execute the instruction, so with VPID its TLB side effects
// are the hypervisor's to perform).
// [SDM 2B "MOV—Move to/from Control Registers"; SDM 2A "LMSW"; SDM 3A "IA-32e Mode
// Initialization"; SDM 3A "Invalidation of TLBs and Paging-Structure Caches"]
#pragma once

#include <cstdint>

#include "arch/vmx_cr_fixed.h"

namespace hv {

struct ControlRegisterState {
  uint64_t cr0_shadow = 0;  // the guest's view of CR0 (read shadow)
  uint64_t cr4_shadow = 0;  // the guest's view of CR4
  uint64_t cr3 = 0;
  uint64_t efer = 0;
  uint32_t entry_controls = 0;
  bool cs_long = false;  // CS.L: the guest runs 64-bit code (not compatibility mode)
};

struct ControlRegisterWrite {
  bool inject_gp = false;        // #GP(0); nothing else changes
  uint64_t guest_value = 0;      // for the VMCS guest CR0/CR4 field
  uint64_t read_shadow = 0;      // for the CR0/CR4 read shadow
  uint64_t efer = 0;             // guest IA32_EFER (LMA follows paging)
  uint32_t entry_controls = 0;   // "IA-32e mode guest" follows LMA
  bool flush_guest_tlb = false;  // INVVPID (single-context) before resuming, if VPID is on
};

ControlRegisterWrite write_cr0(const ControlRegisterState& state, uint64_t value,
                               const arch::CrFixedBits& guest_cr0_rules);
ControlRegisterWrite write_cr4(const ControlRegisterState& state, uint64_t value,
                               const arch::CrFixedBits& cr4_rules);

// LMSW loads CR0[3:0] (PE, MP, EM, TS) from its operand but cannot clear PE.
constexpr uint64_t lmsw_cr0_value(uint64_t cr0_shadow, uint16_t source) {
  return (cr0_shadow & ~uint64_t{0xF}) | (source & 0xFu) | (cr0_shadow & 0x1);
}

}  // namespace hv
