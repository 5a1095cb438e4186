#include <gtest/gtest.h>

#include <vector>

#include "agectl/args.h"
#include "agectl/expected_age.h"

namespace {

using agectl::Args;
using agectl::parse_args;

TEST(AgectlArgs, DefaultsWithNoArguments) {
  const auto r = parse_args("");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.args.rounds, 3u);
  EXPECT_EQ(r.args.mib, 8u);
  EXPECT_EQ(r.args.mode, agectl::Mode::kRounds);
}

TEST(AgectlArgs, ParsesRoundsMibAndReport) {
  const auto r = parse_args("  rounds=5 mib=16  report ");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.rounds, 5u);
  EXPECT_EQ(r.args.mib, 16u);
  EXPECT_EQ(r.args.mode, agectl::Mode::kReport);
}

TEST(AgectlArgs, ParsesHostile) {
  const auto r = parse_args("hostile");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kHostile);
  EXPECT_EQ(parse_args("log").args.mode, agectl::Mode::kLog);
  EXPECT_EQ(parse_args("ebs").args.mode, agectl::Mode::kExitBootServices);
  EXPECT_EQ(parse_args("bench mib=16").args.mode, agectl::Mode::kBench);
}

TEST(AgectlArgs, ParsesMpWithItsRounds) {
  auto r = parse_args("mp");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kMp);
  EXPECT_EQ(r.args.rounds, 3u) << "three rounds unless told";
  r = parse_args("mp rounds=5");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kMp);
  EXPECT_EQ(r.args.rounds, 5u);
  r = parse_args("rounds=2 mp");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kMp);
  EXPECT_EQ(r.args.rounds, 2u);
}

TEST(AgectlArgs, ParsesFlushWithItsRounds) {
  auto r = parse_args("flush rounds=4");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kFlush);
  EXPECT_EQ(r.args.rounds, 4u);
  EXPECT_EQ(parse_args("flush").args.rounds, 3u);
  EXPECT_EQ(parse_args("nmi rounds=2").args.mode, agectl::Mode::kNmi);
  EXPECT_FALSE(parse_args("nmi flush").ok);
}

TEST(AgectlArgs, ParsesFaultsWithItsRounds) {
  auto r = parse_args("faults rounds=2");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.args.mode, agectl::Mode::kFaults);
  EXPECT_EQ(r.args.rounds, 2u);
  EXPECT_FALSE(parse_args("faults nmi").ok);
  EXPECT_FALSE(parse_args("fault").ok);
}

TEST(AgectlArgs, RefusesMpCombinedOrMisspelt) {
  for (const char* bad : {"mps", "mp bench", "log mp", "mp mp", "mp rounds=0", "mp rounds=17",
                          "flush mp", "flushes"}) {
    const auto r = parse_args(bad);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_NE(r.error, nullptr) << bad;
  }
}

TEST(AgectlArgs, RefusesBadValuesAndUnknownWords) {
  for (const char* bad : {"rounds=0", "rounds=17", "rounds=", "rounds=3x", "mib=0", "mib=1025",
                          "mib=-1", "mib=99999999999999999999", "reports", "verbose", "mib 4",
                          "hostiles", "report hostile", "log report", "logs", "ebs log"}) {
    const auto r = parse_args(bad);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_NE(r.error, nullptr) << bad;
  }
}

TEST(AgectlRounds, EachRoundHalvesTheBytesDownToOnePage) {
  Args a;
  a.mib = 4;
  EXPECT_EQ(agectl::round_bytes(a, 1), 4u << 20);
  EXPECT_EQ(agectl::round_bytes(a, 2), 2u << 20);
  EXPECT_EQ(agectl::round_bytes(a, 3), 1u << 20);
  EXPECT_EQ(agectl::round_bytes(a, 13), 4096u);
  EXPECT_EQ(agectl::round_bytes(a, 16), 4096u);
}

TEST(AgectlExpectedAge, WholeLeavesAgeTheSameAtBothGranularities) {
  Args a;
  a.mib = 8;  // rounds write 8, 4, 2 MiB: whole 2 MiB leaves
  // after round 3: frames in [0, 2 MiB) idle 0, [2, 4) idle 1, [4, 8) idle 2
  EXPECT_EQ(agectl::expected_age(a, 3, 0), 0);
  EXPECT_EQ(agectl::expected_age(a, 3, 511), 0);
  EXPECT_EQ(agectl::expected_age(a, 3, 512), 1);
  EXPECT_EQ(agectl::expected_age(a, 3, 1024), 2);
  EXPECT_EQ(agectl::expected_age(a, 3, 2047), 2);
}

TEST(AgectlExpectedAge, APartlyTouchedLeafIsNotChecked) {
  Args a;
  a.mib = 2;  // round 2 writes 1 MiB: half of the only leaf
  EXPECT_EQ(agectl::expected_age(a, 2, 0), 0) << "touched: idle 0 at any granularity";
  EXPECT_EQ(agectl::expected_age(a, 2, 256), -1) << "idle 1 at 4 KiB, 0 at 2 MiB";
}

TEST(AgectlCheck, ExactAgesPassAndOneWrongFrameIsFound) {
  Args a;
  a.mib = 4;
  std::vector<uint8_t> ages(1024);
  for (size_t f = 512; f < 1024; ++f)
    ages[f] = 1;
  auto check = agectl::check_frame_ages(a, 2, ages.data(), ages.size());
  EXPECT_EQ(check.mismatches, 0u);
  EXPECT_EQ(check.checked, 1024u);
  EXPECT_EQ(check.idle, 512u);
  ages[700] = 0;  // a frame reported accessed that was not
  check = agectl::check_frame_ages(a, 2, ages.data(), ages.size());
  EXPECT_EQ(check.mismatches, 1u);
  EXPECT_EQ(check.first_bad, 700u);
  EXPECT_EQ(check.first_bad_age, 0u);
  EXPECT_EQ(check.first_bad_expected, 1u);
}

TEST(AgectlCheck, EverythingReportedAccessedFailsTheCheck) {
  Args a;
  a.mib = 8;
  std::vector<uint8_t> ages(2048, 0);  // a tracker that never ages anything
  EXPECT_EQ(agectl::check_frame_ages(a, 3, ages.data(), ages.size()).mismatches, 1536u);
}

}  // namespace

#include "agectl/page_set.h"

namespace {

TEST(AgectlPageSet, AddsPagesOnceAndAnswersByPage) {
  agectl::PageSet set;
  EXPECT_TRUE(set.add(0x5123));
  EXPECT_TRUE(set.add(0x5FF8));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.contains(0x5000));
  EXPECT_FALSE(set.contains(0x6000));
}

}  // namespace
