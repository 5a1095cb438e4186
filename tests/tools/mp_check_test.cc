#include "agectl/mp_check.h"

#include <gtest/gtest.h>

#include <array>

namespace {

using agectl::check_mp_flush;
using agectl::check_mp_round;
using agectl::MpAnswer;
using agectl::MpFault;
using agectl::MpFlush;

constexpr size_t kCpus = 3;
using Round = std::array<MpAnswer, kCpus>;
constexpr bool kAllEnabled[kCpus] = {true, true, true};

// A processor that answered with agevisor running: the hypercall agrees with CPUID.
MpAnswer answer(uint32_t apic_id, uint64_t exits) {
  MpAnswer a;
  a.answered = true;
  a.agevisor = true;
  a.apic_id = apic_id;
  a.status = 0;
  a.hv_apic_id = apic_id;
  a.exits = exits;
  return a;
}

Round round_with_exits(uint64_t base) {
  return {answer(0, base), answer(2, base + 10), answer(4, base + 20)};
}

agectl::MpReport check(const Round& now, const Round* before, bool hypercalls = true,
                       const bool* enabled = kAllEnabled, uint64_t strays = 0) {
  return check_mp_round(now.data(), before == nullptr ? nullptr : before->data(), enabled, kCpus,
                        hypercalls, strays);
}

TEST(MpCheckRound, EveryCpuAnsweringWithRisingExitsPasses) {
  const Round first = round_with_exits(100);
  const Round second = round_with_exits(105);
  EXPECT_TRUE(check(first, nullptr).ok());
  EXPECT_TRUE(check(second, &first).ok());
}

TEST(MpCheckRound, AnEnabledCpuThatDidNotAnswerFails) {
  Round now = round_with_exits(100);
  now[1].answered = false;
  const auto report = check(now, nullptr);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kNoAnswer);
  EXPECT_EQ(report.kept[0].cpu, 1u);
}

TEST(MpCheckRound, ADisabledCpuNeedNotAnswer) {
  Round now = round_with_exits(100);
  now[2].answered = false;
  constexpr bool enabled[kCpus] = {true, true, false};
  EXPECT_TRUE(check(now, nullptr, true, enabled).ok());
}

TEST(MpCheckRound, StrayAnswersFail) {
  const auto report = check(round_with_exits(100), nullptr, true, kAllEnabled, 2);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kStrayAnswer);
  EXPECT_EQ(report.kept[0].got, 2u);
}

TEST(MpCheckRound, TwoCpusWithOneApicIdFail) {
  Round now = round_with_exits(100);
  now[2] = answer(2, 300);  // the same APIC ID as processor 1
  const auto report = check(now, nullptr);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kDuplicateApicId);
  EXPECT_EQ(report.kept[0].cpu, 2u);
  EXPECT_EQ(report.kept[0].got, 2u);
  EXPECT_EQ(report.kept[0].expected, 1u) << "the processor that had it first";
}

TEST(MpCheckRound, DuplicateApicIdsFailWithoutAgevisorToo) {
  Round now = round_with_exits(0);
  for (MpAnswer& a : now) {
    a.agevisor = false;
    a.apic_id = 0;  // e.g. every AP's procedure ran on the BSP
  }
  const auto report = check(now, nullptr, false);
  EXPECT_EQ(report.failures, 2u);
  EXPECT_TRUE(report.has(MpFault::kDuplicateApicId));
  Round distinct = round_with_exits(0);
  for (MpAnswer& a : distinct)
    a.agevisor = false;
  EXPECT_TRUE(check(distinct, nullptr, false).ok()) << "no hypercall answers are needed";
}

TEST(MpCheckRound, HypercallApicIdMustMatchCpuid) {
  Round now = round_with_exits(100);
  now[1].hv_apic_id = 0;  // agevisor took the BSP's APIC ID for every CPU
  const auto report = check(now, nullptr);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kApicIdMismatch);
  EXPECT_EQ(report.kept[0].cpu, 1u);
  EXPECT_EQ(report.kept[0].got, 0u);
  EXPECT_EQ(report.kept[0].expected, 2u);
}

TEST(MpCheckRound, ExitCountsMustRiseStrictly) {
  const Round first = round_with_exits(100);
  Round second = round_with_exits(105);
  second[2].exits = first[2].exits;  // a shared counter, or one that was never incremented
  auto report = check(second, &first);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kExitsNotRising);
  EXPECT_EQ(report.kept[0].cpu, 2u);
  second[2].exits = first[2].exits - 1;
  EXPECT_TRUE(check(second, &first).has(MpFault::kExitsNotRising));
}

TEST(MpCheckRound, ACpuOutsideAgevisorOrAFailedHypercallFails) {
  Round now = round_with_exits(100);
  now[1].agevisor = false;
  now[2].status = 1;  // unknown function
  const auto report = check(now, nullptr);
  ASSERT_EQ(report.failures, 2u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kNotUnderAgevisor);
  EXPECT_EQ(report.kept[0].cpu, 1u);
  EXPECT_EQ(report.kept[1].fault, MpFault::kCpuHypercallFailed);
  EXPECT_EQ(report.kept[1].got, 1u);
}

TEST(MpCheckRound, OnlyTheFirstFailuresAreKeptButAllAreCounted) {
  std::array<MpAnswer, 20> now{};
  bool enabled[20];
  for (bool& e : enabled)
    e = true;
  const auto report = check_mp_round(now.data(), nullptr, enabled, now.size(), true, 0);
  EXPECT_EQ(report.failures, 20u);
  EXPECT_EQ(report.kept[agectl::MpReport::kKept - 1].cpu, agectl::MpReport::kKept - 1);
}

TEST(MpCheckFlush, ACompleteFlushWithARisingGenerationPasses) {
  const MpFlush first{0, 2, 7};
  const MpFlush second{0, 2, 8};
  EXPECT_TRUE(check_mp_flush(first, nullptr, 2).ok());
  EXPECT_TRUE(check_mp_flush(second, &first, 2).ok());
}

TEST(MpCheckFlush, AFailedFlushFails) {
  const auto report = check_mp_flush(MpFlush{1, 0, 0}, nullptr, 2);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kFlushFailed);
  EXPECT_EQ(report.kept[0].got, 1u);
}

TEST(MpCheckFlush, AFlushThatMissedACpuFails) {
  const auto report = check_mp_flush(MpFlush{0, 1, 3}, nullptr, 2);
  ASSERT_EQ(report.failures, 1u);
  EXPECT_EQ(report.kept[0].fault, MpFault::kFlushIncomplete);
  EXPECT_EQ(report.kept[0].got, 1u);
  EXPECT_EQ(report.kept[0].expected, 2u);
}

TEST(MpCheckFlush, TheGenerationMustRiseStrictly) {
  const MpFlush first{0, 2, 7};
  EXPECT_TRUE(check_mp_flush(MpFlush{0, 2, 7}, &first, 2).has(MpFault::kGenerationNotRising));
  EXPECT_TRUE(check_mp_flush(MpFlush{0, 2, 6}, &first, 2).has(MpFault::kGenerationNotRising));
}

TEST(MpCheckFaultText, EveryFaultHasItsOwnText) {
  constexpr MpFault kAll[] = {
      MpFault::kNoAnswer,         MpFault::kStrayAnswer,
      MpFault::kNotUnderAgevisor, MpFault::kCpuHypercallFailed,
      MpFault::kApicIdMismatch,   MpFault::kDuplicateApicId,
      MpFault::kExitsNotRising,   MpFault::kFlushFailed,
      MpFault::kFlushIncomplete,  MpFault::kGenerationNotRising,
  };
  for (size_t i = 0; i < std::size(kAll); ++i) {
    EXPECT_STRNE(agectl::mp_fault_text(kAll[i]), "unknown fault");
    for (size_t j = 0; j < i; ++j)
      EXPECT_STRNE(agectl::mp_fault_text(kAll[i]), agectl::mp_fault_text(kAll[j]));
  }
}

}  // namespace
