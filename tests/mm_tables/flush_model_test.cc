// Split and retype against the per-vCPU TLB model (tests/mm/tlb_model.h): the flush each
// returns is needed (without it a CPU keeps a translation the entries no longer give) and
// sufficient (after it, every CPU's translation is what the entries give).
#include <gtest/gtest.h>

#include <vector>

#include "fakes/host_table_memory.h"
#include "mm/identity_map.h"
#include "mm/live_split.h"
#include "mm/retype.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets
#include "mm/tlb_model.h"  // tests/mm
#include "mtrr_layout.h"

namespace {

using arch::EptLevel;
using arch::Gpa;
using arch::MemoryType;
using mm::AccessSet;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 0x1000'0000;  // inside a present 2 MiB RAM leaf

mm_test::MtrrLayout write_back() {
  mm_test::MtrrLayout l(39);
  l.cap(8).def(MemoryType::kWriteBack, true, false);
  return l;
}

struct Machine {
  mm_test::HostTableMemory memory;
  mm::MtrrState mtrrs = mm::MtrrState::from_msrs(write_back().msrs()).value();
  std::vector<mm::MemoryRange> map = {{Gpa(0), (512 * kMiB) / 4096, mm::MemoryKind::kRam}};
  mm::IdentityMap ept;
  arch::EptCapabilities caps = mm::test::ivy_bridge();
  mm::test::TlbModel tlb{2, caps};

  Machine() {
    mm::IdentityMapSpec spec{map.data(), map.size(), &mtrrs, caps};
    spec.max_ram_page = arch::kPageSize2M;
    ept = mm::build_identity_map(memory, spec).value();
  }
  mm::EptWalk at(uint64_t gpa) { return mm::walk(memory, ept.root, Gpa(gpa)).value(); }
  uint64_t& slot(uint64_t gpa) {
    const auto w = at(gpa);
    return memory.table(w.table)[w.index];
  }
  // Both CPUs read `pages` pages from `gpa` through the model.
  void use(uint64_t gpa, unsigned pages) {
    for (size_t cpu = 0; cpu < 2; ++cpu)
      for (unsigned p = 0; p < pages; ++p)
        tlb.access(cpu, gpa + p * 4096, slot(gpa + p * 4096), AccessSet(true, false, false));
  }
  bool every_cpu_matches(uint64_t gpa, unsigned pages) {
    for (size_t cpu = 0; cpu < 2; ++cpu)
      for (unsigned p = 0; p < pages; ++p)
        if (!tlb.cached_matches(cpu, gpa + p * 4096, at(gpa + p * 4096).entry))
          return false;
    return true;
  }
};

TEST(FlushModel, RetypeFlushIsNeededAndSufficient) {
  Machine m;
  m.use(kPage, 16);
  auto l = write_back();
  l.range(0, kPage, 64 * 1024, MemoryType::kUncacheable);  // part of the leaf: a split too
  const auto guest = mm::MtrrState::from_msrs(l.msrs()).value();
  const auto r = mm::retype_range(m.memory, m.ept.root, Gpa(kPage), 2 * kMiB, guest, m.caps);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r.value().flush.needed());
  EXPECT_FALSE(m.every_cpu_matches(kPage, 16))
      << "needed: without it both CPUs keep write-back for what is now uncacheable";
  m.tlb.apply(r.value().flush);
  m.use(kPage, 16);
  EXPECT_TRUE(m.every_cpu_matches(kPage, 16)) << "sufficient";
  EXPECT_EQ(m.at(kPage).entry.memory_type(), 0u);
}

TEST(FlushModel, RetypeToTheSameTypeAsksForNothingAndNothingIsStale) {
  Machine m;
  m.use(kPage, 4);
  const auto r = mm::retype_range(m.memory, m.ept.root, Gpa(kPage), 2 * kMiB, m.mtrrs, m.caps);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().flush.needed());
  EXPECT_TRUE(m.every_cpu_matches(kPage, 4));
}

// A split changes bit 7 of the parent, which the SDM's INVEPT guidelines say needs an
// invalidation, and split_live_leaf asks for one. The model cannot show it is needed: it
// caches per 4 KiB page, and every child translates exactly as the large page did, so
// nothing is stale before the flush either. What it shows: the split is safe to leave
// unflushed until the next change to a child, whose own flush (a context-wide INVEPT)
// covers the old large translation too.
TEST(FlushModel, ASplitLeavesNoCachedTranslationStaleAndAsksForTheSdmFlush) {
  Machine m;
  m.use(kPage, 512);  // every page of the 2 MiB leaf cached by both CPUs
  ASSERT_EQ(m.at(kPage).level, EptLevel::kPde);
  const auto split =
      mm::split_live_leaf(m.memory, mm::LiveEntry(m.slot(kPage)), EptLevel::kPde, m.caps);
  ASSERT_TRUE(split.ok());
  EXPECT_TRUE(split.value().flush.needed()) << "bit 7 of the PDE changed";
  ASSERT_EQ(m.at(kPage).level, EptLevel::kPte);
  EXPECT_TRUE(m.every_cpu_matches(kPage, 512)) << "before the flush: nothing stale";
  m.tlb.apply(split.value().flush);
  m.use(kPage, 512);
  EXPECT_TRUE(m.every_cpu_matches(kPage, 512));
}

}  // namespace
