#include "hv/options.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using hv::TrackingOverride;

TEST(Options, EmptyOrNullInputGivesDefaults) {
  EXPECT_EQ(hv::parse_options(nullptr).value().track, TrackingOverride::kAuto);
  EXPECT_EQ(hv::parse_options("").value().track, TrackingOverride::kAuto);
  EXPECT_EQ(hv::parse_options(" \t\r\n").value().track, TrackingOverride::kAuto);
}

TEST(Options, TrackAcceptsEachMode) {
  EXPECT_EQ(hv::parse_options("track=auto").value().track, TrackingOverride::kAuto);
  EXPECT_EQ(hv::parse_options("track=accessed-bit").value().track, TrackingOverride::kAccessedBit);
  EXPECT_EQ(hv::parse_options("track=rwx-stash").value().track, TrackingOverride::kRwxStash);
}

TEST(Options, FirstTokenWithoutEqualsIsTheImagePath) {
  EXPECT_EQ(hv::parse_options("fs0:\\EFI\\agevisor.efi  track=rwx-stash").value().track,
            TrackingOverride::kRwxStash);
  EXPECT_EQ(hv::parse_options("  agevisor.efi").value().track, TrackingOverride::kAuto);
}

TEST(Options, LaterTokenWithoutEqualsIsAnError) {
  hv::OptionsError error;
  auto r = hv::parse_options("agevisor.efi track=auto stray", &error);
  EXPECT_EQ(r.error(), arch::Error::kInvalidArgument);
  EXPECT_STREQ(error.message, "option is not key=value: \"stray\"");
  EXPECT_EQ(error.offset, 24u);
}

TEST(Options, LaterKeysWin) {
  EXPECT_EQ(hv::parse_options("track=rwx-stash track=accessed-bit").value().track,
            TrackingOverride::kAccessedBit);
}

TEST(Options, UnknownKeyNamesTheToken) {
  hv::OptionsError error;
  auto r = hv::parse_options("agevisor.efi colour=blue", &error);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(error.message,
               "unknown option \"colour=blue\"; expected a known key: track, hide, debug, period, "
               "cpus");
  EXPECT_EQ(error.offset, 13u);
}

TEST(Options, HideAndDebugAreFlagsWithNone) {
  auto r = hv::parse_options("agevisor.efi hide=cpuid debug=corrupt-guest-state");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().hide_hypervisor);
  EXPECT_TRUE(r.value().corrupt_guest_state);
  r = hv::parse_options("hide=cpuid hide=none debug=none");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().hide_hypervisor);
  EXPECT_FALSE(r.value().corrupt_guest_state);
  hv::OptionsError error;
  EXPECT_FALSE(hv::parse_options("hide=everything", &error).ok());
  EXPECT_STREQ(error.message, "bad value in option \"hide=everything\"; expected hide=none|cpuid");
}

TEST(Options, FailLastCpuIsADebugChoiceOfItsOwn) {
  auto r = hv::parse_options("debug=fail-last-cpu");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().fail_last_cpu);
  EXPECT_FALSE(r.value().corrupt_guest_state);
  r = hv::parse_options("debug=fail-last-cpu debug=corrupt-guest-state");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().fail_last_cpu) << "later keys win";
  EXPECT_TRUE(r.value().corrupt_guest_state);
  r = hv::parse_options("debug=fail-last-cpu debug=none");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().fail_last_cpu);
}

TEST(Options, CpusChoosesEveryCpuOrOnlyTheBootCpu) {
  auto r = hv::parse_options("agevisor.efi");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().boot_cpu_only) << "every CPU by default";
  r = hv::parse_options("cpus=boot");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().boot_cpu_only);
  r = hv::parse_options("cpus=boot cpus=all");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().boot_cpu_only);
  hv::OptionsError error;
  EXPECT_FALSE(hv::parse_options("cpus=2", &error).ok());
  EXPECT_STREQ(error.message, "bad value in option \"cpus=2\"; expected cpus=all|boot");
}

TEST(Options, BadValueNamesTheTokenAndTheChoices) {
  hv::OptionsError error;
  EXPECT_FALSE(hv::parse_options("track=accessed", &error).ok());
  EXPECT_STREQ(error.message,
               "bad value in option \"track=accessed\"; expected "
               "track=auto|accessed-bit|rwx-stash");
  EXPECT_FALSE(hv::parse_options("track=", &error).ok());
  EXPECT_FALSE(hv::parse_options("track=rwx-stashX", &error).ok());
  EXPECT_FALSE(hv::parse_options("=x", &error).ok());
  EXPECT_STREQ(error.message, "option is not key=value: \"=x\"");
  EXPECT_FALSE(hv::parse_options("tracks=auto", &error).ok()) << "key must match exactly";
}

TEST(Options, LongBadTokenIsShortenedNotOverflowed) {
  std::string token = "x=" + std::string(300, 'y');
  hv::OptionsError error;
  EXPECT_FALSE(hv::parse_options(token.c_str(), &error).ok());
  std::string message = error.message;
  EXPECT_NE(message.find("...\""), std::string::npos) << message;
  EXPECT_LT(message.size(), sizeof error.message);
}

TEST(Options, ErrorWithoutErrorOutParameterStillFails) {
  EXPECT_EQ(hv::parse_options("bogus=1 x").error(), arch::Error::kInvalidArgument);
}

TEST(Options, EverythingAfterDoubleDashIsTheImageToChainLoad) {
  const char* text = "agevisor.efi track=rwx-stash -- \\EFI\\debian\\grubx64.efi  quiet  x=1";
  const auto r = hv::parse_options(text);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().track, hv::TrackingOverride::kRwxStash);
  ASSERT_NE(r.value().chain_path, nullptr);
  EXPECT_EQ(std::string(r.value().chain_path, r.value().chain_path_length),
            "\\EFI\\debian\\grubx64.efi");
  EXPECT_STREQ(r.value().chain_options, "quiet  x=1") << "passed on as written";
}

TEST(Options, ChainLoadWithoutOptionsAndNoChainByDefault) {
  const auto r = hv::parse_options("-- agectl.efi");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(r.value().chain_path, r.value().chain_path_length), "agectl.efi");
  EXPECT_STREQ(r.value().chain_options, "");
  EXPECT_EQ(hv::parse_options("track=auto").value().chain_path, nullptr);
}

TEST(Options, DoubleDashWithNothingAfterItIsAnError) {
  hv::OptionsError error;
  EXPECT_FALSE(hv::parse_options("track=auto --   ", &error).ok());
  EXPECT_NE(std::string(error.message).find("an EFI image path"), std::string::npos)
      << error.message;
}

}  // namespace

namespace {

TEST(Options, PeriodTakesMillisecondsUpToAMinute) {
  EXPECT_EQ(hv::parse_options("").value().period_ms, 0u) << "off by default";
  EXPECT_EQ(hv::parse_options("period=250").value().period_ms, 250u);
  EXPECT_EQ(hv::parse_options("period=60000").value().period_ms, 60000u);
  EXPECT_EQ(hv::parse_options("period=0").value().period_ms, 0u);
  for (const char* bad : {"period=", "period=60001", "period=-5", "period=1s", "period=999999"}) {
    hv::OptionsError error;
    EXPECT_FALSE(hv::parse_options(bad, &error).ok()) << bad;
    EXPECT_NE(std::string(error.message).find("period=0..60000"), std::string::npos)
        << error.message;
  }
}

}  // namespace
