// Taking the processors under VMX. boot/ calls prepare_launch() on the boot CPU in the
// relocated copy of the image (so every host address points into memory that outlives the
// application), then runs agevisor_vmlaunch() from the original image: a successful launch
// returns 0 there, as the guest. Then each application processor, started through MP
// services, calls prepare_cpu_launch() in the copy and agevisor_vmlaunch(). The internal
// start-up hypercalls end it: agevisor_startup_done() when every CPU runs under agevisor,
// agevisor_leave() to undo it on every CPU when one failed [docs/smp.md].
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/result.h"
#include "hv/cpu_snapshot.h"
#include "mm/memory_range.h"
#include "mm/tracking_mode.h"

namespace hv::target {

// Contiguous 4 KiB pages, zeroed, identity mapped, of a type the OS does not reclaim.
struct HypervisorRegion {
  uint64_t base = 0;
  uint64_t pages = 0;
};

struct LaunchRequest {
  const CpuSnapshot* snapshot = nullptr;
  mm::TrackingMode tracking_mode = mm::TrackingMode::kRwxStash;
  bool hide_hypervisor = false;
  // Debug option: one guest-state field is made illegal, so the first VM entry fails and
  // the failure path (decode, report, undo) runs end to end.
  bool corrupt_guest_state = false;
  uint64_t memory_top = 0;  // end of the highest range in the firmware memory map
  // The machine's memory, sorted, non-overlapping, with the hypervisor's own ranges marked
  // (hv/firmware_memory_map.h). Read during prepare_launch() only.
  const mm::MemoryRange* ranges = nullptr;
  size_t range_count = 0;
  uint64_t pool_pages = 0;  // EPT tables and tracking metadata (mm::pool_pages_needed)
  uint32_t period_ms = 0;   // periodic aging (0: off)
  uint64_t tsc_hz = 0;      // measured at start-up, for the preemption-timer period
  uint64_t acpi_rsdp = 0;   // the firmware's ACPI RSDP (0: none), for the PM1 control ports
  uint32_t cpu_count = 1;   // CPUs to run on (the boot CPU is 0), at most kMaxCpus
  // Debug option: the last CPU's first VM entry is made to fail, so every CPU already launched is
  // undone (the leave path, end to end).
  bool fail_last_cpu = false;
  HypervisorRegion region;
};

inline constexpr uint32_t kMaxLaunchCpus = 64;

// Pages prepare_launch() needs from the region for `cpus` CPUs, the EPT pool included.
uint64_t region_pages_needed(uint64_t memory_top, bool host_pages_1g, uint64_t pool_pages,
                             uint32_t cpus);

// Enables VMX (IA32_FEATURE_CONTROL, CR0/CR4 fixed bits, VMXON), builds the EPT, the host
// tables and the VMCS, checks the guest state, and leaves the VMCS current. On error nothing
// stays enabled: VMXOFF has run and CR4.VMXE is clear again.
// What is shared by every CPU is built here too (host page tables, EPT, tracker); the
// boot CPU is CPU 0.
arch::Result<void> prepare_launch(const LaunchRequest& request);

// The same for CPU `index` (1 .. cpu_count-1), on that CPU, after prepare_launch().
arch::Result<void> prepare_cpu_launch(uint32_t index);

// After agevisor_vmlaunch() returned `status` on CPU `index` (1 VMfailInvalid, 2
// VMfailValid, 3 failed VM entry already reported by the exit path): logs the decoded
// failure and leaves VMX.
void finish_failed_launch(int status, uint32_t index);

}  // namespace hv::target

extern "C" {
__attribute__((visibility("hidden"))) int agevisor_vmlaunch();
// The internal start-up hypercalls (hv/hypercall_abi.h), from the guest: 0 on success.
// agevisor_leave() returns natively, with agevisor gone from every CPU.
__attribute__((visibility("hidden"))) uint64_t agevisor_startup_done();
__attribute__((visibility("hidden"))) uint64_t agevisor_leave();
}
