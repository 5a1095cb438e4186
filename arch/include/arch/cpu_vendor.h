// CPUID leaf 0: the vendor string and the highest basic leaf. [SDM 2A "CPUID"]
#pragma once

#include <array>
#include <cstdint>

#include "arch/cpu_io.h"

namespace arch {

enum class VendorId : uint8_t { kUnknown, kIntel, kAmd };

struct CpuVendor {
  std::array<char, 13> name{};  // EBX, EDX, ECX as ASCII, NUL-terminated
  VendorId id = VendorId::kUnknown;
  uint32_t max_basic_leaf = 0;  // EAX: higher basic leaves do not exist

  constexpr bool is_intel() const { return id == VendorId::kIntel; }

  static constexpr CpuVendor from_cpuid(const CpuidResult& leaf0) {
    CpuVendor v;
    v.max_basic_leaf = leaf0.eax;
    const uint32_t words[3] = {leaf0.ebx, leaf0.edx, leaf0.ecx};  // the string's order
    for (unsigned i = 0; i < 12; ++i)
      v.name[i] = static_cast<char>((words[i / 4] >> (8 * (i % 4))) & 0xFF);
    v.name[12] = '\0';
    if (equals(v.name, "GenuineIntel"))
      v.id = VendorId::kIntel;
    else if (equals(v.name, "AuthenticAMD"))
      v.id = VendorId::kAmd;
    return v;
  }

 private:
  static constexpr bool equals(const std::array<char, 13>& a, const char* b) {
    for (unsigned i = 0; i < 13; ++i) {
      if (a[i] != b[i])
        return false;
      if (b[i] == '\0')
        return true;
    }
    return true;
  }
};

// Leaf 0 as "GenuineIntel" and "AuthenticAMD" processors report it (max leaf varies).
inline constexpr CpuidResult kGenuineIntelLeaf0{0xD, 0x756E6547, 0x6C65746E, 0x49656E69};
inline constexpr CpuidResult kAuthenticAmdLeaf0{0x10, 0x68747541, 0x444D4163, 0x69746E65};

static_assert(CpuVendor::from_cpuid(kGenuineIntelLeaf0).is_intel());
static_assert(CpuVendor::from_cpuid(kAuthenticAmdLeaf0).id == VendorId::kAmd);

}  // namespace arch
