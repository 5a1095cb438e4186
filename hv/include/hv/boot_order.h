// The firmware's boot manager data, decoded without the firmware: BootOrder, BootCurrent and
// EFI_LOAD_OPTION (the value of a Boot#### variable) [UEFI 2.10 "Load Options", "Globally
// Defined Variables"]. agevisor uses it when it is itself the boot loader (started from a
// Boot#### entry, or as \EFI\BOOT\BOOTX64.EFI): it then starts the next entry of BootOrder.
// Pure, so host tests check it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

// The index in `order` of the entry after `current`, or -1 when `current` is not there or
// is the last one.
constexpr int next_boot_entry(const uint16_t* order, size_t count, uint16_t current) {
  for (size_t i = 0; i + 1 < count; ++i) {
    if (order[i] == current)
      return static_cast<int>(i + 1);
  }
  return -1;
}

// An EFI_LOAD_OPTION, in place: UINT32 Attributes, UINT16 FilePathListLength, CHAR16
// Description[] (NUL-terminated), EFI_DEVICE_PATH FilePathList[], UINT8 OptionalData[].
struct LoadOptionView {
  uint32_t attributes = 0;
  const uint8_t* description = nullptr;  // CHAR16 text, unaligned
  size_t description_units = 0;          // without the NUL
  const uint8_t* file_path = nullptr;
  size_t file_path_bytes = 0;
  const uint8_t* optional_data = nullptr;
  size_t optional_data_bytes = 0;

  static constexpr uint32_t kActive = 0x1;
};

// false when `size` bytes cannot be a load option (too short, no NUL in the description,
// a file path list longer than what is left).
constexpr bool parse_load_option(const uint8_t* data, size_t size, LoadOptionView* out) {
  if (size < 6)
    return false;
  LoadOptionView v;
  v.attributes = static_cast<uint32_t>(data[0]) | static_cast<uint32_t>(data[1]) << 8 |
                 static_cast<uint32_t>(data[2]) << 16 | static_cast<uint32_t>(data[3]) << 24;
  const size_t path_bytes = static_cast<size_t>(data[4]) | static_cast<size_t>(data[5]) << 8;
  size_t at = 6;
  v.description = data + at;
  for (;;) {
    if (at + 2 > size)
      return false;
    if (data[at] == 0 && data[at + 1] == 0)
      break;
    ++v.description_units;
    at += 2;
  }
  at += 2;
  if (path_bytes > size - at)
    return false;
  v.file_path = data + at;
  v.file_path_bytes = path_bytes;
  at += path_bytes;
  v.optional_data = data + at;
  v.optional_data_bytes = size - at;
  *out = v;
  return true;
}

// The text of the media file-path nodes (type 4, subtype 4) of a device path, concatenated
// and converted to ASCII ('?' for anything else), lower-cased, with '/' as '\'. Stops at
// the first end node or a malformed one. Returns the characters written (NUL-terminated).
constexpr size_t file_path_text(const uint8_t* path, size_t bytes, char* out, size_t out_size) {
  size_t n = 0;
  if (out_size == 0)
    return 0;
  size_t at = 0;
  while (at + 4 <= bytes) {
    const uint8_t type = path[at];
    const uint8_t subtype = path[at + 1];
    const size_t length = static_cast<size_t>(path[at + 2]) | static_cast<size_t>(path[at + 3])
                                                                  << 8;
    if (type == 0x7F || length < 4 || length > bytes - at)
      break;
    if (type == 4 && subtype == 4) {
      for (size_t i = at + 4; i + 1 < at + length; i += 2) {
        const unsigned unit = path[i] | static_cast<unsigned>(path[i + 1]) << 8;
        if (unit == 0)
          break;
        char c = unit < 0x80 ? static_cast<char>(unit) : '?';
        if (c >= 'A' && c <= 'Z')
          c = static_cast<char>(c - 'A' + 'a');
        if (c == '/')
          c = '\\';
        // Consecutive nodes may each carry a separator: never two in a row.
        if (c == '\\' && n > 0 && out[n - 1] == '\\')
          continue;
        if (n + 1 < out_size)
          out[n++] = c;
      }
    }
    at += length;
  }
  out[n] = '\0';
  return n;
}

}  // namespace hv
