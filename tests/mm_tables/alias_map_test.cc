// Backing a hole of the identity map (agevisor's own memory) with a dummy page.
#include "mm/alias_map.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fakes/host_table_memory.h"
#include "mm/entry_check.h"
#include "mm/identity_map.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets
#include "mtrr_layout.h"

namespace {

using arch::EptLevel;
using arch::Error;
using arch::Gpa;
using arch::Hpa;
using arch::MemoryType;
using mm_test::HostTableMemory;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kHidden = 64 * kMiB;               // a whole 2 MiB block of hypervisor memory
constexpr uint64_t kHiddenEdge = 66 * kMiB + 0x3000;  // hypervisor pages inside a RAM block

struct Machine {
  HostTableMemory memory;
  mm::MtrrState mtrrs;
  std::vector<mm::MemoryRange> map = {
      {Gpa(0), (64 * kMiB) / 4096, mm::MemoryKind::kRam},
      {Gpa(kHidden), (2 * kMiB + 0x5000) / 4096, mm::MemoryKind::kHypervisor},
      {Gpa(66 * kMiB + 0x5000), (62 * kMiB - 0x5000) / 4096, mm::MemoryKind::kRam}};
  mm::IdentityMap ept;
  arch::EptCapabilities caps = mm::test::ivy_bridge();
  Hpa dummy;

  Machine() {
    mm_test::MtrrLayout l(caps.max_phys_addr);
    l.cap(8).def(MemoryType::kWriteBack, true, false);
    mtrrs = mm::MtrrState::from_msrs(l.msrs()).value();
    mm::IdentityMapSpec spec{map.data(), map.size(), &mtrrs, caps};
    spec.max_ram_page = arch::kPageSize2M;
    ept = mm::build_identity_map(memory, spec).value();
    dummy = memory.allocate_table().value();
  }
  mm::EptWalk at(uint64_t gpa) { return mm::walk(memory, ept.root, Gpa(gpa)).value(); }
  arch::Result<bool> alias(uint64_t gpa) {
    return mm::map_alias_page(memory, ept.root, Gpa(gpa), dummy, MemoryType::kWriteBack, caps);
  }
};

TEST(AliasMap, HiddenPageFaultsInOnePageAtATimeToTheDummy) {
  Machine m;
  ASSERT_FALSE(m.at(kHidden + 0x1000).mapped()) << "hypervisor memory starts unmapped";
  ASSERT_EQ(m.at(kHidden).level, EptLevel::kPde) << "a whole hidden 2 MiB block: no PT yet";
  const auto r = m.alias(kHidden + 0x1234);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value());
  const auto w = m.at(kHidden + 0x1000);
  ASSERT_TRUE(w.mapped());
  EXPECT_EQ(w.level, EptLevel::kPte);
  EXPECT_EQ(w.entry.address(), m.dummy);
  EXPECT_EQ(w.entry.rwx(), 0b111u);
  EXPECT_EQ(w.entry.memory_type(), static_cast<uint64_t>(MemoryType::kWriteBack));
  EXPECT_FALSE(mm::is_tracked(w.entry));
  EXPECT_TRUE(mm::check_entry(w.entry, w.level, m.caps).ok());
  EXPECT_FALSE(m.at(kHidden).mapped()) << "only the touched page";
  EXPECT_FALSE(m.at(kHidden + 0x2000).mapped());
}

TEST(AliasMap, TheSecondPageOfABlockReusesItsTableAndARepeatIsNotAnError) {
  Machine m;
  ASSERT_TRUE(m.alias(kHidden).value());
  const uint64_t tables = m.memory.allocated();
  ASSERT_TRUE(m.alias(kHidden + 0x7000).value());
  EXPECT_EQ(m.memory.allocated(), tables) << "the page table is already there";
  const auto again = m.alias(kHidden + 0x7000);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value()) << "already mapped: nothing done";
}

TEST(AliasMap, HiddenPagesNextToRamUseTheExistingPageTable) {
  Machine m;
  ASSERT_EQ(m.at(kHiddenEdge).level, EptLevel::kPte);
  const uint64_t tables = m.memory.allocated();
  ASSERT_TRUE(m.alias(kHiddenEdge).value());
  EXPECT_EQ(m.memory.allocated(), tables);
  EXPECT_EQ(m.at(kHiddenEdge).entry.address(), m.dummy);
  EXPECT_EQ(m.at(66 * kMiB + 0x5000).entry.address().value(), 66 * kMiB + 0x5000)
      << "the RAM page beside it keeps its identity mapping";
}

TEST(AliasMap, MappedRamIsLeftAlone) {
  Machine m;
  const auto before = m.at(0x20'0000).entry;
  const auto r = m.alias(0x20'0000);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  EXPECT_EQ(m.at(0x20'0000).entry, before);
}

TEST(AliasMap, RefusesAnUnalignedTargetAndHandsBackTablesWhenMemoryRunsOut) {
  Machine m;
  EXPECT_EQ(mm::map_alias_page(m.memory, m.ept.root, Gpa(kHidden), Hpa(m.dummy.value() + 8),
                               MemoryType::kWriteBack, m.caps)
                .error(),
            Error::kInvalidArgument);
  m.memory.fail_allocation(1);
  EXPECT_EQ(m.alias(kHidden).error(), Error::kNoMemory);
  EXPECT_FALSE(m.at(kHidden).mapped()) << "nothing half-built is reachable";
  ASSERT_TRUE(m.alias(kHidden).value()) << "and the next attempt works";
}

TEST(AliasMap, TwoCpusFaultingOnOneHiddenPageMapItOnce) {
  for (int round = 0; round < 50; ++round) {
    Machine m;
    std::atomic<int> mapped_here{0};
    std::atomic<int> errors{0};
    auto cpu = [&] {
      const auto r = m.alias(kHidden + 0x3000);
      if (!r.ok())
        errors.fetch_add(1);
      else if (r.value())
        mapped_here.fetch_add(1);
    };
    std::thread a(cpu);
    std::thread b(cpu);
    a.join();
    b.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(mapped_here.load(), 1);
    EXPECT_EQ(m.at(kHidden + 0x3000).entry.address(), m.dummy);
  }
}

}  // namespace
