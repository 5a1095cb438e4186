// The guest-state area as plain values: captured from the running firmware before launch,
// read back from the VMCS after a failed entry, checked by check_guest_state().
#pragma once

#include <cstdint>

#include "arch/segment_access_rights.h"

namespace hv {

struct SegmentState {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0;
  arch::SegmentAccessRights access_rights;
};

struct GuestState {
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t dr7 = 0x400;
  uint64_t rsp = 0;
  uint64_t rip = 0;
  uint64_t rflags = 0x2;

  SegmentState es, cs, ss, ds, fs, gs, ldtr, tr;
  uint64_t gdtr_base = 0;
  uint32_t gdtr_limit = 0;
  uint64_t idtr_base = 0;
  uint32_t idtr_limit = 0;

  uint64_t debugctl = 0;
  uint64_t pat = 0x0007040600070406;  // the power-on value
  uint64_t efer = 0;
  uint32_t sysenter_cs = 0;
  uint64_t sysenter_esp = 0;
  uint64_t sysenter_eip = 0;

  uint32_t interruptibility = 0;
  uint32_t activity_state = 0;  // 0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI
  uint64_t pending_debug_exceptions = 0;
  uint64_t vmcs_link_pointer = ~uint64_t{0};
};

}  // namespace hv
