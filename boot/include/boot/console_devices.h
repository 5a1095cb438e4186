// Whether the firmware's console output already goes to a serial port. OVMF (and many
// server firmwares) put a UART terminal into ConOut; while boot services run, writing our
// log lines to COM1 as well would print every line twice on the serial log.
#pragma once

#include "boot/uefi.h"

namespace boot {

// True if any device path in the ConOut variable ends in a UART node
// [UEFI spec "Globally Defined Variables"; "UART Device Path"]. We assume it is COM1.
bool firmware_console_uses_uart(EFI_SYSTEM_TABLE* system_table);

}  // namespace boot
