#include "hv/capability_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/cpu_profiles.h"
#include "hv/tracking_choice.h"

namespace {

std::vector<std::string> report(fakes::FakeMsrIo io, hv::ReportOptions options = {}) {
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  std::vector<std::string> lines;
  hv::write_capability_report(s, options, [&](const char* line) { lines.emplace_back(line); });
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& exact) {
  for (const auto& l : lines)
    if (l == exact)
      return true;
  return false;
}

// The line starting with `prefix`, or "" (and a test failure) if none does.
std::string line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0)
      return l;
  ADD_FAILURE() << "no line starts with \"" << prefix << "\"";
  return "";
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines)
    all += l + "\n";
  return all;
}

TEST(CapabilityReport, IvyBridgeHasNoEptAdAndUsesRwxStash) {
  auto lines = report(fakes::bochs_ivy_bridge());
  EXPECT_TRUE(has_line(lines, "EPT A/D: no")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "access tracking mode: rwx-stash")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "verdict: VMX usable")) << joined(lines);
  EXPECT_EQ(line_starting(lines, "cpu: "),
            "cpu: GenuineIntel, family 0x6, model 0x3a, stepping 9 (CPUID.1:EAX 0x000306a9)");
  EXPECT_NE(line_starting(lines, "IA32_FEATURE_CONTROL: 0x0 (unlocked").find("writes 0x5"),
            std::string::npos);
  EXPECT_NE(line_starting(lines, "VMX basic:").find("TRUE_* controls: yes"), std::string::npos);
  EXPECT_NE(line_starting(lines, "EPT: ").find("1 GiB pages no"), std::string::npos);
  EXPECT_EQ(line_starting(lines, "INVEPT:"), "INVEPT: yes, single-context yes, all-context yes");
  EXPECT_EQ(line_starting(lines, "preemption timer:"),
            "preemption timer: yes, rate 0 (one tick per 2^0 TSC cycles)");
  EXPECT_EQ(line_starting(lines, "MAXPHYADDR:"), "MAXPHYADDR: 40 (CPUID 0x80000008)");
  EXPECT_EQ(line_starting(lines, "MTRR:"),
            "MTRR: 8 variable ranges, fixed ranges yes, WC yes, SMRR no; enabled yes, fixed "
            "enabled yes, default type WB");
}

TEST(CapabilityReport, HaswellHasEptAdAndUsesTheAccessedBit) {
  auto lines = report(fakes::bochs_haswell());
  EXPECT_TRUE(has_line(lines, "EPT A/D: yes")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "access tracking mode: accessed-bit")) << joined(lines);
  EXPECT_NE(line_starting(lines, "EPT: ").find("1 GiB pages yes"), std::string::npos);
  EXPECT_NE(line_starting(lines, "VMX misc:").find("VMWRITE to exit fields yes"),
            std::string::npos);
}

TEST(CapabilityReport, ForcedModeIsMarkedForced) {
  auto lines = report(fakes::bochs_haswell(), {hv::TrackingOverride::kRwxStash});
  EXPECT_TRUE(has_line(lines, "access tracking mode: rwx-stash (forced)")) << joined(lines);
  lines = report(fakes::bochs_haswell(), {hv::TrackingOverride::kAccessedBit});
  EXPECT_TRUE(has_line(lines, "access tracking mode: accessed-bit (forced)")) << joined(lines);
}

TEST(CapabilityReport, ForcingAccessedBitWithoutAdSaysWhy) {
  auto lines = report(fakes::bochs_ivy_bridge(), {hv::TrackingOverride::kAccessedBit});
  EXPECT_EQ(
      line_starting(lines, "access tracking mode:"),
      std::string("access tracking mode: unavailable: ") + hv::kAccessedBitUnsupportedMessage);
}

TEST(CapabilityReport, AmdGetsOneLineReasonAndNoVmxDetails) {
  auto lines = report(fakes::amd_no_vmx());
  EXPECT_EQ(line_starting(lines, "verdict:"),
            "verdict: VMX unusable: not an Intel processor: agevisor needs Intel VMX");
  EXPECT_EQ(line_starting(lines, "VMX: "), "VMX: not supported (CPUID.1:ECX.VMX), SMX: no");
  EXPECT_TRUE(has_line(lines, "access tracking mode: none (VMX unusable)"));
  for (const auto& l : lines) {
    EXPECT_EQ(l.rfind("EPT", 0), std::string::npos) << l;
    EXPECT_EQ(l.rfind("IA32_FEATURE_CONTROL", 0), std::string::npos) << l;
  }
}

TEST(CapabilityReport, LockedWithVmxOffIsRefused) {
  auto lines = report(fakes::locked_vmx_off());
  EXPECT_EQ(line_starting(lines, "IA32_FEATURE_CONTROL:"),
            "IA32_FEATURE_CONTROL: 0x1 (locked, VMX outside SMX off) -> refuse: firmware "
            "disabled VMX until reset");
  EXPECT_NE(line_starting(lines, "verdict:").find("VMX unusable: VMX disabled by firmware"),
            std::string::npos);
}

TEST(CapabilityReport, KvmNestedUsesFeatureControlAsIsAndNamesTheHypervisor) {
  auto lines = report(fakes::kvm_nested());
  EXPECT_EQ(line_starting(lines, "IA32_FEATURE_CONTROL:"),
            "IA32_FEATURE_CONTROL: 0x40005 (locked, VMX outside SMX on) -> used as is");
  EXPECT_EQ(line_starting(lines, "hypervisor:"),
            "hypervisor: present, signature \"KVMKVMKVM\" (CPUID 0x40000000)");
  EXPECT_TRUE(has_line(lines, "verdict: VMX usable"));
  EXPECT_TRUE(has_line(lines, "access tracking mode: accessed-bit"));
}

TEST(CapabilityReport, LinesAreSingleAndUntruncated) {
  for (auto io : {fakes::bochs_ivy_bridge(), fakes::bochs_haswell(), fakes::amd_no_vmx(),
                  fakes::locked_vmx_off(), fakes::kvm_nested()}) {
    for (const auto& l : report(io)) {
      EXPECT_FALSE(l.empty());
      EXPECT_EQ(l.find('\n'), std::string::npos) << l;
      EXPECT_LT(l.size(), 191u) << "may have been truncated: " << l;
    }
  }
}

TEST(TrackingChoice, AutoFollowsTheAdCapabilityAndOverridesAreHonoured) {
  auto ad = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 40);
  auto no_ad = arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 40);
  using hv::TrackingOverride;
  using mm::TrackingMode;
  EXPECT_EQ(hv::choose_tracking_mode(ad, TrackingOverride::kAuto).value(),
            TrackingMode::kAccessedBit);
  EXPECT_EQ(hv::choose_tracking_mode(no_ad, TrackingOverride::kAuto).value(),
            TrackingMode::kRwxStash);
  EXPECT_EQ(hv::choose_tracking_mode(ad, TrackingOverride::kRwxStash).value(),
            TrackingMode::kRwxStash);
  EXPECT_EQ(hv::choose_tracking_mode(no_ad, TrackingOverride::kRwxStash).value(),
            TrackingMode::kRwxStash);
  EXPECT_EQ(hv::choose_tracking_mode(ad, TrackingOverride::kAccessedBit).value(),
            TrackingMode::kAccessedBit);
  EXPECT_EQ(hv::choose_tracking_mode(no_ad, TrackingOverride::kAccessedBit).error(),
            arch::Error::kUnsupported);
}

}  // namespace
