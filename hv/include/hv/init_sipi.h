// INIT and SIPI for a processor in VMX non-root operation. Both are VM exits there: agevisor
// puts the processor state that follows INIT into the guest-state area and parks the guest in
// the wait-for-SIPI activity state; a SIPI then starts it in real mode at vector * 4096.
// Firmware wakes halted application processors this way on every MP-services call and at
// ExitBootServices, operating systems at boot: both paths are fast and never log.
// [SDM 3A "Processor State Following Power-up, Reset, or INIT" (Table 10-1), "MP
// Initialization Protocol"; SDM 3C "INIT signals", "Start-up IPIs", "Guest Non-Register
// State"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/vmx_cr_fixed.h"
#include "hv/guest_state.h"

namespace hv {

// CR0 after INIT: CD and NW keep their values, ET (bit 4) is set, everything else is clear.
inline constexpr uint64_t kCr0Et = arch::bit(4);
inline constexpr uint64_t kCr0Nw = arch::bit(29);
inline constexpr uint64_t kCr0Cd = arch::bit(30);

// Real-mode segments after INIT: present, read/write (code: execute/read), accessed.
inline constexpr uint32_t kRealModeCodeAccess = 0x9B;
inline constexpr uint32_t kRealModeDataAccess = 0x93;
inline constexpr uint32_t kLdtAccess = 0x82;      // present LDT
inline constexpr uint32_t kBusyTssAccess = 0x8B;  // present busy 32-bit TSS (VM entry wants busy)

// What INIT leaves in the guest-state area and the CR read shadows. `cr0_shadow` is the
// guest's CR0 as it saw it before (for CD and NW); the guest's CR0/CR4 get the bits VMX
// forces: `cr0_rules` as for an unrestricted guest (PE and PG free), `cr4_rules` (VMXE).
struct InitState {
  GuestState guest;
  uint64_t cr0_shadow = 0;
  uint64_t cr4_shadow = 0;
};

constexpr InitState state_after_init(uint64_t previous_cr0_shadow,
                                     const arch::CrFixedBits& cr0_rules,
                                     const arch::CrFixedBits& cr4_rules) {
  InitState s;
  s.cr0_shadow = (previous_cr0_shadow & (kCr0Cd | kCr0Nw)) | kCr0Et;
  s.cr4_shadow = 0;
  GuestState& g = s.guest;
  g.cr0 = cr0_rules.apply(s.cr0_shadow);
  g.cr3 = 0;
  g.cr4 = cr4_rules.apply(0);
  g.dr7 = 0x400;
  g.rsp = 0;
  g.rip = 0xFFF0;
  g.rflags = 0x2;
  const Segment data{0, 0, 0xFFFF, kRealModeDataAccess};
  g.cs = Segment{0xF000, 0xFFFF'0000, 0xFFFF, kRealModeCodeAccess};
  g.ss = data;
  g.ds = data;
  g.es = data;
  g.fs = data;
  g.gs = data;
  g.ldtr = Segment{0, 0, 0xFFFF, kLdtAccess};
  g.tr = Segment{0, 0, 0xFFFF, kBusyTssAccess};
  g.gdtr = {0, 0xFFFF};
  g.idtr = {0, 0xFFFF};
  // DEBUGCTL, the SYSENTER MSRs and PAT are "all other MSRs", which INIT leaves unchanged:
  // not part of this state.
  g.efer = 0;  // leaves IA-32e mode: the entry control follows
  g.activity = ActivityState::kWaitForSipi;
  g.interruptibility = 0;  // in particular never blocking by SMI outside SMM
  g.pending_debug_exceptions = 0;
  return s;
}

// CS after a SIPI with `vector`: the processor starts at vector * 4096 in real mode.
constexpr Segment code_segment_after_sipi(uint8_t vector) {
  return Segment{static_cast<uint16_t>(vector << 8), uint64_t{vector} << 12, 0xFFFF,
                 kRealModeCodeAccess};
}

}  // namespace hv
