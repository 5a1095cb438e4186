// Everything agevisor keeps for one virtualized processor. Lives in memory that outlives
// the UEFI application (boot/ allocates it); the host finds it through GS base, and the
// VM-exit stub through the word at HOST_RSP.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/guest_gprs.h"
#include "arch/native_context.h"
#include "hv/guest_cpuid.h"
#include "hv/msr_bitmap.h"
#include "hv/vmx_control_negotiation.h"
#include "mm/tracking_mode.h"

namespace hv::target {

struct Vcpu {
  Vcpu* self = nullptr;  // at GS:0, so host code finds its vcpu without a global
  uint32_t apic_id = 0;
  uint64_t exit_count = 0;

  VmxControls controls;
  GuestCpuidPolicy cpuid_policy;
  MsrPolicy msr_policy;
  uint64_t supported_xcr0 = 0;  // CPUID.(0DH,0):EDX:EAX
  uint64_t cr0_fixed0 = 0, cr0_fixed1 = ~uint64_t{0};
  uint64_t cr4_fixed0 = 0, cr4_fixed1 = ~uint64_t{0};
  bool advanced_exit_info = false;
  mm::TrackingMode tracking_mode = mm::TrackingMode::kRwxStash;
  uint64_t eptp = 0;

  // Set by the host NMI handler when an NMI arrives in VMX root operation; the exit path
  // injects it into the guest, whose NMI it was.
  volatile bool nmi_pending = false;
  uint64_t mtrr_writes = 0;  // guest MTRR writes executed (retyping comes with mm part 2)

  uint64_t vmxon_phys = 0;
  uint64_t vmcs_phys = 0;
  // The firmware context before launch: where a failed first VM entry returns to.
  arch::NativeContext* native = nullptr;
};

}  // namespace hv::target
