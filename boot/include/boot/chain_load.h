// Handing over: once agevisor runs, start the next EFI image (a boot loader, a kernel with an
// EFI stub, a tool) named in agevisor's load options, as the guest. The image is a file on
// the device agevisor itself was loaded from.
#pragma once

#include <cstddef>

#include "boot/uefi.h"

namespace boot {

// Loads `path` (`path_length` bytes, '/' or '\' separators, leading '\' optional) from
// agevisor's device and starts it with load options "<path> <options>" (as the shell would
// pass them). The boot manager's watchdog (5 minutes) is re-armed first, as before any
// boot option. Returns the image's exit status, or why it could not be loaded.
EFI_STATUS chain_load(EFI_HANDLE agevisor_image, EFI_SYSTEM_TABLE* system_table, const char* path,
                      size_t path_length, const char* options);

// When agevisor is itself the boot loader (BootCurrent's Boot#### names agevisor's own file,
// or a whole-disk entry found it at the removable-media path \EFI\BOOT\BOOTX64.EFI), starts
// the entry after it in BootOrder with that entry's optional data as load options, and
// returns its status. *started is false (and EFI_SUCCESS returned) when agevisor was not
// started by the boot manager: the caller just returns.
EFI_STATUS chain_next_boot_entry(EFI_HANDLE agevisor_image, EFI_SYSTEM_TABLE* system_table,
                                 bool* started);

// The watchdog is off while agevisor itself runs (it may run longer than a boot option is
// given on a slow machine or emulator).
void disable_watchdog(EFI_SYSTEM_TABLE* system_table);

}  // namespace boot
