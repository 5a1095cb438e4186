#include <gtest/gtest.h>

#include "arch/feature_control.h"
#include "arch/memory_type.h"
#include "arch/mtrr_capabilities.h"
#include "arch/mtrr_def_type.h"
#include "arch/vmx_allowed_controls.h"
#include "arch/vmx_basic.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_misc.h"

namespace {

TEST(FeatureControl, DecodesLockAndVmxEnables) {
  arch::FeatureControl unlocked(0);
  EXPECT_FALSE(unlocked.locked());
  EXPECT_FALSE(unlocked.vmx_outside_smx());
  arch::FeatureControl locked_off(0x1);
  EXPECT_TRUE(locked_off.locked());
  EXPECT_FALSE(locked_off.vmx_outside_smx());
  EXPECT_FALSE(locked_off.vmx_inside_smx());
  arch::FeatureControl kvm(0x40005);  // what OVMF under KVM leaves behind
  EXPECT_TRUE(kvm.locked());
  EXPECT_TRUE(kvm.vmx_outside_smx());
  EXPECT_FALSE(kvm.vmx_inside_smx());
  EXPECT_TRUE(kvm.sgx_enabled());
  EXPECT_TRUE(arch::FeatureControl(0x3).vmx_inside_smx());
  EXPECT_EQ(arch::FeatureControl::kLock | arch::FeatureControl::kVmxOutsideSmx, 0x5u);
}

TEST(VmxBasic, DecodesTheBochsIvyBridgeValue) {
  arch::VmxBasic basic(arch::kBochsIvyBridgeVmxBasic);
  EXPECT_EQ(basic.revision_id(), 0x2Bu);
  EXPECT_EQ(basic.vmcs_size(), 4096u);
  EXPECT_EQ(basic.memory_type(), static_cast<uint8_t>(arch::MemoryType::kWriteBack));
  EXPECT_TRUE(basic.ins_outs_info());
  EXPECT_TRUE(basic.true_controls());
  EXPECT_FALSE(basic.no_error_code_requirement());
  EXPECT_FALSE(basic.addresses_limited_to_32_bits());
  EXPECT_FALSE(basic.dual_monitor_smm());
}

TEST(VmxBasic, EachFlagIsItsOwnBit) {
  EXPECT_TRUE(arch::VmxBasic(arch::bit(48)).addresses_limited_to_32_bits());
  EXPECT_TRUE(arch::VmxBasic(arch::bit(49)).dual_monitor_smm());
  EXPECT_TRUE(arch::VmxBasic(arch::bit(54)).ins_outs_info());
  EXPECT_FALSE(arch::VmxBasic(arch::bit(54)).true_controls());
  EXPECT_TRUE(arch::VmxBasic(arch::bit(55)).true_controls());
  EXPECT_TRUE(arch::VmxBasic(arch::bit(56)).no_error_code_requirement());
  EXPECT_EQ(arch::VmxBasic(arch::bit(31) | 0x7FFF'FFFF).revision_id(), 0x7FFF'FFFFu)
      << "bit 31 is not part of the revision id";
}

TEST(VmxMisc, DecodesTheBochsValues) {
  arch::VmxMisc ivy(arch::kBochsIvyBridgeVmxMisc);
  EXPECT_EQ(ivy.preemption_timer_rate(), 0);
  EXPECT_TRUE(ivy.stores_lma_on_exit());
  EXPECT_TRUE(ivy.activity_hlt());
  EXPECT_TRUE(ivy.activity_shutdown());
  EXPECT_TRUE(ivy.activity_wait_for_sipi());
  EXPECT_EQ(ivy.cr3_target_count(), 4u);
  EXPECT_EQ(ivy.max_msr_list_entries(), 512u);
  EXPECT_FALSE(ivy.vmwrite_exit_fields());
  arch::VmxMisc haswell(arch::kBochsHaswellVmxMisc);
  EXPECT_TRUE(haswell.vmwrite_exit_fields());
  EXPECT_FALSE(haswell.inject_zero_length());
}

TEST(VmxMisc, RateAndCountsUseTheirFullFields) {
  arch::VmxMisc misc(0x1F | (uint64_t{0x1FF} << 16) | (uint64_t{7} << 25) | arch::bit(30) |
                     (uint64_t{0xABCD} << 32));
  EXPECT_EQ(misc.preemption_timer_rate(), 31);
  EXPECT_EQ(misc.cr3_target_count(), 0x1FFu);
  EXPECT_EQ(misc.max_msr_list_entries(), 4096u);
  EXPECT_TRUE(misc.inject_zero_length());
  EXPECT_EQ(misc.mseg_revision_id(), 0xABCDu);
}

TEST(VmxAllowedControls, SplitsTheMsrIntoAllowedZeroAndOneSettings) {
  auto ctls2 = arch::VmxAllowedControls::from_msr(arch::kBochsIvyBridgeProcbasedCtls2);
  EXPECT_EQ(ctls2.allowed0, 0u);
  EXPECT_EQ(ctls2.allowed1, 0x8FFu);
  EXPECT_TRUE(ctls2.can_be_one(arch::proc_based2::kEpt | arch::proc_based2::kVpid |
                               arch::proc_based2::kUnrestrictedGuest));
  EXPECT_FALSE(ctls2.can_be_one(arch::proc_based2::kXsaves));
  EXPECT_TRUE(ctls2.consistent());
  auto pin = arch::VmxAllowedControls::from_msr(0x0000007F'00000016);
  EXPECT_TRUE(pin.must_be_one(arch::pin_based::kDefault1));
  EXPECT_FALSE(pin.must_be_one(arch::pin_based::kNmiExiting));
  EXPECT_EQ(pin.raw(), 0x0000007F'00000016u);
  EXPECT_FALSE(arch::VmxAllowedControls::from_msr(0x1).consistent());
}

TEST(MtrrSummary, DecodesCapabilitiesAndDefaultType) {
  arch::MtrrCapabilities cap(0xD08);  // 8 variable ranges, fixed, WC, SMRR
  EXPECT_EQ(cap.variable_count(), 8u);
  EXPECT_TRUE(cap.fixed_supported());
  EXPECT_TRUE(cap.write_combining());
  EXPECT_TRUE(cap.smrr());
  EXPECT_FALSE(arch::MtrrCapabilities(0x508).smrr());
  arch::MtrrDefType def(0xC06);
  EXPECT_TRUE(def.enabled());
  EXPECT_TRUE(def.fixed_enabled());
  EXPECT_STREQ(arch::memory_type_name(def.default_type()), "WB");
  arch::MtrrDefType off(0x400);
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.fixed_enabled());
  EXPECT_STREQ(arch::memory_type_name(off.default_type()), "UC");
}

TEST(MemoryType, NamesEveryEncodingAndFlagsReservedOnes) {
  const char* expected[] = {"UC", "WC", "reserved", "reserved", "WT", "WP", "WB", "reserved"};
  for (uint64_t e = 0; e < 8; ++e)
    EXPECT_STREQ(arch::memory_type_name(e), expected[e]) << e;
}

TEST(VmxControls, Default1MasksMatchTheSdmBitLists) {
  auto mask = [](std::initializer_list<unsigned> bits) {
    uint32_t m = 0;
    for (unsigned b : bits)
      m |= 1u << b;
    return m;
  };
  EXPECT_EQ(arch::pin_based::kDefault1, mask({1, 2, 4}));
  EXPECT_EQ(arch::proc_based::kDefault1, mask({1, 4, 5, 6, 8, 13, 14, 15, 16, 26}));
  EXPECT_EQ(arch::exit_ctls::kDefault1, mask({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17}));
  EXPECT_EQ(arch::entry_ctls::kDefault1, mask({0, 1, 2, 3, 4, 5, 6, 7, 8, 12}));
}

}  // namespace
