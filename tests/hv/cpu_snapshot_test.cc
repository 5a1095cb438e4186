#include "hv/cpu_snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fakes/cpu_profiles.h"
#include "fakes/fake_msr_io.h"

namespace {

using fakes::FakeMsrIo;
namespace msr = arch::msr;

bool was_read(const FakeMsrIo& io, uint32_t index) {
  return std::count(io.msr_reads().begin(), io.msr_reads().end(), index) != 0;
}

void expect_no_missing_reads(const FakeMsrIo& io) {
  EXPECT_TRUE(io.missing_msr_reads().empty())
      << "read an MSR the processor lacks: 0x" << std::hex << io.missing_msr_reads().front();
  EXPECT_TRUE(io.missing_cpuid_leaves().empty())
      << "queried a CPUID leaf the processor lacks: 0x" << std::hex
      << io.missing_cpuid_leaves().front().first;
}

TEST(CpuSnapshot, IvyBridgeReadsEveryPresentMsrAndNothingElse) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_TRUE(s.vendor().is_intel());
  EXPECT_EQ(s.signature().model, 0x3Au);
  EXPECT_TRUE(s.vmx_basic.valid);
  EXPECT_EQ(s.vmx_basic.value, arch::kBochsIvyBridgeVmxBasic);
  EXPECT_TRUE(s.true_procbased_ctls.valid) << "BASIC[55] is set";
  EXPECT_TRUE(s.procbased_ctls2.valid);
  EXPECT_TRUE(s.ept_vpid_cap.valid);
  EXPECT_FALSE(s.vmfunc.valid) << "no VM functions in the secondary allowed-1 bits";
  EXPECT_TRUE(s.mtrr_cap.valid);
  EXPECT_TRUE(s.feature_control.valid);
  EXPECT_FALSE(s.hypervisor_leaf_read);
  EXPECT_FALSE(s.ept_capabilities().accessed_dirty);
  EXPECT_EQ(s.ept_capabilities().max_phys_addr, 40);
}

TEST(CpuSnapshot, HaswellReadsVmfuncBecauseSecondaryControlsOfferIt) {
  FakeMsrIo io = fakes::bochs_haswell();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_TRUE(s.vmfunc.valid);
  EXPECT_TRUE(s.ept_capabilities().accessed_dirty);
}

TEST(CpuSnapshot, NoVmxProcessorReadsNoVmxOrFeatureControlMsr) {
  FakeMsrIo io = fakes::amd_no_vmx();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_EQ(io.msr_reads(), (std::vector<uint32_t>{msr::kIa32MtrrCap, msr::kIa32MtrrDefType}));
  EXPECT_FALSE(s.vmx_basic.valid);
  EXPECT_FALSE(s.feature_control.valid);
  EXPECT_EQ(s.vendor().id, arch::VendorId::kAmd);
}

TEST(CpuSnapshot, TrueControlsAreReadOnlyWhenBasicBit55IsSet) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_msr(msr::kIa32VmxBasic, arch::kBochsIvyBridgeVmxBasic & ~arch::bit(55))
      .remove_msr(msr::kIa32VmxTruePinbasedCtls)
      .remove_msr(msr::kIa32VmxTrueProcbasedCtls)
      .remove_msr(msr::kIa32VmxTrueExitCtls)
      .remove_msr(msr::kIa32VmxTrueEntryCtls);
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_FALSE(s.true_procbased_ctls.valid);
  // Negotiation then uses the original MSR, whose allowed-0 includes CR3-load exiting.
  EXPECT_TRUE(s.procbased().must_be_one(arch::proc_based::kCr3LoadExiting));
}

TEST(CpuSnapshot, NegotiationUsesTrueControlsWhenPresent) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  EXPECT_FALSE(s.procbased().must_be_one(arch::proc_based::kCr3LoadExiting));
  EXPECT_FALSE(s.exit().must_be_one(arch::exit_ctls::kSaveDebugControls));
  EXPECT_TRUE(s.entry().can_be_one(arch::entry_ctls::kIa32eModeGuest));
}

TEST(CpuSnapshot, SecondaryControlsAreReadOnlyWhenPrimaryAllowsThem) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_msr(msr::kIa32VmxProcbasedCtls, 0x7FF9FFFE'0401E172)
      .set_msr(msr::kIa32VmxTrueProcbasedCtls, 0x7FF9FFFE'04006172)
      .remove_msr(msr::kIa32VmxProcbasedCtls2)
      .remove_msr(msr::kIa32VmxEptVpidCap);
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_FALSE(s.procbased_ctls2.valid);
  EXPECT_FALSE(s.ept_vpid_cap.valid);
  EXPECT_FALSE(s.procbased2().can_be_one(arch::proc_based2::kEpt));
}

TEST(CpuSnapshot, EptVpidCapIsReadOnlyWithEptOrVpid) {
  for (uint64_t allowed1 : {uint64_t{0x2}, uint64_t{0x20}, uint64_t{0x80}}) {
    FakeMsrIo io = fakes::bochs_ivy_bridge();
    io.set_msr(msr::kIa32VmxProcbasedCtls2, allowed1 << 32);
    bool expected = allowed1 != 0x80;
    if (!expected)
      io.remove_msr(msr::kIa32VmxEptVpidCap);
    hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
    expect_no_missing_reads(io);
    EXPECT_EQ(s.ept_vpid_cap.valid, expected) << "secondary allowed-1 0x" << std::hex << allowed1;
  }
}

TEST(CpuSnapshot, MtrrMsrsAreReadOnlyWithCpuidMtrr) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_cpuid(1, 0, {0x000306A9, 0, 0x20, 0xBFEBFBFF & ~(1u << 12)})
      .remove_msr(msr::kIa32MtrrCap)
      .remove_msr(msr::kIa32MtrrDefType);
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_FALSE(s.mtrr_cap.valid);
  EXPECT_FALSE(was_read(io, msr::kIa32MtrrDefType));
}

TEST(CpuSnapshot, SmxAloneReadsFeatureControlButNoVmxMsr) {
  FakeMsrIo io = fakes::amd_no_vmx();
  io.set_cpuid(0, 0, arch::kGenuineIntelLeaf0)
      .set_cpuid(1, 0, {0x000306A9, 0, 1u << 6, 0})
      .set_msr(msr::kIa32FeatureControl, 0x3);
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_TRUE(s.feature_control.valid);
  EXPECT_FALSE(was_read(io, msr::kIa32VmxBasic));
}

TEST(CpuSnapshot, LeavesAboveTheMaximumAreNotQueried) {
  FakeMsrIo io;
  io.set_cpuid(0, 0, {0x1, 0x756E6547, 0x6C65746E, 0x49656E69})
      .set_cpuid(1, 0, {0x00000F29, 0, 0, 0})
      .set_cpuid(0x80000000, 0, {0x80000004, 0, 0, 0})
      .set_cpuid(0x80000001, 0, {});
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_EQ(s.address_widths().physical, 36) << "no leaf 80000008H: the default";
  EXPECT_TRUE(io.msr_reads().empty());
}

TEST(CpuSnapshot, HypervisorLeafIsReadOnlyUnderAHypervisor) {
  FakeMsrIo io = fakes::kvm_nested();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  expect_no_missing_reads(io);
  EXPECT_TRUE(s.hypervisor_leaf_read);
  EXPECT_EQ(s.hypervisor.ebx, 0x4B4D564Bu);
}

TEST(CpuSnapshot, FailedReadLeavesTheValueInvalidAndLaterDecisionsFollow) {
  FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.remove_msr(msr::kIa32VmxBasic);
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  EXPECT_EQ(io.missing_msr_reads(), (std::vector<uint32_t>{msr::kIa32VmxBasic}));
  EXPECT_FALSE(s.vmx_basic.valid);
  EXPECT_FALSE(s.true_pinbased_ctls.valid) << "BASIC[55] unknown: TRUE_* not read";
}

}  // namespace
