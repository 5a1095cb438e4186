// arch::EptEntry: the hardware layout of an EPT entry, bit for bit as the SDM figures.
#include <gtest/gtest.h>

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_entry.h"

namespace {

using arch::bit;
using arch::EptEntry;
using arch::EptLevel;

constexpr EptLevel kPte = EptLevel::kPte;
constexpr EptLevel kPde = EptLevel::kPde;
constexpr EptLevel kPdpte = EptLevel::kPdpte;
constexpr EptLevel kPml4e = EptLevel::kPml4e;

TEST(EptEntry, AccessorsFollowTheSdmBitPositions) {
  EptEntry e;
  e.set_readable(true).set_executable(true).set_memory_type(arch::MemoryType::kWriteThrough);
  e.set_ignore_pat(true).set_accessed(true).set_dirty(true).set_user_execute(true);
  e.set_address(arch::Hpa(0x1234'5000)).set_suppress_ve(true);
  EXPECT_EQ(e.raw(), 0x8000'0000'1234'5000u | 0x765u);
  EXPECT_EQ(e.rwx(), 0b101u);
  EXPECT_EQ(e.memory_type(), 4u);
  EXPECT_EQ(e.address().value(), 0x1234'5000u);
  e.set_supervisor_shadow_stack(true).set_sub_page_write(true).set_large_page(true);
  EXPECT_EQ(e.raw() & (bit(60) | bit(61) | bit(7)), bit(60) | bit(61) | bit(7));
  e.set_readable(false).set_large_page(false).set_address(arch::Hpa(0));
  EXPECT_FALSE(e.readable());
  EXPECT_EQ(e.address().value(), 0u);
}

TEST(EptEntry, LeafDependsOnLevelAndLargePageBit) {
  const EptEntry plain(0x5007);
  const EptEntry large(0x5087);
  EXPECT_TRUE(plain.is_leaf(kPte));
  EXPECT_TRUE(large.is_leaf(kPte));
  EXPECT_FALSE(plain.is_leaf(kPde));
  EXPECT_TRUE(large.is_leaf(kPde));
  EXPECT_TRUE(large.is_leaf(kPdpte));
  EXPECT_FALSE(large.is_leaf(kPml4e));
}

TEST(EptEntry, LevelSpansAre4K2M1G512G) {
  EXPECT_EQ(arch::ept_level_span(kPte), arch::kPageSize4K);
  EXPECT_EQ(arch::ept_level_span(kPde), arch::kPageSize2M);
  EXPECT_EQ(arch::ept_level_span(kPdpte), arch::kPageSize1G);
  EXPECT_EQ(arch::ept_level_span(kPml4e), uint64_t{1} << 39);
}

TEST(EptEntry, SettersLeaveOtherBitsAlone) {
  for (unsigned b = 0; b < 64; ++b) {
    EptEntry e(~bit(b));
    e.set_rwx(e.rwx()).set_raw_memory_type(e.memory_type()).set_address(e.address());
    EXPECT_EQ(e.raw(), ~bit(b)) << "bit " << b;
  }
}

}  // namespace
