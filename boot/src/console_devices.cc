#include "boot/console_devices.h"

#include <cstddef>
#include <cstdint>

namespace boot {
namespace {

constexpr uint8_t kEndType = 0x7F;
constexpr uint8_t kMessagingType = 0x03;
constexpr uint8_t kUartSubType = 0x0E;

}  // namespace

bool firmware_console_uses_uart(EFI_SYSTEM_TABLE* system_table) {
  alignas(8) uint8_t paths[1024];
  UINTN size = sizeof(paths);
  EFI_GUID global = EFI_GLOBAL_VARIABLE;
  CHAR16 name[] = {'C', 'o', 'n', 'O', 'u', 't', 0};
  EFI_STATUS status =
      system_table->RuntimeServices->GetVariable(name, &global, nullptr, &size, paths);
  if (EFI_ERROR(status)) {
    return false;
  }
  // A multi-instance device path: nodes of {type, subtype, 16-bit length}; end-of-instance
  // nodes (type 0x7F) separate the instances.
  size_t offset = 0;
  while (offset + 4 <= size) {
    uint8_t type = paths[offset];
    uint8_t sub_type = paths[offset + 1];
    size_t length = paths[offset + 2] | (size_t{paths[offset + 3]} << 8);
    if (type == kMessagingType && sub_type == kUartSubType) {
      return true;
    }
    if (length < 4 || (type == kEndType && sub_type == 0xFF)) {
      break;
    }
    offset += length;
  }
  return false;
}

}  // namespace boot
