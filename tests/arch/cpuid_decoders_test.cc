#include <gtest/gtest.h>

#include <cstring>

#include "arch/address_widths.h"
#include "arch/cpu_features.h"
#include "arch/cpu_signature.h"
#include "arch/cpu_vendor.h"

namespace {

using arch::CpuidResult;

TEST(CpuVendor, DecodesIntelAndAmdStringsFromLeafZero) {
  auto intel = arch::CpuVendor::from_cpuid(arch::kGenuineIntelLeaf0);
  EXPECT_STREQ(intel.name.data(), "GenuineIntel");
  EXPECT_TRUE(intel.is_intel());
  EXPECT_EQ(intel.max_basic_leaf, 0xDu);
  auto amd = arch::CpuVendor::from_cpuid(arch::kAuthenticAmdLeaf0);
  EXPECT_STREQ(amd.name.data(), "AuthenticAMD");
  EXPECT_EQ(amd.id, arch::VendorId::kAmd);
  EXPECT_FALSE(amd.is_intel());
}

TEST(CpuVendor, UnknownVendorKeepsItsNameAndIsNotIntel) {
  // "KVMKVMKVM\0\0\0", the string KVM returns from its hypervisor leaf.
  auto v = arch::CpuVendor::from_cpuid({0x1, 0x4B4D564B, 0x0000004D, 0x564B4D56});
  EXPECT_STREQ(v.name.data(), "KVMKVMKVM");
  EXPECT_EQ(v.id, arch::VendorId::kUnknown);
}

TEST(CpuSignature, IvyBridgeAndHaswellUseTheExtendedModel) {
  auto ivy = arch::CpuSignature::from_cpuid_eax(0x000306A9);
  EXPECT_EQ(ivy.family, 6u);
  EXPECT_EQ(ivy.model, 0x3Au);
  EXPECT_EQ(ivy.stepping, 9u);
  auto haswell = arch::CpuSignature::from_cpuid_eax(0x000306C3);
  EXPECT_EQ(haswell.model, 0x3Cu);
  EXPECT_EQ(haswell.stepping, 3u);
}

TEST(CpuSignature, ExtendedFamilyCountsOnlyForFamilyFifteen) {
  auto zen3 = arch::CpuSignature::from_cpuid_eax(0x00A20F12);
  EXPECT_EQ(zen3.family, 0x19u);
  EXPECT_EQ(zen3.model, 0x21u);
  EXPECT_EQ(zen3.stepping, 2u);
  // Family 5 ignores both extended fields (they are normally zero; set them to prove it).
  auto p5 = arch::CpuSignature::from_cpuid_eax(0x0FF70543);
  EXPECT_EQ(p5.family, 5u);
  EXPECT_EQ(p5.model, 4u);
  EXPECT_EQ(arch::CpuSignature::from_cpuid_eax(0x00002000).type, 2u);
}

TEST(CpuFeatures, EachFlagComesFromItsLeafAndBit) {
  struct Case {
    int leaf;  // 0: leaf 1, 1: leaf 7, 2: leaf 0xD.1, 3: 0x80000001
    char reg;
    unsigned bit;
    bool arch::CpuFeatures::*flag;
  };
  const Case cases[] = {
      {0, 'c', 5, &arch::CpuFeatures::vmx},           {0, 'c', 6, &arch::CpuFeatures::smx},
      {0, 'c', 17, &arch::CpuFeatures::pcid},         {0, 'c', 21, &arch::CpuFeatures::x2apic},
      {0, 'c', 24, &arch::CpuFeatures::tsc_deadline}, {0, 'c', 26, &arch::CpuFeatures::xsave},
      {0, 'c', 27, &arch::CpuFeatures::osxsave},      {0, 'c', 31, &arch::CpuFeatures::hypervisor},
      {0, 'd', 5, &arch::CpuFeatures::msr},           {0, 'd', 6, &arch::CpuFeatures::pae},
      {0, 'd', 9, &arch::CpuFeatures::apic},          {0, 'd', 12, &arch::CpuFeatures::mtrr},
      {0, 'd', 16, &arch::CpuFeatures::pat},          {1, 'b', 10, &arch::CpuFeatures::invpcid},
      {1, 'c', 5, &arch::CpuFeatures::waitpkg},       {1, 'c', 22, &arch::CpuFeatures::rdpid},
      {2, 'a', 3, &arch::CpuFeatures::xsaves},        {3, 'd', 20, &arch::CpuFeatures::nx},
      {3, 'd', 26, &arch::CpuFeatures::pages_1g},     {3, 'd', 27, &arch::CpuFeatures::rdtscp},
      {3, 'd', 29, &arch::CpuFeatures::long_mode},
  };
  for (const Case& c : cases) {
    CpuidResult leaves[4] = {};
    CpuidResult& r = leaves[c.leaf];
    uint32_t& reg = c.reg == 'a' ? r.eax : c.reg == 'b' ? r.ebx : c.reg == 'c' ? r.ecx : r.edx;
    reg = 1u << c.bit;
    auto f = arch::CpuFeatures::from_cpuid(leaves[0], leaves[1], leaves[2], leaves[3]);
    EXPECT_TRUE(f.*c.flag) << "leaf " << c.leaf << " e" << c.reg << "x bit " << c.bit;
    // No other flag may pick up the same bit.
    int set = 0;
    for (const Case& other : cases)
      set += (f.*other.flag) ? 1 : 0;
    EXPECT_EQ(set, 1) << "leaf " << c.leaf << " e" << c.reg << "x bit " << c.bit;
  }
}

TEST(AddressWidths, ReadsLeaf80000008AndDefaultsTo36WithoutIt) {
  auto w = arch::AddressWidths::from_cpuid(0x80000008, {0x00003027, 0, 0, 0});
  EXPECT_EQ(w.physical, 39);
  EXPECT_EQ(w.linear, 48);
  EXPECT_TRUE(w.from_leaf);
  auto none = arch::AddressWidths::from_cpuid(0x80000004, {0x00003027, 0, 0, 0});
  EXPECT_EQ(none.physical, 36);
  EXPECT_FALSE(none.from_leaf);
}

}  // namespace
