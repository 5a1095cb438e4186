// The UEFI console (SystemTable->ConOut) as a log sink: ASCII lines converted to CHAR16.
// Valid only while boot services run; boot/ removes it before ExitBootServices.
#pragma once

#include "boot/uefi.h"

namespace boot {

// Matches hv::log::LineSink; `context` is the EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL*.
void uefi_console_sink(void* context, const char* line);

}  // namespace boot
