// What the processor's EPT can do (IA32_VMX_EPT_VPID_CAP, CPUID MAXPHYADDR) and which
// optional EPT features agevisor has switched on. Read once by hv/, passed by value to mm/,
// which never touches hardware. [SDM 3D "VPID and EPT Capabilities"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

struct EptCapabilities {
  // --- what the hardware offers (IA32_VMX_EPT_VPID_CAP) ---
  bool execute_only = false;             // bit 0: R/W/X = 100 is legal
  bool page_walk_4 = false;              // bit 6
  bool page_walk_5 = false;              // bit 7
  bool memtype_uc = false;               // bit 8: paging structures may be UC
  bool memtype_wb = false;               // bit 14: paging structures may be WB
  bool pages_2m = false;                 // bit 16: PDE may map a 2 MiB page
  bool pages_1g = false;                 // bit 17: PDPTE may map a 1 GiB page
  bool invept = false;                   // bit 20
  bool accessed_dirty = false;           // bit 21: EPT A/D flags exist
  bool advanced_exit_info = false;       // bit 22: violation qualification bits 7/8 valid
  bool supervisor_shadow_stack = false;  // bit 23
  bool invept_single = false;            // bit 25
  bool invept_all = false;               // bit 26
  bool invvpid = false;                  // bit 32
  bool invvpid_address = false;          // bit 40
  bool invvpid_single = false;           // bit 41
  bool invvpid_all = false;              // bit 42
  bool invvpid_single_globals = false;   // bit 43

  // Physical-address width (CPUID.80000008H:EAX[7:0]); EPT address bits at or above it are
  // reserved.
  uint8_t max_phys_addr = 36;

  // --- what agevisor enabled (EPTP and secondary controls) ---
  bool ad_enabled = false;                       // EPTP bit 6: bits 8/9 are A/D
  bool mode_based_execute_enabled = false;       // bit 10 is user-execute
  bool ept_violation_ve_enabled = false;         // bit 63 is suppress-#VE
  bool supervisor_shadow_stack_enabled = false;  // bit 60 is SSS
  bool sub_page_write_enabled = false;           // bit 61 is SPP

  static constexpr EptCapabilities from_msr(uint64_t ept_vpid_cap, uint8_t max_phys_addr) {
    EptCapabilities c;
    c.execute_only = test_bit(ept_vpid_cap, 0);
    c.page_walk_4 = test_bit(ept_vpid_cap, 6);
    c.page_walk_5 = test_bit(ept_vpid_cap, 7);
    c.memtype_uc = test_bit(ept_vpid_cap, 8);
    c.memtype_wb = test_bit(ept_vpid_cap, 14);
    c.pages_2m = test_bit(ept_vpid_cap, 16);
    c.pages_1g = test_bit(ept_vpid_cap, 17);
    c.invept = test_bit(ept_vpid_cap, 20);
    c.accessed_dirty = test_bit(ept_vpid_cap, 21);
    c.advanced_exit_info = test_bit(ept_vpid_cap, 22);
    c.supervisor_shadow_stack = test_bit(ept_vpid_cap, 23);
    c.invept_single = test_bit(ept_vpid_cap, 25);
    c.invept_all = test_bit(ept_vpid_cap, 26);
    c.invvpid = test_bit(ept_vpid_cap, 32);
    c.invvpid_address = test_bit(ept_vpid_cap, 40);
    c.invvpid_single = test_bit(ept_vpid_cap, 41);
    c.invvpid_all = test_bit(ept_vpid_cap, 42);
    c.invvpid_single_globals = test_bit(ept_vpid_cap, 43);
    c.max_phys_addr = max_phys_addr;
    return c;
  }
};

// IA32_VMX_EPT_VPID_CAP values read under Bochs 2.7 + OVMF (shared/reference/platform.md).
inline constexpr uint64_t kBochsIvyBridgeEptVpidCap = 0xF0106114141;
inline constexpr uint64_t kBochsHaswellEptVpidCap = 0xF0106334141;

static_assert(!EptCapabilities::from_msr(kBochsIvyBridgeEptVpidCap, 36).accessed_dirty);
static_assert(!EptCapabilities::from_msr(kBochsIvyBridgeEptVpidCap, 36).pages_1g);
static_assert(EptCapabilities::from_msr(kBochsHaswellEptVpidCap, 36).accessed_dirty);
static_assert(EptCapabilities::from_msr(kBochsHaswellEptVpidCap, 36).pages_1g);

}  // namespace arch
