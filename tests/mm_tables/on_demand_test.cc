#include "mm/on_demand.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
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
using arch::MemoryType;
using mm_test::HostTableMemory;
using mm_test::MtrrLayout;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Machine {
  HostTableMemory memory;
  mm::MtrrState mtrrs;
  std::vector<mm::MemoryRange> map = {
      {Gpa(0), (2 * kGiB) / 4096, mm::MemoryKind::kRam},
      {Gpa(2 * kGiB), (2 * kMiB) / 4096, mm::MemoryKind::kHypervisor}};
  mm::IdentityMap ept;
  arch::EptCapabilities caps;

  explicit Machine(const arch::EptCapabilities& c) : caps(c) {
    MtrrLayout l(caps.max_phys_addr);
    l.cap(8).def(MemoryType::kWriteBack, true, false);
    l.range(0, 0x8'0040'0000, 4096, MemoryType::kUncacheable);  // a BAR's page
    l.range(1, 0xC'0000'0000, 1 * kGiB, MemoryType::kWriteCombining);
    mtrrs = mm::MtrrState::from_msrs(l.msrs()).value();
    mm::IdentityMapSpec spec{map.data(), map.size(), &mtrrs, caps};
    ept = mm::build_identity_map(memory, spec).value();
  }
  mm::EptWalk at(uint64_t gpa) { return mm::walk(memory, ept.root, Gpa(gpa)).value(); }
  void check_all(mm::EptWalk w) {
    const auto r = mm::check_entry(w.entry, w.level, caps);
    EXPECT_TRUE(r.ok()) << r.name();
  }
};

TEST(OnDemand, MapsTheLargestUniformPageAboveTheTop) {
  Machine m(mm::test::haswell_ad());
  ASSERT_EQ(m.ept.top, 4 * kGiB);
  EXPECT_FALSE(m.at(0xC'0000'1000).mapped());
  auto r = mm::map_on_demand(m.memory, m.ept, Gpa(0xC'0000'1000), m.mtrrs, m.caps);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().mapped_here);
  EXPECT_EQ(r.value().level, EptLevel::kPdpte);
  const mm::EptWalk w = m.at(0xC'0000'1000);
  EXPECT_TRUE(w.mapped());
  EXPECT_EQ(w.entry.address().value(), 0xC'0000'0000u);
  EXPECT_EQ(w.entry.memory_type(), 1u);
  EXPECT_FALSE(mm::is_tracked(w.entry));
  m.check_all(w);
}

TEST(OnDemand, MtrrBoundariesAndCapabilitiesShrinkThePage) {
  Machine ivy(mm::test::ivy_bridge());
  const uint64_t allocated = ivy.memory.allocated();
  auto r = mm::map_on_demand(ivy.memory, ivy.ept, Gpa(0x8'0040'0123), ivy.mtrrs, ivy.caps);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().level, EptLevel::kPte) << "the UC page splits its 2 MiB";
  EXPECT_EQ(ivy.memory.allocated() - allocated, 2u) << "a page directory and a page table";
  EXPECT_EQ(ivy.at(0x8'0040'0000).entry.memory_type(), 0u);
  ivy.check_all(ivy.at(0x8'0040'0000));
  EXPECT_FALSE(ivy.at(0x8'0040'1000).mapped()) << "only the faulting page's leaf";
  auto next = mm::map_on_demand(ivy.memory, ivy.ept, Gpa(0x8'0060'0000), ivy.mtrrs, ivy.caps);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next.value().level, EptLevel::kPde) << "no 1 GiB pages on Ivy Bridge";
  EXPECT_EQ(ivy.memory.allocated() - allocated, 2u) << "reuses the page directory";
}

TEST(OnDemand, RefusesBelowTheTopAndBeyondMaxPhysAddr) {
  Machine m(mm::test::ivy_bridge());
  EXPECT_EQ(mm::map_on_demand(m.memory, m.ept, Gpa(2 * kGiB), m.mtrrs, m.caps).error(),
            Error::kNotFound)
      << "the hypervisor's range is unmapped on purpose";
  EXPECT_EQ(mm::map_on_demand(m.memory, m.ept, Gpa(uint64_t{1} << 36), m.mtrrs, m.caps).error(),
            Error::kOutOfRange);
}

TEST(OnDemand, SecondFaultFindsTheMappingAndAllocatesNothing) {
  Machine m(mm::test::ivy_bridge());
  ASSERT_TRUE(mm::map_on_demand(m.memory, m.ept, Gpa(0x9'0000'0000), m.mtrrs, m.caps).ok());
  const uint64_t allocated = m.memory.allocated();
  auto again = mm::map_on_demand(m.memory, m.ept, Gpa(0x9'0000'0000), m.mtrrs, m.caps);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().mapped_here);
  EXPECT_EQ(m.memory.allocated(), allocated);
}

TEST(OnDemand, AllocationFailureChangesNothing) {
  Machine m(mm::test::ivy_bridge());
  m.memory.fail_allocation(2);  // the page directory succeeds, the page table fails
  EXPECT_EQ(mm::map_on_demand(m.memory, m.ept, Gpa(0x8'0040'0000), m.mtrrs, m.caps).error(),
            Error::kNoMemory);
  EXPECT_EQ(m.at(0x8'0040'0000).level, EptLevel::kPdpte);
  EXPECT_EQ(m.at(0x8'0040'0000).entry.raw(), 0u);
  EXPECT_EQ(m.memory.freed(), 1u) << "the unpublished page directory is handed back";
}

// Two vCPUs fault on the same unmapped page at once: one maps it, the other finds it, and
// the loser's tables are handed back. Meant for host-tsan.
TEST(OnDemand, ConcurrentFaultsMapOnce) {
  for (int round = 0; round < 50; ++round) {
    Machine m(mm::test::ivy_bridge());
    const Gpa gpa(0x8'0040'0000);  // needs a page directory and a page table
    std::atomic<int> ready{0};
    bool here[2] = {false, false};
    auto vcpu = [&](int id) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      auto r = mm::map_on_demand(m.memory, m.ept, gpa, m.mtrrs, m.caps);
      ASSERT_TRUE(r.ok());
      here[id] = r.value().mapped_here;
    };
    std::thread a(vcpu, 0), b(vcpu, 1);
    a.join();
    b.join();
    EXPECT_NE(here[0], here[1]) << "exactly one vCPU maps it";
    EXPECT_TRUE(m.at(gpa.value()).mapped());
    m.check_all(m.at(gpa.value()));
    EXPECT_EQ(m.memory.allocated() - m.ept.table_count(), 2u + m.memory.freed())
        << "the loser's tables, if it built any, were handed back";
  }
}

}  // namespace
