#include "mm/aging_walk.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "aging_map.h"
#include "mm/ept_walk.h"
#include "mm/live_split.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets

namespace {

using arch::EptEntry;
using arch::EptLevel;
using arch::Gpa;
using mm::AgingTotals;
using mm::TrackingMode;
using mm_test::HostTableMemory;
using namespace mm::test;

using Report = std::tuple<uint64_t, uint64_t, bool, bool>;  // base, pages, accessed, dirty
using Walk = mm::AgingWalk<HostTableMemory>;

std::vector<uint64_t> snapshot(AgingMap& m) {
  std::vector<uint64_t> raw;
  for (uint64_t gpa = kRamStart; gpa < kRamEnd; gpa += arch::kPageSize4K)
    raw.push_back(mm::walk(m.memory, m.map.root, Gpa(gpa)).value().entry.raw());
  return raw;
}

// Runs one pass in steps of `budget` entries; returns the reports and the step count.
std::vector<Report> pass(AgingMap& m, Walk& w, uint64_t budget, AgingTotals& totals,
                         unsigned* steps = nullptr) {
  std::vector<Report> reports;
  unsigned n = 0;
  for (;;) {
    ++n;
    auto done = w.step(m.memory, m.map.root, budget, totals,
                       [&](Gpa base, uint64_t pages, bool accessed, bool dirty) {
                         reports.emplace_back(base.value(), pages, accessed, dirty);
                       });
    EXPECT_TRUE(done.ok());
    if (!done.ok() || done.value())
      break;
  }
  if (steps)
    *steps = n;
  return reports;
}

TEST(AgingWalk, FirstStashPassReportsEveryPresentLeafAccessedAndDirty) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  AgingTotals t;
  const auto reports = pass(*m, w, ~uint64_t{0}, t);
  EXPECT_EQ(t.leaves, 2u + 64u);
  EXPECT_EQ(t.tracked_pages, kRamFrames);
  EXPECT_EQ(t.accessed_pages, kRamFrames);
  EXPECT_EQ(t.dirty_pages, kRamFrames);
  EXPECT_EQ(t.flush, mm::FlushRequest::single_context());
  ASSERT_EQ(reports.size(), 66u);
  EXPECT_EQ(reports[0], Report(kRamStart, 512, true, true));
  EXPECT_EQ(reports[2], Report(kRamLargeEnd, 1, true, true));
  for (uint64_t raw : snapshot(*m))
    EXPECT_TRUE(mm::is_tracked(EptEntry(raw)));
  EXPECT_EQ(w.passes_completed(), 1u);
}

TEST(AgingWalk, SecondPassOverIdleMemoryWritesNothing) {
  for (auto caps : {ivy_bridge(), haswell_ad()}) {
    auto m = build_aging_map(caps, mm::RamInitialState::kPresent);
    Walk w(Gpa(kRamStart), Gpa(kRamEnd), mode_for(caps), caps);
    AgingTotals first;
    pass(*m, w, 1000, first);
    const auto before = snapshot(*m);
    AgingTotals second;
    pass(*m, w, 1000, second);
    EXPECT_EQ(second.accessed_pages, 0u);
    EXPECT_EQ(second.dirty_pages, 0u);
    EXPECT_EQ(second.tracked_pages, kRamFrames);
    EXPECT_FALSE(second.flush.needed());
    EXPECT_EQ(snapshot(*m), before);
  }
}

TEST(AgingWalk, AccessedBitPassReportsAAndDPerLeaf) {
  auto m = build_aging_map(haswell_ad(), mm::RamInitialState::kPresent);
  auto set_ad = [&](uint64_t gpa, bool dirty) {
    auto leaf = mm::walk(m->memory, m->map.root, Gpa(gpa)).value();
    uint64_t& raw = m->memory.table(leaf.table)[leaf.index];
    raw = EptEntry(raw).set_accessed(true).set_dirty(dirty).raw();
  };
  set_ad(kRamStart + 5 * arch::kPageSize4K, false);  // inside the first 2 MiB leaf
  set_ad(kRamLargeEnd + 3 * arch::kPageSize4K, true);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kAccessedBit, m->caps);
  AgingTotals t;
  const auto reports = pass(*m, w, 7, t);
  EXPECT_EQ(t.accessed_pages, 512u + 1u);
  EXPECT_EQ(t.dirty_pages, 1u);
  EXPECT_EQ(reports[0], Report(kRamStart, 512, true, false));
  EXPECT_EQ(reports[5], Report(kRamLargeEnd + 3 * arch::kPageSize4K, 1, true, true));
  EXPECT_EQ(t.flush, mm::FlushRequest::single_context());
  for (uint64_t raw : snapshot(*m))
    EXPECT_FALSE(EptEntry(raw).accessed() || EptEntry(raw).dirty());
}

TEST(AgingWalk, IncrementalStepsReportWhatOneFullStepReports) {
  for (uint64_t budget : {1u, 2u, 3u, 7u, 64u}) {
    auto full_map = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
    auto step_map = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
    Walk full(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, full_map->caps);
    Walk stepped(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, step_map->caps);
    AgingTotals a, b;
    unsigned steps = 0;
    EXPECT_EQ(pass(*full_map, full, ~uint64_t{0}, a), pass(*step_map, stepped, budget, b, &steps));
    EXPECT_EQ(a.accessed_pages, b.accessed_pages);
    EXPECT_EQ(a.leaves, b.leaves);
    EXPECT_EQ(steps, (66 + budget - 1) / budget) << budget;  // the last leaf ends the pass
    EXPECT_EQ(snapshot(*full_map), snapshot(*step_map));
  }
}

TEST(AgingWalk, FollowsASplitMadeBetweenSteps) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  AgingTotals t;
  std::vector<Report> reports;
  auto record = [&](Gpa base, uint64_t pages, bool accessed, bool dirty) {
    reports.emplace_back(base.value(), pages, accessed, dirty);
  };
  ASSERT_FALSE(w.step(m->memory, m->map.root, 1, t, record).value());
  EXPECT_EQ(w.cursor(), Gpa(kRamStart + arch::kPageSize2M));
  auto leaf = mm::walk(m->memory, m->map.root, w.cursor()).value();
  ASSERT_EQ(leaf.level, EptLevel::kPde);
  ASSERT_TRUE(mm::split_live_leaf(m->memory, mm::LiveEntry(m->memory.table(leaf.table)[leaf.index]),
                                  EptLevel::kPde, m->caps)
                  .ok());
  ASSERT_TRUE(w.step(m->memory, m->map.root, ~uint64_t{0}, t, record).value());
  ASSERT_EQ(reports.size(), 1u + 512u + 64u);
  EXPECT_EQ(reports[1], Report(kRamStart + arch::kPageSize2M, 1, true, true));
  EXPECT_EQ(t.tracked_pages, kRamFrames);
}

TEST(AgingWalk, FollowsALeafSplitUnderTheCompareAndSwap) {
  // The walk read a leaf, then another CPU split it before the aging compare-and-swap: the
  // walk must age the children, not report the link.
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  AgingTotals t;
  auto leaf = mm::walk(m->memory, m->map.root, Gpa(kRamStart)).value();
  ASSERT_TRUE(mm::split_live_leaf(m->memory, mm::LiveEntry(m->memory.table(leaf.table)[leaf.index]),
                                  EptLevel::kPde, m->caps)
                  .ok());
  unsigned small = 0;
  ASSERT_TRUE(w.step(m->memory, m->map.root, ~uint64_t{0}, t, [&](Gpa, uint64_t pages, bool, bool) {
                 small += pages == 1 ? 1 : 0;
               }).value());
  EXPECT_EQ(small, 512u + 64u);
}

TEST(AgingWalk, StartsANewPassAfterCompletingOne) {
  auto m = build_aging_map(haswell_ad(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamStart + arch::kPageSize2M), Gpa(kRamEnd), TrackingMode::kAccessedBit, m->caps);
  AgingTotals t;
  pass(*m, w, 10, t);
  EXPECT_EQ(w.cursor(), Gpa(kRamStart + arch::kPageSize2M));
  pass(*m, w, 10, t);
  EXPECT_EQ(w.passes_completed(), 2u);
  EXPECT_EQ(t.tracked_pages, 2 * (kRamFrames - 512));
}

TEST(AgingWalk, RefusesAModeTheCapabilitiesDoNotRun) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kAccessedBit, m->caps);
  AgingTotals t;
  auto r = w.step(m->memory, m->map.root, 10, t, [](Gpa, uint64_t, bool, bool) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), arch::Error::kInvalidArgument);
  const Gpa at(kRamStart);
  Walk empty(at, at, TrackingMode::kRwxStash, m->caps);
  EXPECT_FALSE(empty.step(m->memory, m->map.root, 10, t, [](Gpa, uint64_t, bool, bool) {}).ok());
}

TEST(AgingWalk, TrackedStartSkipsEveryWrite) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
  const auto before = snapshot(*m);
  Walk w(Gpa(kRamStart), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  AgingTotals t;
  pass(*m, w, 5, t);
  EXPECT_EQ(t.accessed_pages, 0u);
  EXPECT_EQ(t.tracked_pages, kRamFrames);
  EXPECT_FALSE(t.flush.needed());
  EXPECT_EQ(snapshot(*m), before);
}

TEST(AgingWalk, ALeafThatKeepsLosingRacesIsReportedAccessedAndKept) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  Walk w(Gpa(kRamLargeEnd), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  w.set_max_attempts(0);  // every compare-and-swap "lost"
  AgingTotals t;
  const auto reports = pass(*m, w, 1000, t);
  EXPECT_EQ(t.contended, 64u);
  EXPECT_EQ(t.accessed_pages, 64u);
  EXPECT_EQ(t.dirty_pages, 0u);  // not taken: still W = 1 for the next pass
  EXPECT_FALSE(t.flush.needed());
  EXPECT_EQ(reports.front(), Report(kRamLargeEnd, 1, true, false));
  EXPECT_TRUE(EptEntry(snapshot(*m).back()).writable());
}

TEST(AgingWalk, AnIllegalLeafIsCountedAndLeftAlone) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  auto leaf = mm::walk(m->memory, m->map.root, Gpa(kRamLargeEnd)).value();
  uint64_t& raw = m->memory.table(leaf.table)[leaf.index];
  raw &= ~mm::EptSwBits::kPolicyWritable;  // W without policy-writable: aging it would be too
  const uint64_t before = raw;
  Walk w(Gpa(kRamLargeEnd), Gpa(kRamEnd), TrackingMode::kRwxStash, m->caps);
  AgingTotals t;
  pass(*m, w, 1000, t);
  EXPECT_EQ(t.invalid, 1u);
  EXPECT_EQ(t.leaves, 64u);
  EXPECT_EQ(t.accessed_pages, 64u);
  EXPECT_EQ(raw, before);
}

}  // namespace
