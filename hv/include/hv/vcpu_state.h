// The per-processor state the exit handlers need, free of anything target-only, so the
// dispatcher runs in host tests over a fake VMCS.
#pragma once

#include <cstdint>

#include "hv/acpi_sleep.h"
#include "hv/guest_cpuid.h"
#include "hv/msr_bitmap.h"
#include "mm/tracking_mode.h"

namespace hv {

struct VcpuState {
  uint32_t apic_id = 0;
  uint64_t exit_count = 0;

  GuestCpuidPolicy cpuid_policy;
  MsrPolicy msr_policy;
  uint64_t supported_xcr0 = 0;  // CPUID.(0DH,0):EDX:EAX
  uint64_t cr0_fixed0 = 0;
  uint64_t cr0_fixed1 = ~uint64_t{0};
  uint64_t cr4_fixed0 = 0;
  uint64_t cr4_fixed1 = ~uint64_t{0};
  bool advanced_exit_info = false;
  mm::TrackingMode tracking_mode = mm::TrackingMode::kRwxStash;
  // The ACPI PM1 control ports agevisor intercepts (I/O bitmap) to see sleep entries.
  SleepControlPorts sleep_ports;

  // Set by the host NMI handler when an NMI arrives in VMX root operation; the exit path
  // injects it into the guest, whose NMI it was.
  volatile bool nmi_pending = false;
  uint64_t mtrr_writes = 0;  // guest MTRR writes executed (each retypes the EPT)
  // INIT parked this CPU in wait-for-SIPI. Kept here rather than read back from the VMCS:
  // Bochs (2.7 and 2.8) saves the activity state of a SIPI exit as active.
  bool waiting_for_sipi = false;
  // NMI exiting with virtual NMIs (more than one CPU): the processor tracks the guest's NMI
  // blocking (injection sets it, the guest's IRET clears it) and NMI-window exiting tells
  // when a pending NMI can go in. Without NMI exiting guest NMIs never exit at all.
  bool virtual_nmis = false;
};

}  // namespace hv
