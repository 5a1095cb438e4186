#include "hv/host_page_tables.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

constexpr uint64_t kFakePhys = 0x7000'0000;

struct Tables {
  explicit Tables(size_t n) : count(n) {
    memory.reset(static_cast<uint64_t*>(std::aligned_alloc(4096, n * 4096)));
    std::memset(memory.get(), 0, n * 4096);
  }
  // Walks the map like the MMU: returns the physical address `va` maps to, or ~0 if unmapped.
  uint64_t translate(uint64_t cr3, uint64_t va) const {
    auto table = [&](uint64_t phys) { return memory.get() + (phys - kFakePhys) / 8; };
    const uint64_t mask = 0x000F'FFFF'FFFF'F000;
    uint64_t e = table(cr3 & mask)[(va >> 39) & 511];
    if (!(e & 1))
      return ~0ull;
    e = table(e & mask)[(va >> 30) & 511];
    if (!(e & 1))
      return ~0ull;
    if (e & 0x80)
      return (e & 0x000F'FFFF'C000'0000) | (va & 0x3FFF'FFFF);
    e = table(e & mask)[(va >> 21) & 511];
    if (!(e & 1) || !(e & 0x80))
      return ~0ull;
    return (e & 0x000F'FFFF'FFE0'0000) | (va & 0x1F'FFFF);
  }
  size_t count;
  std::unique_ptr<uint64_t, decltype(&std::free)> memory{nullptr, &std::free};
};

TEST(HostPageTables, TwoMegabytePagesMapEveryAddressToItself) {
  constexpr uint64_t kCover = 5ull << 30;
  const size_t n = hv::host_page_table_count(kCover, false);
  EXPECT_EQ(n, 2u + 5u);
  Tables t(n);
  const auto cr3 = hv::build_host_identity_map(t.memory.get(), n, kFakePhys, kCover, false);
  ASSERT_TRUE(cr3.ok());
  const uint64_t addresses[] = {0x0, 0x1234, 0xFEE0'0000, 0xFFFF'FFFF, 0x1'2345'6789, kCover - 1};
  for (uint64_t va : addresses) {
    EXPECT_EQ(t.translate(cr3.value(), va), va) << std::hex << va;
  }
  EXPECT_EQ(t.translate(cr3.value(), kCover), ~0ull) << "nothing beyond the cover";
}

TEST(HostPageTables, GigabytePagesNeedOnlyTwoTables) {
  constexpr uint64_t kCover = 512ull << 30;
  EXPECT_EQ(hv::host_page_table_count(kCover, true), 2u);
  Tables t(2);
  const auto cr3 = hv::build_host_identity_map(t.memory.get(), 2, kFakePhys, kCover, true);
  ASSERT_TRUE(cr3.ok());
  EXPECT_EQ(t.translate(cr3.value(), 0x7F'1234'5678ull), 0x7F'1234'5678ull);
  EXPECT_EQ(t.translate(cr3.value(), kCover - 1), kCover - 1);
}

TEST(HostPageTables, EntriesUsePatIndexZeroAndAreSupervisorOnly) {
  Tables t(3);
  ASSERT_TRUE(hv::build_host_identity_map(t.memory.get(), 3, kFakePhys, 1ull << 30, false).ok());
  const uint64_t pde = t.memory.get()[2 * 512 + 7];
  EXPECT_EQ(pde & 0x1F, 0x3u) << "P and RW; US, PWT, PCD clear";
  EXPECT_EQ(pde & (1ull << 12), 0u) << "PAT bit of a 2 MiB page clear: WB via the MTRRs";
}

TEST(HostPageTables, RefusesBadRequests) {
  Tables t(3);
  EXPECT_EQ(hv::build_host_identity_map(t.memory.get(), 3, kFakePhys, 2ull << 30, false).error(),
            arch::Error::kNoMemory);
  EXPECT_EQ(
      hv::build_host_identity_map(t.memory.get(), 3, kFakePhys + 8, 1ull << 30, false).error(),
      arch::Error::kInvalidArgument);
  EXPECT_EQ(hv::build_host_identity_map(t.memory.get(), 3, kFakePhys, 513ull << 30, true).error(),
            arch::Error::kInvalidArgument);
  EXPECT_EQ(hv::build_host_identity_map(t.memory.get(), 3, kFakePhys, 0, true).error(),
            arch::Error::kInvalidArgument);
}

}  // namespace
