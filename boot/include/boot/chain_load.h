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

// The watchdog is off while agevisor itself runs (it may run longer than a boot option is
// given on a slow machine or emulator).
void disable_watchdog(EFI_SYSTEM_TABLE* system_table);

}  // namespace boot
