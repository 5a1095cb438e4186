// Starting agevisor on every processor from efi_main.
#pragma once

#include "boot/uefi.h"
#include "hv/cpu_snapshot.h"
#include "mm/tracking_mode.h"

namespace boot {

struct StartOptions {
  mm::TrackingMode tracking_mode = mm::TrackingMode::kRwxStash;
  bool hide_hypervisor = false;
  bool corrupt_guest_state = false;  // debug: make the first VM entry fail
  bool fail_last_cpu = false;        // debug: make the last CPU's first VM entry fail
  bool boot_cpu_only = false;        // leave the application processors alone
  bool console_mirrors_serial = false;
  uint32_t period_ms = 0;  // periodic aging (0: off)
};

// Copies the image into runtime-services memory and rebases it, allocates the hypervisor's
// memory, prepares VMX in the copy and launches, on the boot CPU and then on every enabled
// application processor (EFI MP services). EFI_SUCCESS: this function returns as the guest
// of agevisor on every CPU. Any error, on any CPU: VMX is off again on every CPU,
// everything is freed, the firmware goes on.
EFI_STATUS start_hypervisor(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table,
                            const hv::CpuSnapshot& snapshot, const StartOptions& options);

}  // namespace boot
