#include "mm/table_memory.h"

#include <gtest/gtest.h>

#include <set>

#include "fakes/host_table_memory.h"

namespace {

using arch::Error;
using arch::Hpa;
using arch::Result;
using mm_test::HostTableMemory;

struct NoAllocation {
  uint64_t* table(Hpa);
};
static_assert(!mm::TableMemory<NoAllocation>, "a seam must be able to allocate");

// A generic user of the seam: a chain of `depth` tables, each linked from entry 0 of the
// previous one. Returns the root.
template <mm::TableMemory Memory>
Result<Hpa> build_chain(Memory& memory, int depth) {
  const Hpa root = TRY(memory.allocate_table());
  Hpa current = root;
  for (int level = 1; level < depth; ++level) {
    const Hpa next = TRY(memory.allocate_table());
    memory.table(current)[0] = next.value() | 0x7;
    current = next;
  }
  return root;
}

TEST(HostTableMemory, AllocatesZeroedAlignedDistinctTablesAtFakeAddresses) {
  HostTableMemory memory;
  std::set<uint64_t> seen;
  for (int i = 0; i < 64; ++i) {
    auto hpa = memory.allocate_table();
    ASSERT_TRUE(hpa.ok());
    EXPECT_TRUE(hpa.value().is_aligned_to(arch::kPageSize4K));
    EXPECT_GE(hpa.value().value(), HostTableMemory::kBase);
    EXPECT_TRUE(seen.insert(hpa.value().value()).second);
    uint64_t* table = memory.table(hpa.value());
    EXPECT_NE(reinterpret_cast<uint64_t>(table), hpa.value().value()) << "fake addresses";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(table) % 4096, 0u);
    for (size_t e = 0; e < mm::kTableEntries; ++e)
      ASSERT_EQ(table[e], 0u);
    for (size_t e = 0; e < mm::kTableEntries; ++e)
      table[e] = e + 1;  // dirty it, so the next table's zeroing check means something
  }
  EXPECT_EQ(memory.allocated(), 64u);
  EXPECT_EQ(memory.attempts(), 64u);
}

TEST(HostTableMemory, TablesKeepTheirContents) {
  HostTableMemory memory;
  auto root = build_chain(memory, 4);
  ASSERT_TRUE(root.ok());
  Hpa current = root.value();
  for (int level = 1; level < 4; ++level) {
    const uint64_t entry = memory.table(current)[0];
    EXPECT_EQ(entry & 0x7, 0x7u);
    current = Hpa(entry & ~uint64_t{0xFFF});
    EXPECT_TRUE(memory.contains(current));
  }
  EXPECT_EQ(memory.table(current)[0], 0u) << "the last table is still empty";
}

TEST(HostTableMemory, FailAllocationFailsExactlyTheNthCall) {
  HostTableMemory memory;
  memory.fail_allocation(3);
  EXPECT_TRUE(memory.allocate_table().ok());
  EXPECT_TRUE(memory.allocate_table().ok());
  EXPECT_EQ(memory.allocate_table().error(), Error::kNoMemory);
  EXPECT_TRUE(memory.allocate_table().ok());
  EXPECT_EQ(memory.allocated(), 3u);
  EXPECT_EQ(memory.attempts(), 4u);
  EXPECT_TRUE(build_chain(memory, 3).ok()) << "the injected failure fired once";
}

TEST(HostTableMemory, FailAfterFailsEveryLaterCallUntilCleared) {
  HostTableMemory memory;
  memory.fail_after(2);
  EXPECT_EQ(build_chain(memory, 3).error(), Error::kNoMemory);
  EXPECT_EQ(memory.allocated(), 2u);
  EXPECT_EQ(memory.allocate_table().error(), Error::kNoMemory);
  memory.clear_failures();
  EXPECT_TRUE(memory.allocate_table().ok());
}

TEST(HostTableMemory, FailureCanBeInjectedAtEveryAllocation) {
  for (uint64_t n = 1; n <= 5; ++n) {
    HostTableMemory memory;
    memory.fail_allocation(n);
    EXPECT_EQ(build_chain(memory, 5).error(), Error::kNoMemory) << n;
    EXPECT_EQ(memory.allocated(), n - 1) << n;
  }
}

TEST(HostTableMemory, CapacityExhaustionIsNoMemory) {
  HostTableMemory memory(2);
  EXPECT_TRUE(memory.allocate_table().ok());
  EXPECT_TRUE(memory.allocate_table().ok());
  EXPECT_EQ(memory.allocate_table().error(), Error::kNoMemory);
}

TEST(HostTableMemoryDeathTest, UnknownAddressPanics) {
  HostTableMemory memory;
  auto hpa = memory.allocate_table();
  ASSERT_TRUE(hpa.ok());
  EXPECT_DEATH(memory.table(hpa.value().offset(4096)), "contains");
  EXPECT_DEATH(memory.table(hpa.value().offset(8)), "contains");
}

}  // namespace
