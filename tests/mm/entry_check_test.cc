// mm::check_entry against the SDM's misconfiguration rules and agevisor's own, as table
// data: every rule has at least one entry that breaks it and a nearest legal neighbour.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "arch/ept_entry.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "test_caps.h"

namespace {

using arch::bit;
using arch::EptCapabilities;
using arch::EptEntry;
using arch::EptLevel;
using mm::EntryRule;
using mm::EptSwBits;
using mm::test::kPw;

constexpr EptLevel kPte = EptLevel::kPte;
constexpr EptLevel kPde = EptLevel::kPde;
constexpr EptLevel kPdpte = EptLevel::kPdpte;
constexpr EptLevel kPml4e = EptLevel::kPml4e;

constexpr uint64_t kWb = 6 << 3;  // memory type write-back, bits 5:3
constexpr uint64_t kLarge = bit(7);
constexpr uint64_t kTracked = EptSwBits::kTracked;
constexpr uint64_t kSavedR = EptSwBits::kSavedRead;
constexpr uint64_t kSavedX = EptSwBits::kSavedExecute;
constexpr uint64_t kWithheld = EptSwBits::kWriteWithheld;

enum class Caps { kIvy, kIvyNoExecOnly, kIvyNo2M, kHaswellAd, kHaswellStash, kMbe, kAllFeatures };

EptCapabilities caps_for(Caps c) {
  EptCapabilities caps;
  switch (c) {
    case Caps::kIvy:
      return mm::test::ivy_bridge();
    case Caps::kIvyNoExecOnly:
      caps = mm::test::ivy_bridge();
      caps.execute_only = false;
      return caps;
    case Caps::kIvyNo2M:
      caps = mm::test::ivy_bridge();
      caps.pages_2m = false;
      return caps;
    case Caps::kHaswellAd:
      return mm::test::haswell_ad();
    case Caps::kHaswellStash:
      return mm::test::haswell_forced_stash();
    case Caps::kMbe:
      return mm::test::haswell_stash_mbe();
    case Caps::kAllFeatures:
      caps = mm::test::haswell_ad();
      caps.ept_violation_ve_enabled = true;
      caps.supervisor_shadow_stack_enabled = true;
      caps.sub_page_write_enabled = true;
      return caps;
  }
  return caps;
}

struct Case {
  const char* what;
  uint64_t raw;
  EptLevel level;
  Caps caps;
  EntryRule expected;
};

// PTE/PDE/PDPTE leaves at aligned addresses; Ivy Bridge has MAXPHYADDR 36, Haswell 39.
constexpr uint64_t kPte4K = 0x3000 | kWb;
constexpr uint64_t kPde2M = 0x60'0000 | kWb | kLarge;
constexpr uint64_t kPdpte1G = 0xC000'0000 | kWb | kLarge;
constexpr uint64_t kTable = 0x5000;

const Case kCases[] = {
    // --- SDM: bits 2:0 ---
    {"write-only", kPte4K | 0b010 | kPw, kPte, Caps::kIvy, EntryRule::kSdmWriteWithoutRead},
    {"write+execute", kPte4K | 0b110 | kPw, kPte, Caps::kIvy, EntryRule::kSdmWriteWithoutRead},
    {"read+write", kPte4K | 0b011 | kPw, kPte, Caps::kIvy, EntryRule::kOk},
    {"read+write+execute", kPte4K | 0b111 | kPw, kPte, Caps::kIvy, EntryRule::kOk},
    {"write-only non-leaf", kTable | 0b010, kPde, Caps::kIvy, EntryRule::kSdmWriteWithoutRead},
    {"execute-only without cap", kPte4K | 0b100, kPte, Caps::kIvyNoExecOnly,
     EntryRule::kSdmExecuteOnlyUnsupported},
    {"execute-only with cap", kPte4K | 0b100, kPte, Caps::kIvy, EntryRule::kOk},
    {"read-only", kPte4K | 0b001, kPte, Caps::kIvyNoExecOnly, EntryRule::kOk},
    // --- SDM: memory type of the last entry ---
    {"memory type 2", 0x3000 | (2 << 3) | 1, kPte, Caps::kIvy, EntryRule::kSdmReservedMemoryType},
    {"memory type 3", 0x3000 | (3 << 3) | 1, kPte, Caps::kIvy, EntryRule::kSdmReservedMemoryType},
    {"memory type 7", 0x3000 | (7 << 3) | 1, kPte, Caps::kIvy, EntryRule::kSdmReservedMemoryType},
    {"memory type 7 on 2M leaf", 0x60'0000 | (7 << 3) | kLarge | 1, kPde, Caps::kIvy,
     EntryRule::kSdmReservedMemoryType},
    {"memory type UC", 0x3000 | (0 << 3) | 1, kPte, Caps::kIvy, EntryRule::kOk},
    {"memory type WC", 0x3000 | (1 << 3) | 1, kPte, Caps::kIvy, EntryRule::kOk},
    {"memory type WT", 0x3000 | (4 << 3) | 1, kPte, Caps::kIvy, EntryRule::kOk},
    {"memory type WP", 0x3000 | (5 << 3) | 1, kPte, Caps::kIvy, EntryRule::kOk},
    {"memory type 7 not present", 0x3000 | (7 << 3), kPte, Caps::kIvy, EntryRule::kOk},
    // --- SDM: reserved bits of non-leaf entries ---
    {"PML4E bit 7", kTable | 0b111 | kLarge, kPml4e, Caps::kHaswellAd,
     EntryRule::kSdmReservedNonLeafBits},
    {"PML4E bit 3", kTable | 0b111 | bit(3), kPml4e, Caps::kIvy,
     EntryRule::kSdmReservedNonLeafBits},
    {"PML4E clean", kTable | 0b111, kPml4e, Caps::kIvy, EntryRule::kOk},
    {"PDPTE table bit 6", kTable | 0b111 | bit(6), kPdpte, Caps::kIvy,
     EntryRule::kSdmReservedNonLeafBits},
    {"PDE table memory type", kTable | 0b111 | kWb, kPde, Caps::kIvy,
     EntryRule::kSdmReservedNonLeafBits},
    {"PDE table clean", kTable | 0b111, kPde, Caps::kIvy, EntryRule::kOk},
    {"PML4E bit 7 not present", kTable | kLarge, kPml4e, Caps::kIvy, EntryRule::kOk},
    // --- SDM: large pages ---
    {"1G page without cap", kPdpte1G | 0b001, kPdpte, Caps::kIvy,
     EntryRule::kSdmLargePageUnsupported},
    {"1G page with cap", kPdpte1G | 0b001, kPdpte, Caps::kHaswellStash, EntryRule::kOk},
    {"2M page without cap", kPde2M | 0b001, kPde, Caps::kIvyNo2M,
     EntryRule::kSdmLargePageUnsupported},
    {"2M page with cap", kPde2M | 0b001, kPde, Caps::kIvy, EntryRule::kOk},
    {"2M page address bit 12", (kPde2M + 0x1000) | 0b001, kPde, Caps::kIvy,
     EntryRule::kSdmUnalignedLargePage},
    {"2M page address bit 20", (kPde2M + 0x10'0000) | 0b001, kPde, Caps::kIvy,
     EntryRule::kSdmUnalignedLargePage},
    {"1G page address bit 21", (kPdpte1G + 0x20'0000) | 0b001, kPdpte, Caps::kHaswellStash,
     EntryRule::kSdmUnalignedLargePage},
    {"1G page address bit 29", (kPdpte1G + 0x2000'0000) | 0b001, kPdpte, Caps::kHaswellStash,
     EntryRule::kSdmUnalignedLargePage},
    {"4K page any address", 0x7000 | kWb | 0b001, kPte, Caps::kIvy, EntryRule::kOk},
    // --- SDM: address bits at or above MAXPHYADDR ---
    {"address bit 36 at MAXPHYADDR 36", bit(36) | kWb | 0b001, kPte, Caps::kIvy,
     EntryRule::kSdmAddressBeyondMaxPhys},
    {"address bit 51 at MAXPHYADDR 36", bit(51) | kWb | 0b001, kPte, Caps::kIvy,
     EntryRule::kSdmAddressBeyondMaxPhys},
    {"address bit 35 at MAXPHYADDR 36", bit(35) | kWb | 0b001, kPte, Caps::kIvy, EntryRule::kOk},
    {"table beyond MAXPHYADDR", bit(40) | 0b111, kPml4e, Caps::kHaswellAd,
     EntryRule::kSdmAddressBeyondMaxPhys},
    {"address bit 38 at MAXPHYADDR 39", bit(38) | kWb | 0b001, kPte, Caps::kHaswellAd,
     EntryRule::kOk},
    {"beyond MAXPHYADDR not present", bit(40) | kWb, kPte, Caps::kIvy, EntryRule::kOk},
    {"beyond MAXPHYADDR tracked", bit(40) | kWb | kTracked | kSavedR, kPte, Caps::kIvy,
     EntryRule::kSdmAddressBeyondMaxPhys},
    // --- agevisor: structure ---
    {"non-leaf policy-writable", kTable | 0b111 | kPw, kPde, Caps::kIvy, EntryRule::kStrayBits},
    {"non-leaf read-only", kTable | 0b001, kPde, Caps::kIvy, EntryRule::kNonLeafNotFullAccess},
    {"non-leaf read-write", kTable | 0b011, kPml4e, Caps::kIvy, EntryRule::kNonLeafNotFullAccess},
    {"non-leaf without user-execute under MBE", kTable | 0b111, kPde, Caps::kMbe,
     EntryRule::kNonLeafNotFullAccess},
    {"non-leaf with user-execute under MBE", kTable | 0b111 | bit(10), kPde, Caps::kMbe,
     EntryRule::kOk},
    {"empty non-leaf slot", 0, kPde, Caps::kIvy, EntryRule::kOk},
    {"PTE bit 7", kPte4K | kLarge | 0b001, kPte, Caps::kIvy, EntryRule::kLargePageBitInPte},
    // --- agevisor: write permission ---
    {"writable without policy", kPte4K | 0b011, kPte, Caps::kIvy, EntryRule::kWriteWithoutPolicy},
    {"withheld without policy", kPte4K | 0b001 | kWithheld, kPte, Caps::kIvy,
     EntryRule::kWithheldWithoutPolicy},
    {"withheld while writable", kPte4K | 0b011 | kWithheld | kPw, kPte, Caps::kIvy,
     EntryRule::kWithheldWhileWritable},
    {"withheld read-only", kPte4K | 0b001 | kWithheld | kPw, kPte, Caps::kIvy, EntryRule::kOk},
    {"policy-writable read-only", kPte4K | 0b001 | kPw, kPte, Caps::kIvy, EntryRule::kOk},
    // --- agevisor: tracking ---
    {"saved bits in present entry", kPte4K | 0b001 | kSavedR, kPte, Caps::kIvy,
     EntryRule::kSavedBitsUntracked},
    {"marker on present entry", kPte4K | 0b001 | kTracked, kPte, Caps::kIvy,
     EntryRule::kSavedBitsUntracked},
    {"saved bits without marker", kPte4K | kSavedR | kSavedX, kPte, Caps::kIvy,
     EntryRule::kSavedBitsUntracked},
    {"tracked read-execute", kPte4K | kTracked | kSavedR | kSavedX, kPte, Caps::kIvy,
     EntryRule::kOk},
    {"tracked withheld", kPte4K | kTracked | kSavedR | kWithheld | kPw, kPte, Caps::kIvy,
     EntryRule::kOk},
    {"tracked 2M leaf", kPde2M | kTracked | kSavedR, kPde, Caps::kIvy, EntryRule::kOk},
    {"tracked non-leaf", kTable | kTracked | kSavedR | kSavedX, kPde, Caps::kIvy,
     EntryRule::kTrackedNotLeaf},
    {"tracked PML4E", kTable | kTracked | kSavedR | kSavedX, kPml4e, Caps::kIvy,
     EntryRule::kTrackedNotLeaf},
    {"marker alone", kPte4K | kTracked, kPte, Caps::kIvy, EntryRule::kTrackedNothingSaved},
    {"tracked execute-only without cap", kPte4K | kTracked | kSavedX, kPte, Caps::kIvyNoExecOnly,
     EntryRule::kSdmExecuteOnlyUnsupported},
    {"tracked execute-only with cap", kPte4K | kTracked | kSavedX, kPte, Caps::kIvy,
     EntryRule::kOk},
    {"tracked with saved user-execute, no MBE",
     kPte4K | kTracked | kSavedR | EptSwBits::kSavedUserExecute, kPte, Caps::kIvy,
     EntryRule::kUserExecuteMisused},
    {"tracked with user-execute still set", kPte4K | kTracked | kSavedR | bit(10), kPte, Caps::kMbe,
     EntryRule::kUserExecuteMisused},
    {"tracked with user-execute saved", kPte4K | kTracked | kSavedR | EptSwBits::kSavedUserExecute,
     kPte, Caps::kMbe, EntryRule::kOk},
    {"tracked reserved memory type", 0x3000 | (2 << 3) | kTracked | kSavedR, kPte, Caps::kIvy,
     EntryRule::kSdmReservedMemoryType},
    // --- agevisor: feature bits ---
    {"accessed without A/D", kPte4K | 0b001 | bit(8), kPte, Caps::kIvy,
     EntryRule::kAccessedDirtyDisabled},
    {"dirty with A/D forced off", kPte4K | 0b001 | bit(9), kPte, Caps::kHaswellStash,
     EntryRule::kAccessedDirtyDisabled},
    {"accessed+dirty with A/D", kPte4K | 0b011 | kPw | bit(8) | bit(9), kPte, Caps::kHaswellAd,
     EntryRule::kOk},
    {"accessed non-leaf with A/D", kTable | 0b111 | bit(8), kPde, Caps::kHaswellAd, EntryRule::kOk},
    {"dirty non-leaf with A/D", kTable | 0b111 | bit(9), kPde, Caps::kHaswellAd,
     EntryRule::kAccessedDirtyDisabled},
    {"user-execute without MBE", kPte4K | 0b001 | bit(10), kPte, Caps::kIvy,
     EntryRule::kUserExecuteMisused},
    {"user-execute with MBE", kPte4K | 0b001 | bit(10), kPte, Caps::kMbe, EntryRule::kOk},
    {"user-execute only", kPte4K | bit(10), kPte, Caps::kMbe, EntryRule::kUserExecuteMisused},
    {"suppress-#VE without #VE", kPte4K | 0b001 | bit(63), kPte, Caps::kIvy,
     EntryRule::kFeatureBitDisabled},
    {"suppress-#VE with #VE", kPte4K | 0b001 | bit(63), kPte, Caps::kAllFeatures, EntryRule::kOk},
    {"SSS without feature", kPte4K | 0b001 | bit(60), kPte, Caps::kHaswellAd,
     EntryRule::kFeatureBitDisabled},
    {"SSS with feature", kPte4K | 0b001 | bit(60), kPte, Caps::kAllFeatures, EntryRule::kOk},
    {"SPP without feature", kPte4K | 0b001 | bit(61), kPte, Caps::kHaswellAd,
     EntryRule::kFeatureBitDisabled},
    {"SPP with feature", kPte4K | 0b001 | bit(61), kPte, Caps::kAllFeatures, EntryRule::kOk},
    {"SPP above PTE", kPde2M | 0b001 | bit(61), kPde, Caps::kAllFeatures,
     EntryRule::kFeatureBitDisabled},
    {"bit 11", kPte4K | 0b001 | bit(11), kPte, Caps::kIvy, EntryRule::kStrayBits},
    {"bit 57", kPte4K | 0b001 | bit(57), kPte, Caps::kIvy, EntryRule::kStrayBits},
    {"bit 58", kPte4K | 0b001 | bit(58), kPte, Caps::kIvy, EntryRule::kStrayBits},
    {"bit 62", kPte4K | 0b001 | bit(62), kPte, Caps::kIvy, EntryRule::kStrayBits},
    {"never mapped", 0, kPte, Caps::kIvy, EntryRule::kOk},
};

TEST(EntryCheck, SdmTableCasesGiveTheExpectedRule) {
  for (const Case& c : kCases) {
    const mm::CheckResult r = mm::check_entry(EptEntry(c.raw), c.level, caps_for(c.caps));
    EXPECT_EQ(r.rule, c.expected) << c.what << ": got '" << r.name() << "', want '"
                                  << mm::entry_rule_name(c.expected) << "'";
  }
}

TEST(EntryCheck, EveryRuleHasABreakingAndALegalCase) {
  for (int rule = 1; rule <= static_cast<int>(EntryRule::kStrayBits); ++rule) {
    bool seen = false;
    for (const Case& c : kCases)
      seen |= static_cast<int>(c.expected) == rule;
    EXPECT_TRUE(seen) << "no case for " << mm::entry_rule_name(static_cast<EntryRule>(rule));
  }
}

TEST(EntryCheck, EveryRuleHasADistinctName) {
  for (int a = 0; a <= static_cast<int>(EntryRule::kStrayBits); ++a) {
    for (int b = a + 1; b <= static_cast<int>(EntryRule::kStrayBits); ++b) {
      EXPECT_NE(std::string(mm::entry_rule_name(static_cast<EntryRule>(a))),
                mm::entry_rule_name(static_cast<EntryRule>(b)));
    }
  }
}

// Every single-bit change of a legal tracked entry that the processor would read after
// restore (reserved, address beyond MAXPHYADDR) is caught even though R/W/X = 000 now.
TEST(EntryCheck, TrackedEntriesAreCheckedAsTheyWillBeRestored) {
  const EptCapabilities caps = mm::test::ivy_bridge();
  const uint64_t tracked = kPte4K | kTracked | kSavedR | kSavedX;
  ASSERT_TRUE(mm::check_entry(EptEntry(tracked), kPte, caps).ok());
  for (unsigned b = caps.max_phys_addr; b <= 51; ++b)
    EXPECT_FALSE(mm::check_entry(EptEntry(tracked | bit(b)), kPte, caps).ok()) << "bit " << b;
}

// The SDM's per-level formats as data, independent of the checker's code: for each kind of
// present entry, the bits its table marks "Reserved (must be 0)" (N = MAXPHYADDR = 39 here).
// Setting any one of them must be rejected as an SDM misconfiguration.
struct ReservedLayout {
  const char* what;
  uint64_t legal;
  EptLevel level;
  uint64_t reserved;
};

TEST(EntryCheck, EveryReservedBitOfEverySdmFormatIsRejected) {
  const EptCapabilities caps = caps_for(Caps::kHaswellAd);  // 2M + 1G pages, N = 39
  const uint64_t beyond = arch::bit_range(51, 39);
  const ReservedLayout layouts[] = {
      {"PML4E", kTable | 0b111, kPml4e, arch::bit_range(7, 3) | beyond},
      {"PDPTE -> PD", kTable | 0b111, kPdpte, arch::bit_range(6, 3) | beyond},
      {"PDPTE 1G", kPdpte1G | 0b001, kPdpte, arch::bit_range(29, 12) | beyond},
      {"PDE -> PT", kTable | 0b111, kPde, arch::bit_range(6, 3) | beyond},
      {"PDE 2M", kPde2M | 0b001, kPde, arch::bit_range(20, 12) | beyond},
      {"PTE", kPte4K | 0b001, kPte, beyond},
  };
  for (const ReservedLayout& l : layouts) {
    ASSERT_TRUE(mm::check_entry(EptEntry(l.legal), l.level, caps).ok()) << l.what;
    for (unsigned b = 0; b < 64; ++b) {
      if ((l.reserved & bit(b)) == 0)
        continue;
      const mm::CheckResult r = mm::check_entry(EptEntry(l.legal | bit(b)), l.level, caps);
      const bool sdm_rule = r.rule >= EntryRule::kSdmWriteWithoutRead &&
                            r.rule <= EntryRule::kSdmAddressBeyondMaxPhys;
      EXPECT_TRUE(sdm_rule) << l.what << " bit " << b << ": " << r.name();
    }
  }
}

TEST(SoftwareBits, TrackedNeedsMarkerAndNoPermission) {
  EXPECT_FALSE(mm::is_tracked(EptEntry(0))) << "never mapped";
  EXPECT_FALSE(mm::is_tracked(EptEntry(kPte4K))) << "protected: address but no permission";
  EXPECT_FALSE(mm::is_tracked(EptEntry(kTracked | kSavedR | 0b001))) << "present";
  EXPECT_TRUE(mm::is_tracked(EptEntry(kTracked | kSavedR)));
  EXPECT_TRUE(mm::is_mapped(EptEntry(kTracked | kSavedR)));
  EXPECT_TRUE(mm::is_mapped(EptEntry(0b100)));
  EXPECT_FALSE(mm::is_mapped(EptEntry(kPte4K | kSavedR)));
  EXPECT_FALSE(mm::is_hw_present(EptEntry(kTracked | kSavedR)));
}

}  // namespace
