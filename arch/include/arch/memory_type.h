// Memory types as the MTRRs, PAT, EPT leaf entries and IA32_VMX_BASIC encode them.
// [SDM 3A "Memory Types and Their Properties"]
#pragma once

#include <cstdint>

namespace arch {

enum class MemoryType : uint8_t {
  kUncacheable = 0,
  kWriteCombining = 1,
  kWriteThrough = 4,
  kWriteProtected = 5,
  kWriteBack = 6,
};

// Short names as the SDM abbreviates them; encodings 2, 3 and 7+ are reserved.
constexpr const char* memory_type_name(uint64_t encoding) {
  switch (encoding) {
    case 0:
      return "UC";
    case 1:
      return "WC";
    case 4:
      return "WT";
    case 5:
      return "WP";
    case 6:
      return "WB";
    default:
      return "reserved";
  }
}

}  // namespace arch
