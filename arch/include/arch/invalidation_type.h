// INVEPT and INVVPID operand types (the register operand). [SDM 3C "INVEPT", "INVVPID"]
#pragma once

#include <cstdint>

namespace arch {

enum class InveptType : uint64_t {
  kSingleContext = 1,  // mappings tagged with the EPTP in the descriptor
  kAllContexts = 2,    // every EPTP ("global")
};

enum class InvvpidType : uint64_t {
  kIndividualAddress = 0,
  kSingleContext = 1,
  kAllContexts = 2,
  kSingleContextRetainingGlobals = 3,
};

// The 128-bit descriptors both instructions read from memory.
struct InveptDescriptor {
  uint64_t eptp = 0;
  uint64_t reserved = 0;  // must be 0
};

struct InvvpidDescriptor {
  uint64_t vpid = 0;  // bits 15:0; bits 63:16 must be 0
  uint64_t linear_address = 0;
};

static_assert(sizeof(InveptDescriptor) == 16 && sizeof(InvvpidDescriptor) == 16);

}  // namespace arch
