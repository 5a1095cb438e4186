#include <gtest/gtest.h>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/result.h"

namespace {

using arch::Error;
using arch::Gpa;
using arch::Result;

TEST(Bits, RangeAndFieldHelpersFollowSdmNotation) {
  EXPECT_EQ(arch::bit_range(51, 12), 0x000F'FFFF'FFFF'F000u);
  EXPECT_EQ(arch::bit_range(63, 63), 0x8000'0000'0000'0000u);
  EXPECT_EQ(arch::extract(0xABCD, 11, 8), 0xBu);
  EXPECT_EQ(arch::insert(0xFFFF, 7, 4, 0x0), 0xFF0Fu);
  EXPECT_EQ(arch::insert(0, 7, 4, 0x1F), 0xF0u) << "excess field bits are dropped";
  EXPECT_TRUE(arch::test_bit(0x100, 8));
  EXPECT_FALSE(arch::test_bit(0x100, 9));
  EXPECT_EQ(arch::set_bit(0, 63, true), 0x8000'0000'0000'0000u);
  EXPECT_EQ(arch::align_up(0x1001, 0x1000), 0x2000u);
  EXPECT_EQ(arch::align_down(0x1FFF, 0x1000), 0x1000u);
}

TEST(Address, StrongTypesCompareAndAlign) {
  constexpr Gpa a(0x20'1234);
  EXPECT_EQ(a.page_base().value(), 0x20'1000u);
  EXPECT_EQ(a.page_base(arch::kPageSize2M).value(), 0x20'0000u);
  EXPECT_LT(a, a.offset(1));
  EXPECT_FALSE(a.is_aligned_to(arch::kPageSize4K));
  static_assert(!std::is_convertible_v<uint64_t, Gpa>, "no implicit raw-integer addresses");
  static_assert(!std::is_convertible_v<Gpa, arch::Hpa>, "guest and host addresses differ");
}

Result<int> half(int v) {
  if (v % 2 != 0)
    return Error::kInvalidArgument;
  return v / 2;
}

Result<int> quarter(int v) {
  int h = TRY(half(v));
  return TRY(half(h));
}

TEST(Result, TryPropagatesTheFirstError) {
  EXPECT_EQ(quarter(8).value(), 2);
  EXPECT_EQ(quarter(6).error(), Error::kInvalidArgument);
  EXPECT_EQ(quarter(7).error(), Error::kInvalidArgument);
  EXPECT_EQ(quarter(6).value_or(-1), -1);
  EXPECT_STREQ(arch::error_name(Error::kNoMemory), "out of memory");
}

TEST(ResultDeathTest, ValueOfAnErrorPanics) {
  EXPECT_DEATH((void)half(3).value(), "HV_PANIC.*assert: ok\\(\\)");
}

TEST(AssertDeathTest, AssertIsOnInEveryBuild) {
  EXPECT_DEATH(HV_ASSERT(1 + 1 == 3), "assert: 1 \\+ 1 == 3");
}

TEST(EptCapabilities, DecodesTheBochsModelsFromPlatformNotes) {
  auto ivy = arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 36);
  EXPECT_TRUE(ivy.execute_only);
  EXPECT_TRUE(ivy.page_walk_4);
  EXPECT_TRUE(ivy.memtype_wb);
  EXPECT_TRUE(ivy.pages_2m);
  EXPECT_FALSE(ivy.pages_1g);
  EXPECT_TRUE(ivy.invept);
  EXPECT_FALSE(ivy.accessed_dirty);
  EXPECT_TRUE(ivy.invept_single);
  EXPECT_TRUE(ivy.invept_all);
  EXPECT_TRUE(ivy.invvpid);
  EXPECT_TRUE(ivy.invvpid_single_globals);
  auto haswell = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 39);
  EXPECT_TRUE(haswell.accessed_dirty);
  EXPECT_TRUE(haswell.pages_1g);
  EXPECT_EQ(haswell.max_phys_addr, 39);
}

}  // namespace
