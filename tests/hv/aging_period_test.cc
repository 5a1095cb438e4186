#include "hv/aging_period.h"

#include <gtest/gtest.h>

namespace {

TEST(AgingPeriod, OffWhenNoPeriodOrNoTsc) {
  EXPECT_EQ(hv::aging_period(0, 3'000'000'000, 5).ticks, 0u);
  EXPECT_EQ(hv::aging_period(100, 0, 5).ticks, 0u);
}

TEST(AgingPeriod, TicksFollowTheTscAndTheRate) {
  // 3 GHz TSC, rate 5: one tick per 32 TSC cycles; 100 ms = 3e8 cycles.
  const auto p = hv::aging_period(100, 3'000'000'000, 5);
  EXPECT_EQ(p.ticks, 300'000'000u / 32);
  EXPECT_EQ(p.effective_ms, 100u);
  EXPECT_FALSE(p.clamped);
  EXPECT_EQ(hv::aging_period(100, 3'000'000'000, 0).ticks, 300'000'000u) << "Bochs' rate 0";
}

TEST(AgingPeriod, ALongPeriodIsClampedTo32BitsAndSaysSo) {
  const auto p = hv::aging_period(60000, 3'000'000'000, 0);  // 1.8e11 TSC cycles
  EXPECT_TRUE(p.clamped);
  EXPECT_EQ(p.ticks, 0xFFFF'FFFFu);
  EXPECT_EQ(p.effective_ms, 1431u) << "2^32 cycles at 3 GHz";
}

TEST(AgingPeriod, AShortPeriodIsAtLeastOneTick) {
  EXPECT_EQ(hv::aging_period(1, 1000, 20).ticks, 1u);
}

}  // namespace
