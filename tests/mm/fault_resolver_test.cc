// The lockless fault resolver on single entries: each outcome, each violation reason, the
// bounded retry, and the large-leaf policy.
#include <gtest/gtest.h>

#include <cstdint>

#include "arch/ept_entry.h"
#include "interfering_slot.h"
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/ept_sw_bits.h"
#include "mm/fault_resolver.h"
#include "mm/live_entry.h"
#include "test_caps.h"

namespace {

using arch::EptEntry;
using arch::EptLevel;
using mm::AccessSet;
using mm::EptSwBits;
using mm::FaultResolution;
using mm::Violation;
using mm::test::leaf;

constexpr EptLevel kPte = EptLevel::kPte;
const AccessSet kRead(true, false, false);
const AccessSet kWrite(false, true, false);
const AccessSet kReadWrite(true, true, false);
const AccessSet kFetch(false, false, true);

FaultResolution resolve(uint64_t& slot, AccessSet access, EptLevel level = kPte,
                        mm::ResolverPolicy policy = {}) {
  mm::LiveEntry live(slot);
  auto r = mm::resolve_fault(live, level, access, mm::test::ivy_bridge(), policy);
  EXPECT_TRUE(r.ok());
  return r.value_or(FaultResolution{});
}

TEST(FaultResolver, ReadOnTrackedPageRestoresReadExecuteOnly) {
  uint64_t slot = mm::mark_tracked(leaf(kPte, 0b111, true)).raw();
  const FaultResolution r = resolve(slot, kRead);
  EXPECT_EQ(r.outcomes, FaultResolution::kAccessRestored);
  EXPECT_EQ(EptEntry(slot).rwx(), 0b101u) << "W waits for a write";
  EXPECT_TRUE(mm::is_write_withheld(EptEntry(slot)));
}

TEST(FaultResolver, WriteOnTrackedPageRestoresAllInOneSwap) {
  const EptEntry original = leaf(kPte, 0b111, true);
  uint64_t slot = mm::mark_tracked(original).raw();
  const FaultResolution r = resolve(slot, kReadWrite);
  EXPECT_EQ(r.outcomes, FaultResolution::kAccessRestored | FaultResolution::kWriteRestored);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(EptEntry(slot), original);
}

TEST(FaultResolver, WriteAfterReadRestoreGivesWBack) {
  uint64_t slot = mm::restore_access(mm::mark_tracked(leaf(kPte, 0b011, true))).raw();
  const FaultResolution r = resolve(slot, kWrite);
  EXPECT_EQ(r.outcomes, FaultResolution::kWriteRestored);
  EXPECT_TRUE(EptEntry(slot).writable());
  EXPECT_FALSE(mm::is_write_withheld(EptEntry(slot)));
}

TEST(FaultResolver, AllowedAccessIsSpurious) {
  // fetch -> X, write -> W, read -> R, exactly as the seed checks.
  uint64_t slot = leaf(kPte, 0b111, true).raw();
  const uint64_t before = slot;
  for (AccessSet a : {kRead, kWrite, kFetch, kReadWrite}) {
    const FaultResolution r = resolve(slot, a);
    EXPECT_EQ(r.outcomes, FaultResolution::kSpurious);
    EXPECT_FALSE(r.wrote());
  }
  EXPECT_EQ(slot, before);
  uint64_t read_only = leaf(kPte, 0b001, true).raw();
  EXPECT_TRUE(resolve(read_only, kRead).has(FaultResolution::kSpurious));
  EXPECT_FALSE(resolve(read_only, kFetch).has(FaultResolution::kSpurious));
}

TEST(FaultResolver, PolicyWriteProtectedPageIsNeverMadeWritable) {
  uint64_t slot = mm::mark_tracked(leaf(kPte, 0b101, false)).raw();
  const FaultResolution r = resolve(slot, kWrite);
  EXPECT_TRUE(r.has(FaultResolution::kAccessRestored)) << "the access itself is recorded";
  EXPECT_TRUE(r.has(FaultResolution::kViolation));
  EXPECT_EQ(r.violation, Violation::kWriteNotPermitted);
  EXPECT_FALSE(EptEntry(slot).writable());
}

TEST(FaultResolver, WriteProtectionNotFromTrackingGoesToTheSlowPath) {
  uint64_t slot = leaf(kPte, 0b001, true).raw();  // policy-writable, W not withheld
  const FaultResolution r = resolve(slot, kWrite);
  EXPECT_EQ(r.outcomes, FaultResolution::kViolation);
  EXPECT_EQ(r.violation, Violation::kWriteProtected);
  EXPECT_FALSE(r.wrote());
}

TEST(FaultResolver, UnmappedEntriesAreNotTakenForTracked) {
  uint64_t never_mapped = 0;
  EXPECT_EQ(resolve(never_mapped, kRead).violation, Violation::kNotMapped);
  uint64_t protected_entry = leaf(kPte, 0, false).raw();
  EXPECT_EQ(resolve(protected_entry, kRead).violation, Violation::kNotMapped);
  EXPECT_EQ(protected_entry, leaf(kPte, 0, false).raw());
}

TEST(FaultResolver, MissingPermissionAfterRestoreIsAViolation) {
  uint64_t exec_only = mm::mark_tracked(leaf(kPte, 0b100, false)).raw();
  const FaultResolution r = resolve(exec_only, kRead);
  EXPECT_TRUE(r.has(FaultResolution::kAccessRestored));
  EXPECT_EQ(r.violation, Violation::kReadNotPermitted);
  uint64_t read_only = leaf(kPte, 0b001, false).raw();
  EXPECT_EQ(resolve(read_only, kFetch).violation, Violation::kExecuteNotPermitted);
}

TEST(FaultResolver, EmptyAccessAndNonLeafAreRefused) {
  uint64_t slot = leaf(kPte, 0b001, true).raw();
  EXPECT_EQ(resolve(slot, AccessSet()).violation, Violation::kEmptyAccess);
  uint64_t table = mm::test::table_entry(0x5000).raw();
  EXPECT_EQ(resolve(table, kRead, EptLevel::kPde).violation, Violation::kNotLeaf);
}

TEST(FaultResolver, LargeLeafWriteRestoresByDefault) {
  uint64_t slot = mm::mark_tracked(leaf(EptLevel::kPde, 0b011, true)).raw();
  const FaultResolution r = resolve(slot, kWrite, EptLevel::kPde);
  EXPECT_EQ(r.outcomes, FaultResolution::kAccessRestored | FaultResolution::kWriteRestored);
}

TEST(FaultResolver, LargeLeafWriteNeedsSplitWhenDirtyLoggingWants4K) {
  uint64_t slot = mm::mark_tracked(leaf(EptLevel::kPde, 0b011, true)).raw();
  mm::ResolverPolicy policy;
  policy.split_large_for_write = true;
  const FaultResolution r = resolve(slot, kWrite, EptLevel::kPde, policy);
  EXPECT_EQ(r.outcomes, FaultResolution::kAccessRestored | FaultResolution::kNeedsSplit);
  EXPECT_FALSE(EptEntry(slot).writable());
  EXPECT_EQ(EptEntry(slot).rwx(), 0b001u) << "the read half is restored anyway";
  uint64_t small = mm::mark_tracked(leaf(kPte, 0b011, true)).raw();
  EXPECT_TRUE(resolve(small, kWrite, kPte, policy).has(FaultResolution::kWriteRestored));
}

TEST(FaultResolver, NeedsSplitStillReportsOtherDeniedAccesses) {
  uint64_t slot = mm::withhold_write(leaf(EptLevel::kPde, 0b011, true)).raw();
  mm::ResolverPolicy policy;
  policy.split_large_for_write = true;
  const FaultResolution r = resolve(slot, AccessSet(false, true, true), EptLevel::kPde, policy);
  EXPECT_TRUE(r.has(FaultResolution::kNeedsSplit));
  EXPECT_EQ(r.violation, Violation::kExecuteNotPermitted) << "a split does not grant X";
}

TEST(FaultResolver, RefusedSwapReplansFromTheFreshValue) {
  // Another vCPU restores the entry between our read and our swap: the retry finds the
  // access allowed and reports spurious instead of writing anything.
  mm::test::InterferingSlot slot(mm::mark_tracked(leaf(kPte, 0b011, true)));
  slot.interfere(1, [](EptEntry e) { return mm::restore_access(e); });
  auto r = mm::resolve_fault(slot, kPte, kRead, mm::test::ivy_bridge());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().outcomes, FaultResolution::kSpurious);
  EXPECT_EQ(r.value().attempts, 2u);
}

TEST(FaultResolver, RefusedSwapsAreBoundedAndReported) {
  mm::test::InterferingSlot slot(mm::mark_tracked(leaf(kPte, 0b011, true)));
  slot.interfere(1000, [](EptEntry e) { return EptEntry(e.raw() ^ EptSwBits::kWriteWithheld); });
  mm::ResolverPolicy policy;
  policy.max_attempts = 5;
  auto r = mm::resolve_fault(slot, kPte, kRead, mm::test::ivy_bridge(), policy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), arch::Error::kRetryLimit);
  EXPECT_EQ(slot.attempts(), 5u);
  EXPECT_TRUE(mm::is_tracked(slot.value())) << "nothing written";
}

TEST(FaultResolver, RestoreWouldMisconfigureIsRefused) {
  // A tracked entry whose saved value the processor would reject (memory type 2) cannot be
  // produced by mark_tracked, but the resolver must not trust the entry it is handed.
  uint64_t slot = (0x3000 | (2 << 3) | EptSwBits::kTracked | EptSwBits::kSavedRead);
  const FaultResolution r = resolve(slot, kRead);
  EXPECT_EQ(r.outcomes, FaultResolution::kViolation);
  EXPECT_EQ(r.violation, Violation::kWouldMisconfigure);
  EXPECT_EQ(slot, 0x3000 | (2 << 3) | EptSwBits::kTracked | EptSwBits::kSavedRead);
}

TEST(FaultResolver, RestoringNeverAsksForAFlush) {
  EXPECT_FALSE(FaultResolution::flush().needed());
}

}  // namespace
