#include "mm/dirty_log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "aging_map.h"
#include "mm/aging_walk.h"
#include "mm/ept_walk.h"
#include "mm/fault_resolver.h"
#include "mm/granularity.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets

namespace {

using arch::EptEntry;
using arch::EptLevel;
using arch::Gpa;
using mm::TrackingGranularity;
using mm::TrackingMode;
using mm_test::HostTableMemory;
using namespace mm::test;

using Log = mm::DirtyLog<HostTableMemory>;

constexpr uint64_t k4K = arch::kPageSize4K;

mm::EptWalk leaf_at(AgingMap& m, uint64_t gpa) {
  return mm::walk(m.memory, m.map.root, Gpa(gpa)).value();
}
uint64_t& slot_at(AgingMap& m, uint64_t gpa) {
  const auto w = leaf_at(m, gpa);
  return m.memory.table(w.table)[w.index];
}

// A guest write as the processor and the fault path would do it: stash mode faults and the
// resolver gives W back (splitting when it asks); A/D mode sets D.
void write(AgingMap& m, uint64_t gpa, bool split_large = false) {
  for (int tries = 0; tries < 4; ++tries) {
    const auto w = leaf_at(m, gpa);
    uint64_t& raw = m.memory.table(w.table)[w.index];
    if (m.caps.ad_enabled) {
      raw = EptEntry(raw).set_accessed(true).set_dirty(true).raw();
      return;
    }
    if (EptEntry(raw).writable())
      return;
    mm::ResolverPolicy policy;
    policy.split_large_for_write = split_large;
    const auto r = mm::resolve_fault(mm::LiveEntry(raw), w.level, mm::AccessSet(true, true, false),
                                     m.caps, policy)
                       .value();
    ASSERT_FALSE(r.has(mm::FaultResolution::kViolation)) << mm::violation_name(r.violation);
    if (r.has(mm::FaultResolution::kNeedsSplit)) {
      ASSERT_TRUE(mm::split_live_leaf(m.memory, mm::LiveEntry(raw), w.level, m.caps).ok());
    }
  }
  FAIL() << "write never completed";
}

std::vector<uint64_t> dirty_frames(const std::vector<uint64_t>& bits) {
  std::vector<uint64_t> frames;
  for (uint64_t i = 0; i < bits.size() * 64; ++i)
    if (bits[i / 64] >> (i % 64) & 1)
      frames.push_back(i);
  return frames;
}

class DirtyLogTest : public ::testing::TestWithParam<bool> {
 protected:
  arch::EptCapabilities caps() const { return GetParam() ? haswell_ad() : ivy_bridge(); }
};

TEST_P(DirtyLogTest, HarvestReportsWritesSinceTheLastHarvestOnly) {
  auto m = build_aging_map(caps(), mm::RamInitialState::kPresent);
  std::vector<uint64_t> pending(Log::bitmap_words(kRamFrames)), bits(pending.size());
  Log log(Gpa(kRamStart), kRamFrames, pending.data(), mode_for(m->caps), m->caps);
  const auto started = log.start(m->memory, m->map.root, TrackingGranularity::k4K).value();
  EXPECT_EQ(started.splits, 2u);
  EXPECT_EQ(started.leaves, kRamFrames);
  write(*m, kRamStart + 3 * k4K);
  write(*m, kRamEnd - k4K);
  auto h = log.harvest(m->memory, m->map.root, bits.data()).value();
  EXPECT_EQ(h.dirty_pages, 2u);
  EXPECT_TRUE(h.flush.needed());
  EXPECT_EQ(dirty_frames(bits), (std::vector<uint64_t>{3, kRamFrames - 1}));
  h = log.harvest(m->memory, m->map.root, bits.data()).value();
  EXPECT_EQ(h.dirty_pages, 0u);
  EXPECT_FALSE(h.flush.needed());
  write(*m, kRamStart + 3 * k4K);
  EXPECT_EQ(log.harvest(m->memory, m->map.root, bits.data()).value().dirty_pages, 1u);
}

TEST_P(DirtyLogTest, AsMappedReportsALargeLeafWhole) {
  auto m = build_aging_map(caps(), mm::RamInitialState::kPresent);
  std::vector<uint64_t> pending(Log::bitmap_words(kRamFrames)), bits(pending.size());
  Log log(Gpa(kRamStart), kRamFrames, pending.data(), mode_for(m->caps), m->caps);
  EXPECT_EQ(log.start(m->memory, m->map.root, TrackingGranularity::kAsMapped).value().splits, 0u);
  write(*m, kRamStart + arch::kPageSize2M + 9 * k4K);
  const auto h = log.harvest(m->memory, m->map.root, bits.data()).value();
  EXPECT_EQ(h.dirty_pages, 512u);
  EXPECT_EQ(dirty_frames(bits).front(), 512u);
}

TEST_P(DirtyLogTest, WhatAgingTookIsInTheNextHarvest) {
  auto m = build_aging_map(caps(), mm::RamInitialState::kPresent);
  std::vector<uint64_t> pending(Log::bitmap_words(kRamFrames)), bits(pending.size());
  Log log(Gpa(kRamStart), kRamFrames, pending.data(), mode_for(m->caps), m->caps);
  ASSERT_TRUE(log.start(m->memory, m->map.root, TrackingGranularity::k4K).ok());
  write(*m, kRamStart + 100 * k4K);
  mm::AgingWalk<HostTableMemory> walk(Gpa(kRamStart), Gpa(kRamEnd), mode_for(m->caps), m->caps);
  mm::AgingTotals totals;
  ASSERT_TRUE(
      walk.step(m->memory, m->map.root, ~uint64_t{0}, totals,
                [&](Gpa base, uint64_t pages, bool, bool dirty) { log.note(base, pages, dirty); })
          .value());
  EXPECT_EQ(totals.dirty_pages, 1u);
  const auto h = log.harvest(m->memory, m->map.root, bits.data()).value();
  EXPECT_EQ(dirty_frames(bits), (std::vector<uint64_t>{100}));
  EXPECT_EQ(h.dirty_pages, 1u);
}

TEST_P(DirtyLogTest, HarvestNeedsStartAndStopEndsIt) {
  auto m = build_aging_map(caps(), mm::RamInitialState::kPresent);
  std::vector<uint64_t> pending(Log::bitmap_words(kRamFrames)), bits(pending.size());
  Log log(Gpa(kRamStart), kRamFrames, pending.data(), mode_for(m->caps), m->caps);
  EXPECT_FALSE(log.harvest(m->memory, m->map.root, bits.data()).ok());
  ASSERT_TRUE(log.start(m->memory, m->map.root, TrackingGranularity::kAsMapped).ok());
  EXPECT_TRUE(log.active());
  log.stop();
  EXPECT_FALSE(log.active());
  EXPECT_FALSE(log.harvest(m->memory, m->map.root, bits.data()).ok());
}

INSTANTIATE_TEST_SUITE_P(BothModes, DirtyLogTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "AccessedBit" : "RwxStash"; });

TEST(DirtyLog, StashWriteToAWithheldLargeLeafSplitsOrRestoresW) {
  for (bool split_large : {false, true}) {
    auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kTracked);
    std::vector<uint64_t> pending(Log::bitmap_words(kRamFrames)), bits(pending.size());
    Log log(Gpa(kRamStart), kRamFrames, pending.data(), TrackingMode::kRwxStash, m->caps);
    ASSERT_TRUE(log.start(m->memory, m->map.root, TrackingGranularity::kAsMapped).ok());
    write(*m, kRamStart + 7 * k4K, split_large);
    EXPECT_EQ(leaf_at(*m, kRamStart).level, split_large ? EptLevel::kPte : EptLevel::kPde);
    EXPECT_TRUE(EptEntry(slot_at(*m, kRamStart + 7 * k4K)).writable());
    EXPECT_EQ(log.harvest(m->memory, m->map.root, bits.data()).value().dirty_pages,
              split_large ? 1u : 512u);
  }
}

TEST(SplitRange, SplitsEveryLargeLeafOverlappingTheRange) {
  auto m = build_aging_map(haswell_ad(), mm::RamInitialState::kPresent);
  const auto r = mm::split_range_to_4k(m->memory, m->map.root, Gpa(kRamStart + 5 * k4K),
                                       Gpa(kRamStart + arch::kPageSize2M + k4K), m->caps)
                     .value();
  EXPECT_EQ(r.splits, 2u);
  EXPECT_EQ(r.flush, mm::FlushRequest::single_context());
  EXPECT_EQ(leaf_at(*m, kRamStart).level, EptLevel::kPte);
  EXPECT_EQ(leaf_at(*m, kRamLargeEnd - k4K).level, EptLevel::kPte);
  EXPECT_EQ(leaf_at(*m, 0).level, EptLevel::kPde);  // outside: untouched
  EXPECT_EQ(mm::split_range_to_4k(m->memory, m->map.root, Gpa(kRamStart), Gpa(kRamEnd), m->caps)
                .value()
                .splits,
            0u);
}

TEST(SplitRange, ReportsAnExhaustedPool) {
  auto m = build_aging_map(ivy_bridge(), mm::RamInitialState::kPresent);
  m->memory.fail_after(1);
  const auto r =
      mm::split_range_to_4k(m->memory, m->map.root, Gpa(kRamStart), Gpa(kRamEnd), m->caps);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), arch::Error::kNoMemory);
  EXPECT_EQ(leaf_at(*m, kRamStart).level, EptLevel::kPte);
  EXPECT_EQ(leaf_at(*m, kRamLargeEnd - k4K).level, EptLevel::kPde);
}

}  // namespace
