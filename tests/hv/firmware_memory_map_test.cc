#include "hv/firmware_memory_map.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using hv::EfiMemoryType;
using hv::FirmwareRange;
using mm::MemoryKind;

FirmwareRange fw(uint64_t start, uint64_t end, EfiMemoryType type) {
  return {start, (end - start) / 4096, static_cast<uint32_t>(type)};
}

struct Expected {
  uint64_t start;
  uint64_t end;
  MemoryKind kind;
};

void expect_ranges(const std::vector<mm::MemoryRange>& got, size_t n,
                   const std::vector<Expected>& want) {
  ASSERT_EQ(n, want.size());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i].start.value(), want[i].start) << i;
    EXPECT_EQ(got[i].end().value(), want[i].end) << i;
    EXPECT_EQ(got[i].kind, want[i].kind) << i;
  }
}

TEST(FirmwareMemoryMap, KindsFollowTheUefiTypes) {
  EXPECT_EQ(hv::memory_kind_of(7), MemoryKind::kRam);   // conventional
  EXPECT_EQ(hv::memory_kind_of(4), MemoryKind::kRam);   // boot services data: the OS's later
  EXPECT_EQ(hv::memory_kind_of(10), MemoryKind::kRam);  // ACPI NVS is RAM the OS keeps
  EXPECT_EQ(hv::memory_kind_of(11), MemoryKind::kMmio);
  EXPECT_EQ(hv::memory_kind_of(0), MemoryKind::kReserved);
  EXPECT_EQ(hv::memory_kind_of(8), MemoryKind::kReserved) << "unusable (bad RAM)";
  EXPECT_EQ(hv::memory_kind_of(999), MemoryKind::kReserved) << "unknown types stay untracked";
}

TEST(FirmwareMemoryMap, SortsMergesAndCarvesOutTheHypervisor) {
  std::vector<FirmwareRange> firmware = {
      fw(0x100000, 0x800000, EfiMemoryType::kConventional),
      fw(0, 0xA0000, EfiMemoryType::kBootServicesData),
      fw(0x800000, 0x900000, EfiMemoryType::kRuntimeServicesData),
      fw(0x900000, 0x1000000, EfiMemoryType::kLoaderCode),
      fw(0xFEE00000, 0xFEE01000, EfiMemoryType::kMemoryMappedIo),
      fw(0xA0000, 0x100000, EfiMemoryType::kReserved),
  };
  const std::vector<FirmwareRange> hypervisor = {
      fw(0x880000, 0x8A0000, EfiMemoryType::kRuntimeServicesData),
      fw(0x810000, 0x820000, EfiMemoryType::kRuntimeServicesCode)};
  std::vector<mm::MemoryRange> out(16);
  const auto n = hv::build_memory_ranges(firmware.data(), firmware.size(), hypervisor.data(),
                                         hypervisor.size(), out.data(), out.size());
  ASSERT_TRUE(n.ok());
  expect_ranges(out, n.value(),
                {{0, 0xA0000, MemoryKind::kRam},
                 {0xA0000, 0x100000, MemoryKind::kReserved},
                 {0x100000, 0x810000, MemoryKind::kRam},
                 {0x810000, 0x820000, MemoryKind::kHypervisor},
                 {0x820000, 0x880000, MemoryKind::kRam},
                 {0x880000, 0x8A0000, MemoryKind::kHypervisor},
                 {0x8A0000, 0x1000000, MemoryKind::kRam},
                 {0xFEE00000, 0xFEE01000, MemoryKind::kMmio}});
}

TEST(FirmwareMemoryMap, RefusesOverlapsAndTooSmallOutput) {
  std::vector<FirmwareRange> overlapping = {fw(0, 0x2000, EfiMemoryType::kConventional),
                                            fw(0x1000, 0x3000, EfiMemoryType::kConventional)};
  std::vector<mm::MemoryRange> out(4);
  EXPECT_EQ(hv::build_memory_ranges(overlapping.data(), 2, nullptr, 0, out.data(), 4).error(),
            arch::Error::kInvalidArgument);
  std::vector<FirmwareRange> three = {fw(0, 0x1000, EfiMemoryType::kConventional),
                                      fw(0x1000, 0x2000, EfiMemoryType::kReserved),
                                      fw(0x2000, 0x3000, EfiMemoryType::kConventional)};
  EXPECT_EQ(hv::build_memory_ranges(three.data(), 3, nullptr, 0, out.data(), 2).error(),
            arch::Error::kOutOfRange);
}

}  // namespace
