#include "arch/ept_pointer.h"

#include <gtest/gtest.h>

namespace {

using arch::EptCapabilities;
using arch::EptPointer;
using arch::Hpa;

TEST(EptPointer, FourLevelWriteBackWithoutAdOnIvyBridge) {
  auto caps = EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 40);
  auto eptp = EptPointer::make(Hpa(0x7F000000), caps, false);
  ASSERT_TRUE(eptp.ok());
  EXPECT_EQ(eptp.value().raw(), 0x7F00001Eu);
  EXPECT_EQ(eptp.value().walk_length(), 4u);
  EXPECT_EQ(eptp.value().memory_type(), 6);
  EXPECT_FALSE(eptp.value().accessed_dirty_enabled());
  EXPECT_EQ(eptp.value().pml4(), Hpa(0x7F000000));
  EXPECT_EQ(EptPointer::make(Hpa(0x7F000000), caps, true).error(), arch::Error::kUnsupported)
      << "no A/D on Ivy Bridge";
}

TEST(EptPointer, AdEnableSetsBit6WhereSupported) {
  auto caps = EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 40);
  auto eptp = EptPointer::make(Hpa(0x1000), caps, true);
  ASSERT_TRUE(eptp.ok());
  EXPECT_EQ(eptp.value().raw(), 0x105Eu);
  EXPECT_TRUE(eptp.value().accessed_dirty_enabled());
}

TEST(EptPointer, RejectsBadAddressesAndMissingCapabilities) {
  auto caps = EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 36);
  EXPECT_EQ(EptPointer::make(Hpa(0x1800), caps, false).error(), arch::Error::kInvalidArgument);
  EXPECT_EQ(EptPointer::make(Hpa(uint64_t{1} << 36), caps, false).error(),
            arch::Error::kInvalidArgument);
  auto no_wb = EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap & ~arch::bit(14), 36);
  EXPECT_EQ(EptPointer::make(Hpa(0x1000), no_wb, false).error(), arch::Error::kUnsupported);
  auto no_walk4 = EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap & ~arch::bit(6), 36);
  EXPECT_EQ(EptPointer::make(Hpa(0x1000), no_walk4, false).error(), arch::Error::kUnsupported);
}

}  // namespace
