#include "mm/fault_walk.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "aging_map.h"
#include "mm/ept_walk.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets

namespace {

using arch::EptEntry;
using arch::EptLevel;
using arch::Gpa;
using mm::AccessSet;
using mm::FaultResolution;
using namespace mm::test;

constexpr uint64_t k4K = arch::kPageSize4K;
const AccessSet kRead(true, false, false);
const AccessSet kWrite(false, true, false);

mm::EptWalk leaf_at(AgingMap& m, uint64_t gpa) {
  return mm::walk(m.memory, m.map.root, Gpa(gpa)).value();
}

mm::ResolverPolicy split_on_write() {
  mm::ResolverPolicy p;
  p.split_large_for_write = true;
  return p;
}

TEST(ResolveFaultAt, WriteToATrackedLargeLeafRestoresTheFourKilobyteChild) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  const uint64_t gpa = kRamStart + 9 * k4K;
  const auto r =
      mm::resolve_fault_at(m->memory, m->map.root, Gpa(gpa), kWrite, m->caps, split_on_write())
          .value();
  EXPECT_EQ(r.splits, 1u);
  EXPECT_TRUE(r.access_restored);
  EXPECT_FALSE(r.fell_back);
  EXPECT_EQ(r.level, EptLevel::kPte);
  EXPECT_TRUE(r.last.has(FaultResolution::kWriteRestored));
  EXPECT_TRUE(r.flush.needed());  // the resolver made the leaf present before splitting it
  EXPECT_TRUE(leaf_at(*m, gpa).entry.writable());
  EXPECT_FALSE(leaf_at(*m, gpa + k4K).entry.writable());  // its siblings stay withheld
  EXPECT_TRUE(mm::is_hw_present(leaf_at(*m, gpa + k4K).entry));
}

TEST(ResolveFaultAt, WithoutSplitPolicyRestoresWOnTheLargeLeaf) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  const auto r =
      mm::resolve_fault_at(m->memory, m->map.root, Gpa(kRamStart), kWrite, m->caps).value();
  EXPECT_EQ(r.splits, 0u);
  EXPECT_EQ(r.level, EptLevel::kPde);
  EXPECT_TRUE(leaf_at(*m, kRamStart + 100 * k4K).entry.writable());
}

TEST(ResolveFaultAt, AnExhaustedPoolFallsBackToTheLargeLeaf) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  m->memory.fail_after(0);
  const auto r = mm::resolve_fault_at(m->memory, m->map.root, Gpa(kRamStart + 3 * k4K), kWrite,
                                      m->caps, split_on_write())
                     .value();
  EXPECT_TRUE(r.fell_back);
  EXPECT_EQ(r.splits, 0u);
  EXPECT_EQ(r.level, EptLevel::kPde);
  EXPECT_TRUE(r.last.has(FaultResolution::kWriteRestored));
  EXPECT_TRUE(leaf_at(*m, kRamStart).entry.writable());
}

TEST(ResolveFaultAt, ReadsAndSpuriousFaultsNeedNoSplit) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  auto r = mm::resolve_fault_at(m->memory, m->map.root, Gpa(kRamLargeEnd), kRead, m->caps,
                                split_on_write())
               .value();
  EXPECT_TRUE(r.last.has(FaultResolution::kAccessRestored));
  EXPECT_EQ(r.splits, 0u);
  r = mm::resolve_fault_at(m->memory, m->map.root, Gpa(kRamLargeEnd), kRead, m->caps).value();
  EXPECT_TRUE(r.last.has(FaultResolution::kSpurious));
}

TEST(ResolveFaultAt, UnmappedAddressesAreTheCallersBusiness) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  const auto r =
      mm::resolve_fault_at(m->memory, m->map.root, Gpa(uint64_t{1} << 40), kRead, m->caps);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), arch::Error::kNotFound);
  EXPECT_EQ(
      mm::resolve_fault_at(m->memory, m->map.root, Gpa(uint64_t{1} << 50), kRead, m->caps).error(),
      arch::Error::kOutOfRange);
}

}  // namespace
