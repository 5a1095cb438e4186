#include "mm/mtrr.h"

#include <gtest/gtest.h>

#include "mtrr_layout.h"

namespace {

using arch::Error;
using arch::Gpa;
using arch::MemoryType;
using mm::MtrrState;
using mm_test::MtrrLayout;
using mm_test::raw;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr MemoryType UC = MemoryType::kUncacheable;
constexpr MemoryType WC = MemoryType::kWriteCombining;
constexpr MemoryType WT = MemoryType::kWriteThrough;
constexpr MemoryType WP = MemoryType::kWriteProtected;
constexpr MemoryType WB = MemoryType::kWriteBack;

MtrrState decode(const MtrrLayout& layout) {
  auto state = MtrrState::from_msrs(layout.msrs());
  EXPECT_TRUE(state.ok());
  return state.value_or(MtrrState{});
}

arch::EptCapabilities caps(bool pages_2m, bool pages_1g) {
  arch::EptCapabilities c;
  c.pages_2m = pages_2m;
  c.pages_1g = pages_1g;
  return c;
}

TEST(MtrrRegisters, MsrIndicesAndFixedSlotsFollowTheSdm) {
  EXPECT_EQ(mm::mtrr_phys_base_msr(3), 0x206u);
  EXPECT_EQ(mm::mtrr_phys_mask_msr(3), 0x207u);
  EXPECT_EQ(mm::kMtrrFixedMsrs[0], 0x250u);
  EXPECT_EQ(mm::kMtrrFixedMsrs[2], 0x259u);
  EXPECT_EQ(mm::kMtrrFixedMsrs[10], 0x26Fu);
  EXPECT_EQ(mm::fixed_range_slot(0x8C000).msr, 1u);
  EXPECT_EQ(mm::fixed_range_slot(0x8C000).byte, 3u);
  EXPECT_EQ(mm::fixed_range_slot(0x8C000).size, 16 * kKiB);
  EXPECT_EQ(mm::fixed_range_slot(0xE9000).msr, 8u);
  EXPECT_EQ(mm::fixed_range_slot(0xE9000).byte, 1u);
  for (uint64_t t = 0; t < 256; ++t)
    EXPECT_EQ(mm::is_valid_mtrr_type(t), t == 0 || t == 1 || t == 4 || t == 5 || t == 6) << t;
}

// [SDM 3A "Example Base and Mask Calculations"], MAXPHYADDR 40, default UC.
TEST(Mtrr, SdmExampleBaseAndMaskCalculations) {
  MtrrLayout l(40);
  l.cap(8).def(UC, true, false);
  l.raw_range(0, 0x0000'0006, 0xFF'FC00'0800);  // 0-64 MiB WB
  l.raw_range(1, 0x0400'0006, 0xFF'FE00'0800);  // 64-96 MiB WB
  l.raw_range(2, 0x0600'0006, 0xFF'FFC0'0800);  // 96-100 MiB WB
  l.raw_range(3, 0x0400'0000, 0xFF'FFC0'0800);  // 64-68 MiB UC
  l.raw_range(4, 0x00F0'0000, 0xFF'FFF0'0800);  // 15-16 MiB UC
  l.raw_range(5, 0xA000'0001, 0xFF'FF80'0800);  // A0000000-A0800000 WC
  MtrrState s = decode(l);
  EXPECT_TRUE(s.validate().ok());
  EXPECT_EQ(s.type_of(Gpa(0), 15 * kMiB), mm::RangeType::of(WB));
  EXPECT_EQ(s.type_of(Gpa(15 * kMiB), 1 * kMiB), mm::RangeType::of(UC));
  EXPECT_EQ(s.type_of(Gpa(16 * kMiB), 48 * kMiB), mm::RangeType::of(WB));
  EXPECT_EQ(s.type_of(Gpa(64 * kMiB), 4 * kMiB), mm::RangeType::of(UC)) << "UC beats WB";
  EXPECT_EQ(s.type_of(Gpa(68 * kMiB), 32 * kMiB), mm::RangeType::of(WB));
  EXPECT_EQ(s.type_at(Gpa(100 * kMiB)), UC) << "default type";
  EXPECT_EQ(s.type_of(Gpa(0xA000'0000), 8 * kMiB), mm::RangeType::of(WC));
  EXPECT_EQ(s.type_at(Gpa(0xA080'0000)), UC);
  EXPECT_FALSE(s.type_of(Gpa(0), 16 * kMiB).uniform);
  EXPECT_FALSE(s.type_of(Gpa(60 * kMiB), 8 * kMiB).uniform);
}

TEST(Mtrr, DisabledMeansUncacheableEverywhere) {
  MtrrLayout l;
  l.cap(8).def(WB, /*enabled=*/false).fixed(0, 0x100000, WB).range(0, 0, 4 * kGiB, WB);
  MtrrState s = decode(l);
  EXPECT_FALSE(s.enabled());
  EXPECT_EQ(s.type_of(Gpa(0), 64 * kGiB), mm::RangeType::of(UC));
  EXPECT_EQ(s.type_at(Gpa(0x1000)), UC);
}

TEST(Mtrr, FixedRangesOffUseVariableRangesBelowOneMiB) {
  MtrrLayout l;
  l.cap(8).def(UC, true, /*fixed_enabled=*/false).fixed(0, 0x100000, WT);
  l.range(0, 0, 2 * kGiB, WB);
  MtrrState s = decode(l);
  EXPECT_FALSE(s.fixed_enabled());
  EXPECT_EQ(s.type_at(Gpa(0xA0000)), WB);
  EXPECT_EQ(s.largest_uniform_page(Gpa(0x1000), caps(true, true)).size, kGiB);
}

TEST(Mtrr, FixedEnableWithoutFixedCapabilityIsIgnoredAndReported) {
  MtrrLayout l;
  l.cap(8, /*fix=*/false).def(WB).fixed(0, 0x100000, UC);
  MtrrState s = decode(l);
  EXPECT_FALSE(s.fixed_enabled());
  EXPECT_EQ(s.type_at(Gpa(0xA0000)), WB);
  EXPECT_TRUE(s.validate().fixed_enabled_without_support);
}

TEST(Mtrr, FixedRangesDecideBelowOneMiBOverVariableRanges) {
  MtrrLayout l;
  l.cap(8).def(WB).fixed(0, 0x100000, WB).fixed(0xA0000, 0xC0000, UC);
  l.fixed(0xC0000, 0xC8000, WP).fixed(0xE0000, 0x100000, WT);
  l.range(0, 0, 1 * kMiB, UC);  // would make all of the first MiB UC without the fixed ranges
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0x9F000)), WB);
  EXPECT_EQ(s.type_at(Gpa(0xA0000)), UC);
  EXPECT_EQ(s.type_at(Gpa(0xBF000)), UC);
  EXPECT_EQ(s.type_at(Gpa(0xC7000)), WP);
  EXPECT_EQ(s.type_at(Gpa(0xC8000)), WB);
  EXPECT_EQ(s.type_at(Gpa(0xFF000)), WT);
  EXPECT_EQ(s.type_of(Gpa(0), 0xA0000), mm::RangeType::of(WB));
  EXPECT_FALSE(s.type_of(Gpa(0x9F000), 0x2000).uniform);
  EXPECT_EQ(s.type_at(Gpa(0x100000)), WB) << "above 1 MiB the variable range no longer matches";
}

TEST(Mtrr, EveryFixedSubRangeIsDecodedFromItsOwnByte) {
  // Give each of the 88 sub-ranges a type that differs from both neighbours.
  MtrrLayout l;
  l.cap(8).def(UC);
  const MemoryType cycle[] = {WB, WT, WP};
  unsigned i = 0;
  for (uint64_t a = 0; a < 0x100000; ++i) {
    const uint64_t granule = a < 0x80000 ? 64 * kKiB : a < 0xC0000 ? 16 * kKiB : 4 * kKiB;
    l.fixed(a, a + granule, cycle[i % 3]);
    a += granule;
  }
  EXPECT_EQ(i, mm::kMtrrFixedRangeCount);
  MtrrState s = decode(l);
  i = 0;
  for (uint64_t a = 0; a < 0x100000; ++i) {
    const uint64_t granule = a < 0x80000 ? 64 * kKiB : a < 0xC0000 ? 16 * kKiB : 4 * kKiB;
    EXPECT_EQ(s.type_of(Gpa(a), granule), mm::RangeType::of(cycle[i % 3])) << std::hex << a;
    EXPECT_FALSE(s.type_of(Gpa(a), granule + 4 * kKiB).uniform) << std::hex << a;
    a += granule;
  }
}

TEST(Mtrr, NoVariableRangesGiveTheDefaultType) {
  MtrrLayout l;
  l.cap(0).def(WB, true, false).range(0, 0, 4 * kGiB, UC);  // VCNT = 0: range 0 is absent
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_of(Gpa(0), 64 * kGiB), mm::RangeType::of(WB));
}

TEST(Mtrr, RangesBeyondVcntAreIgnored) {
  MtrrLayout l;
  l.cap(2).def(WB, true, false).range(0, 0, 1 * kGiB, WT).range(2, 2 * kGiB, 1 * kGiB, UC);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0)), WT);
  EXPECT_EQ(s.type_at(Gpa(2 * kGiB)), WB);
  EXPECT_EQ(s.validate().reserved_bits, 0u);
}

TEST(Mtrr, InvalidRangesDoNotMatch) {
  MtrrLayout l;
  l.cap(8).def(WB, true, false).range(0, 0, 4 * kGiB, UC, /*valid=*/false);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0x1000)), WB);
  EXPECT_TRUE(s.validate().ok());
}

TEST(Mtrr, UnsupportedVcntAndBadMaxPhysAddrAreRefused) {
  MtrrLayout l;
  l.cap(mm::kMaxVariableMtrrs + 1).def(WB);
  EXPECT_EQ(MtrrState::from_msrs(l.msrs()).error(), Error::kUnsupported);
  EXPECT_EQ(MtrrState::from_msrs(MtrrLayout(12).cap(8).msrs()).error(), Error::kInvalidArgument);
  EXPECT_EQ(MtrrState::from_msrs(MtrrLayout(53).cap(8).msrs()).error(), Error::kInvalidArgument);
  EXPECT_TRUE(MtrrState::from_msrs(MtrrLayout(52).cap(8).msrs()).ok());
}

// The overlap rules of [SDM 3A "MTRR Precedences"], written out as a table. Undefined
// combinations resolve to UC (our choice).
TEST(Mtrr, OverlappingVariableRangesFollowTheSdmPrecedence) {
  struct Case {
    MemoryType a, b, expected;
  };
  const Case cases[] = {
      {UC, UC, UC}, {UC, WC, UC}, {UC, WT, UC}, {UC, WP, UC}, {UC, WB, UC},
      {WC, WC, WC}, {WC, WT, UC}, {WC, WP, UC}, {WC, WB, UC}, {WT, WT, WT},
      {WT, WP, UC}, {WT, WB, WT}, {WP, WP, WP}, {WP, WB, UC}, {WB, WB, WB},
  };
  for (const Case& c : cases) {
    for (bool swapped : {false, true}) {
      MtrrLayout l;
      l.cap(8).def(WP, true, false);
      l.range(0, 0, 2 * kGiB, swapped ? c.b : c.a)
          .range(1, 1 * kGiB, 1 * kGiB, swapped ? c.a : c.b);
      MtrrState s = decode(l);
      SCOPED_TRACE(std::string(arch::memory_type_name(raw(c.a))) + "+" +
                   arch::memory_type_name(raw(c.b)));
      EXPECT_EQ(s.type_of(Gpa(1 * kGiB), 1 * kGiB), mm::RangeType::of(c.expected));
      EXPECT_EQ(s.type_at(Gpa(0)), swapped ? c.b : c.a);
      EXPECT_EQ(s.type_at(Gpa(2 * kGiB)), WP);
    }
  }
}

TEST(Mtrr, ThreeOverlappingRangesWithUncacheableAreUncacheable) {
  MtrrLayout l;
  l.cap(8).def(WB, true, false).range(0, 0, 4 * kGiB, WB).range(1, 0, 2 * kGiB, WT);
  l.range(2, 1 * kGiB, 4 * kKiB, UC);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0)), WT);
  EXPECT_EQ(s.type_at(Gpa(1 * kGiB)), UC);
  EXPECT_EQ(s.type_at(Gpa(1 * kGiB + 4 * kKiB)), WT);
  EXPECT_EQ(s.type_at(Gpa(3 * kGiB)), WB);
}

TEST(Mtrr, ReservedTypesActAsUncacheableAndAreReported) {
  for (uint64_t bad : {2u, 3u, 7u, 0x10u, 0xFFu}) {
    MtrrLayout l;
    l.cap(8).def(WB).fixed(0, 0x100000, WB).fixed(0xA0000, 0xA4000, bad);
    l.range(1, 1 * kGiB, 1 * kGiB, bad);
    MtrrState s = decode(l);
    EXPECT_EQ(s.type_at(Gpa(0xA0000)), UC) << bad;
    EXPECT_EQ(s.type_at(Gpa(1 * kGiB)), UC) << bad;
    EXPECT_EQ(s.type_at(Gpa(2 * kGiB)), WB) << bad;
    auto d = s.validate();
    EXPECT_EQ(d.invalid_fixed_types, 1u) << bad;
    EXPECT_EQ(d.invalid_variable_types, 1u << 1) << bad;
    EXPECT_FALSE(d.invalid_default_type);
    EXPECT_FALSE(d.ok());
  }
  MtrrLayout l;
  l.cap(8).def(2, true, false);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0x5000'0000)), UC);
  EXPECT_TRUE(s.validate().invalid_default_type);
}

TEST(Mtrr, NonContiguousMaskMatchesLikeHardwareAndIsReported) {
  // Mask bits 35:31 and 29:28 (bit 30 clear): matches [256, 512) MiB and the same window
  // 1 GiB higher. [SDM 3A "Variable Range MTRRs"]: the hole gets the default type.
  MtrrLayout l;
  l.cap(8).def(WB, true, false);
  l.raw_range(0, 0x1000'0000 | raw(UC), 0xF'B000'0000 | 0x800);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_of(Gpa(0x1000'0000), 256 * kMiB), mm::RangeType::of(UC));
  EXPECT_EQ(s.type_of(Gpa(0x5000'0000), 256 * kMiB), mm::RangeType::of(UC));
  EXPECT_EQ(s.type_at(Gpa(0x3000'0000)), WB);
  EXPECT_EQ(s.type_at(Gpa(0x9000'0000)), WB);
  EXPECT_FALSE(s.type_of(Gpa(0), 2 * kGiB).uniform);
  EXPECT_EQ(s.validate().noncontiguous_masks, 1u);
}

TEST(Mtrr, MaskNarrowerThanMaxPhysAddrAliasesHigherAddresses) {
  // Firmware programmed a 36-bit mask on a 39-bit CPU: the range repeats every 64 GiB.
  MtrrLayout l(39);
  l.cap(8).def(WB, true, false).raw_range(0, 0xC000'0000 | raw(UC), 0xF'C000'0800);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_at(Gpa(0xC000'0000)), UC);
  EXPECT_EQ(s.type_at(Gpa(64 * kGiB + 0xC000'0000)), UC);
  EXPECT_EQ(s.type_at(Gpa(64 * kGiB)), WB);
  EXPECT_EQ(s.validate().noncontiguous_masks, 1u);
}

TEST(Mtrr, ReservedRegisterBitsAreReported) {
  MtrrLayout l;
  l.cap(8).def(WB, true, false);
  l.raw_range(0, 0x1000'0000 | 0x100 | raw(UC), 0xF'F000'0800);  // bit 8 of PHYSBASE
  l.raw_range(1, 0x2000'0000 | raw(UC), 0x1F'F000'0800);         // mask bit 36 >= MAXPHYADDR
  l.range(2, 0x4000'0000, 256 * kMiB, UC);
  MtrrState s = decode(l);
  EXPECT_EQ(s.validate().reserved_bits, 0b011u);
  EXPECT_EQ(s.type_at(Gpa(0x1000'0000)), UC) << "decoding ignores reserved bits";
  EXPECT_EQ(s.type_at(Gpa(0x2000'0000)), UC);
}

TEST(Mtrr, WriteCombiningWithoutCapabilityIsReported) {
  MtrrLayout l;
  l.cap(8, true, /*wc=*/false).def(WB, true, false).range(0, 0xA000'0000, 8 * kMiB, WC);
  EXPECT_TRUE(decode(l).validate().write_combining_without_support);
  l.cap(8, true, true);
  EXPECT_TRUE(decode(l).validate().ok());
}

// An OVMF-like machine: 8 GiB, WB default, legacy VGA UC, option/BIOS ROMs WP/WT, and the
// 32-bit PCI hole C0000000-FFFFFFFF made UC by one variable range.
MtrrLayout firmware_layout() {
  MtrrLayout l(39);
  l.cap(8).def(WB).fixed(0, 0xA0000, WB).fixed(0xA0000, 0xC0000, UC);
  l.fixed(0xC0000, 0xC8000, WP).fixed(0xC8000, 0xE0000, UC).fixed(0xE0000, 0x100000, WT);
  l.range(0, 0xC000'0000, 1 * kGiB, UC);
  return l;
}

TEST(Mtrr, FirmwareLayoutTypes) {
  MtrrState s = decode(firmware_layout());
  EXPECT_TRUE(s.validate().ok());
  EXPECT_EQ(s.type_at(Gpa(0)), WB);
  EXPECT_EQ(s.type_at(Gpa(0xB8000)), UC);
  EXPECT_EQ(s.type_at(Gpa(0xC0000)), WP);
  EXPECT_EQ(s.type_at(Gpa(0xF0000)), WT);
  EXPECT_EQ(s.type_of(Gpa(1 * kMiB), 3 * kGiB - 1 * kMiB), mm::RangeType::of(WB));
  EXPECT_EQ(s.type_of(Gpa(0xC000'0000), 1 * kGiB), mm::RangeType::of(UC));
  EXPECT_EQ(s.type_of(Gpa(4 * kGiB), 4 * kGiB), mm::RangeType::of(WB));
  EXPECT_FALSE(s.type_of(Gpa(0xBFFF'F000), 8 * kKiB).uniform);
}

TEST(Mtrr, LargestUniformPageInFirmwareLayout) {
  MtrrState s = decode(firmware_layout());
  auto both = caps(true, true);
  struct Case {
    uint64_t addr, base, size;
    MemoryType type;
  };
  const Case cases[] = {
      {0x0, 0x0, 4 * kKiB, WB},  // the fixed ranges differ inside [0, 2 MiB)
      {0xA1234, 0xA1000, 4 * kKiB, UC},
      {0x10'0000, 0x10'0000, 4 * kKiB, WB},
      {0x20'0000, 0x20'0000, 2 * kMiB, WB},  // [0, 1 GiB) holds the fixed ranges
      {0x3FE0'1000, 0x3FE0'0000, 2 * kMiB, WB},
      {0x4000'0000, 0x4000'0000, 1 * kGiB, WB},
      {0xC123'4567, 0xC000'0000, 1 * kGiB, UC},
      {0x1'2345'6789, 0x1'0000'0000, 1 * kGiB, WB},
  };
  for (const Case& c : cases) {
    auto page = s.largest_uniform_page(Gpa(c.addr), both);
    EXPECT_EQ(page.base.value(), c.base) << std::hex << c.addr;
    EXPECT_EQ(page.size, c.size) << std::hex << c.addr;
    EXPECT_EQ(page.type, c.type) << std::hex << c.addr;
  }
}

TEST(Mtrr, LargestUniformPageRespectsCapabilities) {
  MtrrState s = decode(firmware_layout());
  EXPECT_EQ(s.largest_uniform_page(Gpa(0x4000'0000), caps(true, false)).size, 2 * kMiB);
  EXPECT_EQ(s.largest_uniform_page(Gpa(0x4000'0000), caps(false, false)).size, 4 * kKiB);
  EXPECT_EQ(s.largest_uniform_page(Gpa(0x4000'0000), caps(false, true)).size, 1 * kGiB);
  EXPECT_EQ(s.largest_uniform_page(Gpa(0x20'0000), caps(false, true)).size, 4 * kKiB)
      << "no 2 MiB fallback when the hardware lacks 2 MiB pages";
}

TEST(Mtrr, UnalignedHoleSplitsTheGigabyteAroundIt) {
  MtrrLayout l;
  l.cap(8).def(WB, true, false).range(0, 0xE000'0000, 512 * kMiB, UC);
  MtrrState s = decode(l);
  auto at_c = s.largest_uniform_page(Gpa(0xC000'0000), caps(true, true));
  EXPECT_EQ(at_c.size, 2 * kMiB);
  EXPECT_EQ(at_c.type, WB);
  auto at_e = s.largest_uniform_page(Gpa(0xE020'0000), caps(true, true));
  EXPECT_EQ(at_e.base.value(), 0xE020'0000u);
  EXPECT_EQ(at_e.size, 2 * kMiB);
  EXPECT_EQ(at_e.type, UC);
}

TEST(Mtrr, UnalignedQueriesWidenToWholePages) {
  MtrrLayout l;
  l.cap(8).def(WB, true, false).range(0, 0x10'0000, 4 * kKiB, UC);
  MtrrState s = decode(l);
  EXPECT_EQ(s.type_of(Gpa(0x10'0FFF), 1), mm::RangeType::of(UC));
  EXPECT_FALSE(s.type_of(Gpa(0x10'0FFF), 2).uniform) << "the second byte is on the next page";
  EXPECT_FALSE(s.type_of(Gpa(0xF'FFFF), 2).uniform);
}

// A gigabyte query looks at a handful of blocks per boundary, never its 262144 pages.
TEST(Mtrr, QueriesWorkOnBoundariesNotPages) {
  MtrrLayout l(46);
  l.cap(10).def(WB).fixed(0, 0x100000, WB).fixed(0xA0000, 0xC0000, UC);
  l.range(0, 0xC000'0000, 1 * kGiB, UC).range(1, 0x7FFF'F000, 4 * kKiB, UC);
  l.range(2, 0x1'0000'0000, 4 * kGiB, WB).range(3, 0x1'3FFF'F000, 4 * kKiB, WT);
  MtrrState s = decode(l);
  mm::MtrrQueryStats stats;
  EXPECT_EQ(s.type_of(Gpa(0x4000'0000), 1 * kGiB, &stats).uniform, false);
  EXPECT_LE(stats.blocks, 1 + 2u * 18) << "one halving path down to the 4 KiB hole";
  stats = {};
  EXPECT_EQ(s.type_of(Gpa(0x1'0000'0000), 1 * kGiB - 4 * kKiB, &stats), mm::RangeType::of(WB));
  EXPECT_LE(stats.blocks, 2u * 18 * 2);
  stats = {};
  EXPECT_EQ(s.type_of(Gpa(8 * kGiB), 56 * kGiB, &stats), mm::RangeType::of(WB));
  EXPECT_LE(stats.blocks, 4u);
  stats = {};
  auto page = s.largest_uniform_page(Gpa(0x1'0000'0000), caps(true, true), &stats);
  EXPECT_EQ(page.size, 2 * kMiB);
  EXPECT_LE(stats.blocks, 1 + 2u * 18 + 1) << "the 1 GiB try, then one 2 MiB block";
}

}  // namespace
