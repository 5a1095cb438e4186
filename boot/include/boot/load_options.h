// The image's load options (EFI_LOADED_IMAGE_PROTOCOL.LoadOptions): CHAR16 text, as the
// UEFI shell passes the command line (program name first), converted to ASCII for
// hv::parse_options.
#pragma once

#include <cstddef>
#include <cstdint>

#include "boot/uefi.h"

namespace boot {

// Converts `units` UTF-16 code units to ASCII into `out` (always NUL-terminated, at most
// `out_size - 1` characters). Stops at the first NUL; a non-ASCII unit becomes '?'.
// Returns the number of characters written.
size_t utf16_to_ascii(const uint16_t* text, size_t units, char* out, size_t out_size);

// Skips the program name (the first word) that the UEFI shell puts in front of the options.
const char* skip_program_name(const char* command_line);

// Reads the load options of `image` into `out` (empty string if there are none).
EFI_STATUS read_load_options(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table, char* out,
                             size_t out_size);

}  // namespace boot
