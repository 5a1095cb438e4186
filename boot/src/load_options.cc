#include "boot/load_options.h"

namespace boot {

size_t utf16_to_ascii(const uint16_t* text, size_t units, char* out, size_t out_size) {
  if (out_size == 0) {
    return 0;
  }
  size_t n = 0;
  for (size_t i = 0; i < units && text[i] != 0 && n + 1 < out_size; ++i) {
    out[n++] = text[i] < 0x80 ? static_cast<char>(text[i]) : '?';
  }
  out[n] = '\0';
  return n;
}

const char* skip_program_name(const char* command_line) {
  const char* p = command_line;
  while (*p == ' ') {
    ++p;
  }
  const char* word_end = p;
  while (*word_end != '\0' && *word_end != ' ') {
    ++word_end;
  }
  // Only the shell's program name ends in ".efi"; a boot option may carry options alone.
  size_t length = static_cast<size_t>(word_end - p);
  bool is_program = length >= 4 && (word_end[-4] == '.') && (word_end[-3] | 0x20) == 'e' &&
                    (word_end[-2] | 0x20) == 'f' && (word_end[-1] | 0x20) == 'i';
  if (!is_program) {
    return p;
  }
  while (*word_end == ' ') {
    ++word_end;
  }
  return word_end;
}

EFI_STATUS read_load_options(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table, char* out,
                             size_t out_size) {
  if (out_size > 0) {
    out[0] = '\0';
  }
  EFI_GUID loaded_image_guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* loaded = nullptr;
  EFI_STATUS status = system_table->BootServices->HandleProtocol(image, &loaded_image_guid,
                                                                 reinterpret_cast<void**>(&loaded));
  if (EFI_ERROR(status)) {
    return status;
  }
  if (loaded->LoadOptions != nullptr && loaded->LoadOptionsSize >= sizeof(uint16_t)) {
    utf16_to_ascii(static_cast<const uint16_t*>(loaded->LoadOptions),
                   loaded->LoadOptionsSize / sizeof(uint16_t), out, out_size);
  }
  return EFI_SUCCESS;
}

}  // namespace boot
