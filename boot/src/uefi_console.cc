#include "boot/uefi_console.h"

#include <cstddef>

namespace boot {

void uefi_console_sink(void* context, const char* line) {
  auto* out = static_cast<SIMPLE_TEXT_OUTPUT_INTERFACE*>(context);
  // OutputString takes NUL-terminated CHAR16; convert in chunks so a long line needs no
  // allocation.
  constexpr size_t kChunk = 64;
  CHAR16 buffer[kChunk + 1];
  size_t n = 0;
  for (const char* p = line;; ++p) {
    bool end = *p == '\0';
    if (!end) {
      buffer[n++] = static_cast<CHAR16>(static_cast<unsigned char>(*p));
    }
    if (end || n == kChunk) {
      buffer[n] = 0;
      out->OutputString(out, buffer);
      n = 0;
    }
    if (end) {
      break;
    }
  }
  CHAR16 newline[] = {'\r', '\n', 0};
  out->OutputString(out, newline);
}

}  // namespace boot
