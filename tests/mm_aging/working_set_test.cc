#include "mm/working_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using arch::Gpa;
using mm::IdleHistogram;
using mm::WorkingSet;

constexpr uint64_t k4K = arch::kPageSize4K;
constexpr uint64_t kBase = 0x20'0000;

TEST(IdleHistogram, BucketsArePowersOfTwo) {
  const unsigned expected[] = {0, 1, 2, 2, 3, 3, 3, 3, 4};
  for (unsigned age = 0; age < 9; ++age)
    EXPECT_EQ(IdleHistogram::bucket_of(static_cast<uint8_t>(age)), expected[age]) << age;
  for (unsigned b = 1; b < IdleHistogram::kBuckets; ++b) {
    EXPECT_EQ(IdleHistogram::bucket_of(static_cast<uint8_t>(IdleHistogram::lower_bound(b))), b);
    EXPECT_EQ(IdleHistogram::bucket_of(static_cast<uint8_t>(IdleHistogram::lower_bound(b) - 1)),
              b - 1);
  }
  EXPECT_EQ(IdleHistogram::bucket_of(255), 8u);
}

TEST(WorkingSet, AccessResetsAndIdlePassesSaturate) {
  std::vector<uint8_t> ages(1024, 0);
  WorkingSet ws(Gpa(kBase), ages.size(), ages.data());
  for (unsigned pass = 0; pass < 300; ++pass)
    ws.observe(Gpa(kBase), 512, false);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase + 7 * k4K)), 255);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase + 600 * k4K)), 0);
  ws.observe(Gpa(kBase), 512, true);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase + 511 * k4K)), 0);
  ws.observe(Gpa(kBase + 512 * k4K), 1, false);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase + 512 * k4K)), 1);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase + 513 * k4K)), 0);
}

TEST(WorkingSet, ObserveClipsLeavesToTheSet) {
  std::vector<uint8_t> ages(16, 3);
  WorkingSet ws(Gpa(kBase + 8 * k4K), ages.size(), ages.data());
  ws.observe(Gpa(kBase), 512, true);  // a 2 MiB leaf around the whole set
  for (uint8_t a : ages)
    EXPECT_EQ(a, 0);
  ws.observe(Gpa(kBase + 20 * k4K), 8, false);  // straddles the end
  EXPECT_EQ(ages[11], 0);
  EXPECT_EQ(ages[12], 1);
  EXPECT_EQ(ages[15], 1);
  ws.observe(Gpa(kBase + 24 * k4K), 8, false);  // wholly outside
  EXPECT_EQ(ages[15], 1);
  EXPECT_EQ(ws.idle_passes(Gpa(kBase)), WorkingSet::kMaxIdle);
}

TEST(WorkingSet, HistogramAndRangeQueries) {
  std::vector<uint8_t> ages(200);
  for (size_t i = 0; i < ages.size(); ++i)
    ages[i] = static_cast<uint8_t>(i);
  WorkingSet ws(Gpa(kBase), ages.size(), ages.data());
  const IdleHistogram h = ws.histogram();
  const uint64_t expected[] = {1, 1, 2, 4, 8, 16, 32, 64, 72};
  for (unsigned b = 0; b < IdleHistogram::kBuckets; ++b)
    EXPECT_EQ(h.frames[b], expected[b]) << b;
  EXPECT_EQ(h.total(), 200u);
  EXPECT_EQ(ws.histogram(Gpa(kBase + 4 * k4K), 4).frames[3], 4u);

  ws.observe(Gpa(kBase + 70 * k4K), 2, true);
  std::vector<uint64_t> bits(2, ~uint64_t{0});
  EXPECT_EQ(ws.accessed_bitmap(Gpa(kBase + 64 * k4K), 100, bits.data()), 2u);
  EXPECT_EQ(bits[0], uint64_t{0b11} << 6);
  EXPECT_EQ(bits[1], 0u);
  EXPECT_EQ(ws.accessed_bitmap(Gpa(kBase), 1, bits.data()), 1u);  // age 0 at frame 0

  std::vector<uint8_t> out(4);
  EXPECT_EQ(ws.ages(Gpa(kBase + 198 * k4K), 4, out.data()), 2u);
  EXPECT_EQ(out, (std::vector<uint8_t>{198, 199, 255, 255}));
}

TEST(WorkingSet, ResetToNeverSeenStartsCold) {
  std::vector<uint8_t> ages(64);
  WorkingSet ws(Gpa(kBase), ages.size(), ages.data());
  ws.reset(WorkingSet::kNeverSeen);
  EXPECT_EQ(ws.histogram().frames[8], 64u);
  ws.observe(Gpa(kBase), 1, true);
  EXPECT_EQ(ws.histogram().frames[0], 1u);
}

}  // namespace
