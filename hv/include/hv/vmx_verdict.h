// Can agevisor run on this processor? One verdict with a one-line reason.
//
// Hard requirements (agevisor cannot work without them): an Intel processor with VMX, VMX
// allowed by IA32_FEATURE_CONTROL (or the MSR unlocked), the capability MSRs readable, a
// 64-bit host (exit control "host address-space size"), secondary controls with EPT (the
// whole point: access tracking in EPT) and unrestricted guest (the firmware guest runs
// real-mode code, e.g. AP startup after INIT-SIPI-SIPI), EPT with 4-level walks and
// write-back paging structures, and INVEPT (aging must flush before it trusts the next
// fault [SDM 3C "Invalidation of Cached EPT Information"]).
// Not required: VPID (without it every VM entry/exit flushes the TLB: slower, correct),
// EPT A/D (rwx-stash mode instead), the preemption timer, 2 MiB/1 GiB pages.
#pragma once

#include "hv/cpu_snapshot.h"

namespace hv {

struct VmxVerdict {
  bool usable = false;
  const char* reason = "";  // static text, one line; "VMX usable" when usable
};

VmxVerdict assess_vmx(const CpuSnapshot& snapshot);

}  // namespace hv
