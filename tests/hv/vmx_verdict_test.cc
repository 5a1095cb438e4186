#include "hv/vmx_verdict.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/cpu_profiles.h"
#include "hv/feature_control_plan.h"

namespace {

using fakes::FakeMsrIo;
namespace msr = arch::msr;

hv::VmxVerdict verdict_for(FakeMsrIo io) {
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  return hv::assess_vmx(s);
}

void expect_refused(FakeMsrIo io, const std::string& reason_part) {
  hv::VmxVerdict v = verdict_for(std::move(io));
  EXPECT_FALSE(v.usable);
  EXPECT_NE(std::string(v.reason).find(reason_part), std::string::npos) << v.reason;
}

TEST(VmxVerdict, BochsModelsAndKvmAreUsable) {
  EXPECT_TRUE(verdict_for(fakes::bochs_ivy_bridge()).usable);
  EXPECT_TRUE(verdict_for(fakes::bochs_haswell()).usable);
  EXPECT_TRUE(verdict_for(fakes::kvm_nested()).usable);
  EXPECT_STREQ(verdict_for(fakes::kvm_nested()).reason, "VMX usable");
}

TEST(VmxVerdict, RefusesNonIntelAndMissingVmx) {
  expect_refused(fakes::amd_no_vmx(), "not an Intel processor");
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_cpuid(1, 0, {0x000306A9, 0, 0, 0xBFEBFBFF});
  expect_refused(io, "no VMX: CPUID.1:ECX.VMX");
}

TEST(VmxVerdict, RefusesFeatureControlLockedWithVmxOff) {
  expect_refused(fakes::locked_vmx_off(), "VMX disabled by firmware");
  FakeMsrIo smx_only = fakes::bochs_ivy_bridge();
  smx_only.set_msr(msr::kIa32FeatureControl, 0x3);  // VMX inside SMX only
  expect_refused(smx_only, "VMX disabled by firmware");
}

TEST(VmxVerdict, EptAndUnrestrictedGuestAreHardRequirements) {
  FakeMsrIo no_ept = fakes::bochs_ivy_bridge();
  no_ept.set_msr(msr::kIa32VmxProcbasedCtls2, uint64_t{0x8FD} << 32);
  expect_refused(no_ept, "no EPT");
  FakeMsrIo no_ug = fakes::bochs_ivy_bridge();
  no_ug.set_msr(msr::kIa32VmxProcbasedCtls2, uint64_t{0x87F} << 32);
  expect_refused(no_ug, "no unrestricted guest");
  FakeMsrIo no_secondary = fakes::bochs_ivy_bridge();
  no_secondary.set_msr(msr::kIa32VmxProcbasedCtls, 0x7FF9FFFE'0401E172)
      .set_msr(msr::kIa32VmxTrueProcbasedCtls, 0x7FF9FFFE'04006172);
  expect_refused(no_secondary, "no secondary processor-based controls");
}

TEST(VmxVerdict, EptMustWalkFourLevelsWithWriteBackTablesAndHaveInvept) {
  const uint64_t cap = arch::kBochsIvyBridgeEptVpidCap;
  FakeMsrIo no_walk4 = fakes::bochs_ivy_bridge();
  no_walk4.set_msr(msr::kIa32VmxEptVpidCap, cap & ~arch::bit(6));
  expect_refused(no_walk4, "4-level");
  FakeMsrIo no_wb = fakes::bochs_ivy_bridge();
  no_wb.set_msr(msr::kIa32VmxEptVpidCap, cap & ~arch::bit(14));
  expect_refused(no_wb, "write-back");
  FakeMsrIo no_invept = fakes::bochs_ivy_bridge();
  no_invept.set_msr(msr::kIa32VmxEptVpidCap, cap & ~arch::bit(20));
  expect_refused(no_invept, "no INVEPT");
  FakeMsrIo no_invept_types = fakes::bochs_ivy_bridge();
  no_invept_types.set_msr(msr::kIa32VmxEptVpidCap, cap & ~(arch::bit(25) | arch::bit(26)));
  expect_refused(no_invept_types, "no INVEPT");
}

TEST(VmxVerdict, VpidAndAdAreNotRequired) {
  FakeMsrIo no_vpid = fakes::bochs_ivy_bridge();
  no_vpid.set_msr(msr::kIa32VmxProcbasedCtls2, uint64_t{0x8DF} << 32);
  EXPECT_TRUE(verdict_for(no_vpid).usable);
}

TEST(VmxVerdict, RefusesWithout64BitHostAndWithUnreadableMsrs) {
  FakeMsrIo no_host64 = fakes::bochs_ivy_bridge();
  no_host64.set_msr(msr::kIa32VmxExitCtls, 0x007FFDFF'00036DFF)
      .set_msr(msr::kIa32VmxTrueExitCtls, 0x007FFDFF'00036DFB);
  expect_refused(no_host64, "64-bit host");
  FakeMsrIo no_misc = fakes::bochs_ivy_bridge();
  no_misc.remove_msr(msr::kIa32VmxMisc);
  expect_refused(no_misc, "capability MSRs unreadable");
  FakeMsrIo no_fc = fakes::bochs_ivy_bridge();
  no_fc.remove_msr(msr::kIa32FeatureControl);
  expect_refused(no_fc, "IA32_FEATURE_CONTROL unreadable");
}

TEST(FeatureControlPlan, LocksUnlockedMsrKeepingItsOtherBits) {
  using Action = hv::FeatureControlPlan::Action;
  auto unlocked = hv::FeatureControlPlan::from(arch::FeatureControl(0));
  EXPECT_EQ(unlocked.action, Action::kLockAndEnable);
  EXPECT_EQ(unlocked.value_to_write, 0x5u);
  auto with_sgx = hv::FeatureControlPlan::from(arch::FeatureControl(0x40000));
  EXPECT_EQ(with_sgx.value_to_write, 0x40005u);
  EXPECT_EQ(hv::FeatureControlPlan::from(arch::FeatureControl(0x40005)).action, Action::kUseAsIs);
  EXPECT_EQ(hv::FeatureControlPlan::from(arch::FeatureControl(0x1)).action, Action::kRefuse);
  EXPECT_EQ(hv::FeatureControlPlan::from(arch::FeatureControl(0x3)).action, Action::kRefuse);
}

}  // namespace
