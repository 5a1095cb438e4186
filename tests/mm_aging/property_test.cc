// Property tests: seeded random sequences through tests/mm_aging/simulation.h, checked
// against the reference model after every operation. The host preset runs
// kOperationsPerSequence x kSeeds x configurations (well over 1,000,000 operations); the
// sanitizer presets run a twentieth of that (__SANITIZE_ADDRESS__ / __SANITIZE_THREAD__),
// which keeps them within seconds too.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets
#include "simulation.h"

namespace {

using mm::RamInitialState;
using mm::TrackingGranularity;
using mm::test::SimulationConfig;
using mm::test::SimulationResult;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr uint64_t kScale = 20;
#else
constexpr uint64_t kScale = 1;
#endif
constexpr uint64_t kOperationsPerSequence = 40'000 / kScale;
constexpr uint64_t kSeeds = 4;

struct Named {
  const char* name;
  SimulationConfig config;
};

SimulationConfig make(arch::EptCapabilities caps, RamInitialState state,
                      TrackingGranularity granularity, bool split_large, bool cold) {
  SimulationConfig c;
  c.caps = caps;
  c.ram_state = state;
  c.granularity = granularity;
  c.split_large_for_write = split_large;
  c.start_cold = cold;
  return c;
}

const Named kConfigs[] = {
    {"StashPresentAsMapped", make(mm::test::ivy_bridge(), RamInitialState::kPresent,
                                  TrackingGranularity::kAsMapped, false, false)},
    {"StashTrackedAsMappedSplitOnWrite", make(mm::test::ivy_bridge(), RamInitialState::kTracked,
                                              TrackingGranularity::kAsMapped, true, true)},
    {"StashTracked4K", make(mm::test::ivy_bridge(), RamInitialState::kTracked,
                            TrackingGranularity::k4K, false, false)},
    {"ForcedStashPresentSplitOnWrite",
     make(mm::test::haswell_forced_stash(), RamInitialState::kPresent,
          TrackingGranularity::kAsMapped, true, false)},
    {"AccessedBitAsMapped", make(mm::test::haswell_ad(), RamInitialState::kPresent,
                                 TrackingGranularity::kAsMapped, false, true)},
    {"AccessedBit4K", make(mm::test::haswell_ad(), RamInitialState::kPresent,
                           TrackingGranularity::k4K, false, false)},
    {"ForcedStash4KCold", make(mm::test::haswell_forced_stash(), RamInitialState::kPresent,
                               TrackingGranularity::k4K, false, true)},
};

class AgingProperty : public ::testing::TestWithParam<Named> {};

TEST_P(AgingProperty, EveryStepMatchesTheReferenceModel) {
  uint64_t operations = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SimulationConfig c = GetParam().config;
    c.seed = seed * 7919 + static_cast<uint64_t>(c.caps.ad_enabled);
    c.operations = kOperationsPerSequence;
    const SimulationResult r = mm::test::run_simulation(c);
    EXPECT_EQ(r.mismatches, 0u) << r.first_mismatch;
    operations += r.operations;
    // The sequences exercise what they claim to.
    EXPECT_GT(r.passes, 10u);
    EXPECT_GT(r.harvests, 10u);
    EXPECT_GT(r.flushes, 10u);
    if (!c.caps.ad_enabled) {
      EXPECT_GT(r.faults, 100u);
    }
  }
  RecordProperty("operations", std::to_string(operations));
}

INSTANTIATE_TEST_SUITE_P(Configurations, AgingProperty, ::testing::ValuesIn(kConfigs),
                         [](const auto& p) { return std::string(p.param.name); });

// Dropping a flush mm/ asked for must make the model disagree, for every source of flushes
// whose absence the TLB model can see. Each needs stale translations that a later access
// uses, so a few seeds are tried; one of them must fail.
struct DropCase {
  const char* name;
  unsigned drop;
  bool ad;
};

class DroppedFlush : public ::testing::TestWithParam<DropCase> {};

TEST_P(DroppedFlush, IsCaughtByTheModel) {
  bool caught = false;
  std::string first;
  for (uint64_t seed = 1; seed <= 8 && !caught; ++seed) {
    SimulationConfig c = make(GetParam().ad ? mm::test::haswell_ad() : mm::test::ivy_bridge(),
                              RamInitialState::kPresent, TrackingGranularity::k4K, false, false);
    c.seed = seed;
    c.operations = 20'000 / kScale;
    c.drop = GetParam().drop;
    const SimulationResult r = mm::test::run_simulation(c);
    EXPECT_GT(r.dropped_flushes, 0u);
    caught = r.mismatches > 0;
    first = r.first_mismatch;
  }
  EXPECT_TRUE(caught) << "dropping these flushes went unnoticed";
  RecordProperty("mismatch", first);
}

const DropCase kDrops[] = {
    {"AgingStash", SimulationConfig::kDropAging, false},
    {"AgingAccessedBit", SimulationConfig::kDropAging, true},
    {"HarvestStash", SimulationConfig::kDropHarvest, false},
    {"HarvestAccessedBit", SimulationConfig::kDropHarvest, true},
    {"LogStartStash", SimulationConfig::kDropLogStart, false},
    {"LogStartAccessedBit", SimulationConfig::kDropLogStart, true},
};

INSTANTIATE_TEST_SUITE_P(Sources, DroppedFlush, ::testing::ValuesIn(kDrops),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(DroppedFlush, KeepingEveryFlushIsClean) {
  SimulationConfig c = make(mm::test::ivy_bridge(), RamInitialState::kPresent,
                            TrackingGranularity::k4K, false, false);
  c.operations = 20'000 / kScale;
  EXPECT_EQ(mm::test::run_simulation(c).mismatches, 0u);
}

}  // namespace
