// The pure access-tracking transforms, the flush rules, and aging of a live entry.
#include <gtest/gtest.h>

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_entry.h"
#include "interfering_slot.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/flush_request.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_zap.h"
#include "test_caps.h"

namespace {

using arch::bit;
using arch::EptEntry;
using arch::EptLevel;
using mm::EptSwBits;
using mm::TrackingMode;
using mm::test::leaf;

constexpr EptLevel kPte = EptLevel::kPte;

TEST(AccessTracking, MarkTrackedSavesReadExecuteAndClearsPermissions) {
  const EptEntry e = leaf(kPte, 0b101, false);
  const EptEntry t = mm::mark_tracked(e);
  EXPECT_TRUE(mm::is_tracked(t));
  EXPECT_EQ(t.rwx(), 0u);
  EXPECT_EQ(mm::saved_rwx(t), 0b101u);
  EXPECT_EQ(t.address(), e.address());
  EXPECT_EQ(t.memory_type(), e.memory_type());
}

TEST(AccessTracking, RestoreRecoversReadExecute) {
  for (uint64_t rwx : {0b001u, 0b100u, 0b101u}) {
    const EptEntry e = leaf(kPte, rwx, true);
    EXPECT_EQ(mm::restore_access(mm::mark_tracked(e)), e) << "rwx " << rwx;
  }
}

TEST(AccessTracking, WriteIsNotSavedButRecordedAsWithheld) {
  const EptEntry e = leaf(kPte, 0b011, true);
  const EptEntry t = mm::mark_tracked(e);
  EXPECT_EQ(mm::saved_rwx(t), 0b001u) << "W is never stashed";
  EXPECT_TRUE(mm::is_write_withheld(t));
  const EptEntry read_back = mm::restore_access(t);
  EXPECT_FALSE(read_back.writable()) << "a read must not give W back";
  EXPECT_TRUE(mm::can_restore_write(read_back));
  EXPECT_EQ(mm::restore_write(read_back), e) << "a write gives W back: exact inverse";
}

TEST(AccessTracking, RestoreWriteNeedsWithheldPolicyAndRead) {
  const EptEntry withheld(leaf(kPte, 0b001, true).raw() | EptSwBits::kWriteWithheld);
  EXPECT_TRUE(mm::restore_write(withheld).writable());
  const EptEntry not_withheld = leaf(kPte, 0b001, true);
  EXPECT_EQ(mm::restore_write(not_withheld), not_withheld) << "W removed by someone else";
  const EptEntry no_policy(leaf(kPte, 0b001, false).raw() | EptSwBits::kWriteWithheld);
  EXPECT_EQ(mm::restore_write(no_policy), no_policy) << "policy forbids writes";
  const EptEntry exec_only(leaf(kPte, 0b100, true).raw() | EptSwBits::kWriteWithheld);
  EXPECT_EQ(mm::restore_write(exec_only), exec_only) << "W without R is a misconfiguration";
}

TEST(AccessTracking, MarkTrackedIsIdempotentAndLeavesUnmappedAlone) {
  const EptEntry t = mm::mark_tracked(leaf(kPte, 0b111, true));
  EXPECT_EQ(mm::mark_tracked(t), t);
  EXPECT_EQ(mm::mark_tracked(EptEntry(0)), EptEntry(0));
  const EptEntry protected_entry(leaf(kPte, 0, false));
  EXPECT_EQ(mm::mark_tracked(protected_entry), protected_entry);
  EXPECT_EQ(mm::restore_access(protected_entry), protected_entry) << "not tracked: untouched";
}

TEST(AccessTracking, UserExecuteIsStashedWithReadAndExecute) {
  EptEntry e = leaf(kPte, 0b101, false);
  e.set_user_execute(true);
  const EptEntry t = mm::mark_tracked(e);
  EXPECT_FALSE(t.user_execute()) << "bit 10 makes the entry present under MBE";
  EXPECT_TRUE(mm::check_entry(t, kPte, mm::test::haswell_stash_mbe()).ok());
  EXPECT_EQ(mm::restore_access(t), e);
}

TEST(AccessTracking, StashAgeReportsDirtyExactlyWhenWritable) {
  for (uint64_t rwx : {0b001u, 0b011u, 0b101u, 0b111u}) {
    const mm::AgeResult r = mm::age(leaf(kPte, rwx, true), kPte, TrackingMode::kRwxStash);
    EXPECT_TRUE(r.accessed);
    EXPECT_EQ(r.dirty, (rwx & 0b010) != 0) << "rwx " << rwx;
    EXPECT_TRUE(mm::is_tracked(r.entry));
  }
  const mm::AgeResult again =
      mm::age(mm::mark_tracked(leaf(kPte, 0b011, true)), kPte, TrackingMode::kRwxStash);
  EXPECT_FALSE(again.accessed) << "untouched since the previous pass";
  EXPECT_FALSE(again.dirty);
}

TEST(AccessTracking, AccessedBitAgeClearsAccessedAndDirtyAndReportsThem) {
  EptEntry e = leaf(kPte, 0b011, true);
  e.set_accessed(true).set_dirty(true);
  const mm::AgeResult r = mm::age(e, kPte, TrackingMode::kAccessedBit);
  EXPECT_TRUE(r.accessed);
  EXPECT_TRUE(r.dirty);
  EXPECT_FALSE(r.entry.accessed());
  EXPECT_FALSE(r.entry.dirty());
  EXPECT_EQ(r.entry.raw() | bit(8) | bit(9), e.raw()) << "nothing else changes";
  const mm::AgeResult second = mm::age(r.entry, kPte, TrackingMode::kAccessedBit);
  EXPECT_FALSE(second.accessed);
  EXPECT_EQ(second.entry, r.entry);
}

TEST(AccessTracking, RwxStashNeverTouchesAccessedDirtyBits) {
  // Forced rwx-stash on A/D hardware: the EPT pointer's A/D enable is off and bits 8/9 are
  // ignored; whatever they hold, the transforms keep it.
  for (uint64_t ad = 0; ad < 4; ++ad) {
    const EptEntry e(leaf(kPte, 0b011, true).raw() | (ad << 8));
    const EptEntry t = mm::mark_tracked(e);
    EXPECT_EQ(t.raw() & arch::bit_range(9, 8), ad << 8);
    EXPECT_EQ(mm::restore_write(mm::restore_access(t)), e);
  }
}

TEST(AccessTracking, AgeLeavesNonLeafAndUnmappedEntriesAlone) {
  const EptEntry table = mm::test::table_entry(0x5000);
  for (TrackingMode mode : {TrackingMode::kRwxStash, TrackingMode::kAccessedBit}) {
    EXPECT_EQ(mm::age(table, EptLevel::kPde, mode).entry, table);
    EXPECT_FALSE(mm::age(table, EptLevel::kPde, mode).accessed);
    EXPECT_EQ(mm::age(EptEntry(0), kPte, mode).entry, EptEntry(0));
  }
}

TEST(AccessTracking, TestAgeReportsWithoutChanging) {
  EptEntry e = leaf(kPte, 0b001, false);
  EXPECT_TRUE(mm::test_age(e, kPte, TrackingMode::kRwxStash));
  EXPECT_FALSE(mm::test_age(mm::mark_tracked(e), kPte, TrackingMode::kRwxStash));
  EXPECT_FALSE(mm::test_age(e, kPte, TrackingMode::kAccessedBit));
  e.set_accessed(true);
  EXPECT_TRUE(mm::test_age(e, kPte, TrackingMode::kAccessedBit));
}

TEST(AccessTracking, ModeMustMatchTheEptPointerAdEnable) {
  EXPECT_TRUE(mm::tracking_mode_fits(TrackingMode::kRwxStash, mm::test::ivy_bridge()));
  EXPECT_FALSE(mm::tracking_mode_fits(TrackingMode::kAccessedBit, mm::test::ivy_bridge()));
  EXPECT_TRUE(mm::tracking_mode_fits(TrackingMode::kAccessedBit, mm::test::haswell_ad()));
  EXPECT_FALSE(mm::tracking_mode_fits(TrackingMode::kRwxStash, mm::test::haswell_ad()));
  EXPECT_TRUE(mm::tracking_mode_fits(TrackingMode::kRwxStash, mm::test::haswell_forced_stash()));
}

TEST(FlushRequest, ClearingPermissionsNeedsSingleContextFlush) {
  const auto caps = mm::test::ivy_bridge();
  const EptEntry e = leaf(kPte, 0b111, true);
  EXPECT_EQ(mm::required_flush(e, mm::mark_tracked(e), kPte, caps),
            mm::FlushRequest::single_context());
  EXPECT_EQ(mm::required_flush(e, mm::withhold_write(e), kPte, caps),
            mm::FlushRequest::single_context());
}

TEST(FlushRequest, GrantingPermissionsNeedsNoFlush) {
  const auto caps = mm::test::ivy_bridge();
  const EptEntry t = mm::mark_tracked(leaf(kPte, 0b011, true));
  const EptEntry r = mm::restore_access(t);
  EXPECT_EQ(mm::required_flush(t, r, kPte, caps), mm::FlushRequest::none());
  EXPECT_EQ(mm::required_flush(r, mm::restore_write(r), kPte, caps), mm::FlushRequest::none());
}

TEST(FlushRequest, FollowsTheSdmInveptGuidelines) {
  const auto ad = mm::test::haswell_ad();
  EptEntry e = leaf(kPte, 0b011, true);
  e.set_accessed(true).set_dirty(true);
  EptEntry no_a = e;
  no_a.set_accessed(false);
  EptEntry no_d = e;
  no_d.set_dirty(false);
  EptEntry moved = e;
  moved.set_address(arch::Hpa(0x9000));
  EptEntry retyped = e;
  retyped.set_memory_type(arch::MemoryType::kUncacheable);
  EXPECT_TRUE(mm::required_flush(e, no_a, kPte, ad).needed()) << "A cleared";
  EXPECT_TRUE(mm::required_flush(e, no_d, kPte, ad).needed()) << "D cleared";
  EXPECT_TRUE(mm::required_flush(e, moved, kPte, ad).needed()) << "address changed";
  EXPECT_TRUE(mm::required_flush(e, retyped, kPte, ad).needed()) << "memory type changed";
  EXPECT_FALSE(mm::required_flush(no_a, e, kPte, ad).needed()) << "A set";
  EXPECT_FALSE(mm::required_flush(EptEntry(0), e, kPte, ad).needed()) << "was not present";
  EptEntry split = leaf(EptLevel::kPde, 0b111, true);
  EXPECT_TRUE(mm::required_flush(split, mm::test::table_entry(0x5000), EptLevel::kPde, ad).needed())
      << "bit 7 changed";
}

TEST(FlushRequest, MergeKeepsTheStrongest) {
  mm::FlushRequest f;
  EXPECT_FALSE(f.needed());
  f.merge(mm::FlushRequest::single_context());
  EXPECT_EQ(f, mm::FlushRequest::single_context());
  f.merge(mm::FlushRequest::none());
  EXPECT_EQ(f, mm::FlushRequest::single_context());
  f.merge(mm::FlushRequest::all_contexts());
  EXPECT_EQ(f, mm::FlushRequest::all_contexts());
}

TEST(LiveEntry, FailedCompareExchangeRefreshesExpected) {
  uint64_t slot = 0x1003;
  mm::LiveEntry live(slot);
  EptEntry expected(0x1001);
  EXPECT_FALSE(live.compare_exchange(expected, EptEntry(0x1007)));
  EXPECT_EQ(expected, EptEntry(0x1003));
  EXPECT_TRUE(live.compare_exchange(expected, EptEntry(0x1007)));
  EXPECT_EQ(slot, 0x1007u);
  EXPECT_EQ(live.exchange(EptEntry(0)), EptEntry(0x1007));
  EXPECT_EQ(slot, 0u);
}

TEST(LiveAging, ReportsFromTheValueItReplaced) {
  const auto caps = mm::test::ivy_bridge();
  // Between the read and the swap another CPU gives W back: aging must report what it
  // replaced (dirty), not what it first read (clean).
  mm::test::InterferingSlot racing(
      EptEntry(leaf(kPte, 0b001, true).raw() | EptSwBits::kWriteWithheld));
  racing.interfere(1, [](EptEntry e) { return mm::restore_write(e); });
  auto aged = mm::age_live_entry(racing, kPte, TrackingMode::kRwxStash, caps);
  ASSERT_TRUE(aged.ok());
  EXPECT_TRUE(aged.value().accessed);
  EXPECT_TRUE(aged.value().dirty) << "the write restored mid-pass is not lost";
  EXPECT_EQ(aged.value().attempts, 2u);
  EXPECT_TRUE(aged.value().flush.needed());
  EXPECT_TRUE(mm::is_tracked(racing.value()));
}

TEST(LiveAging, GivesUpAfterTheAttemptLimitWithoutWriting) {
  const auto caps = mm::test::ivy_bridge();
  const EptEntry start = leaf(kPte, 0b001, true);
  mm::test::InterferingSlot slot(start);
  slot.interfere(100, [](EptEntry e) { return EptEntry(e.raw() ^ EptSwBits::kWriteWithheld); });
  auto aged = mm::age_live_entry(slot, kPte, TrackingMode::kRwxStash, caps, 4);
  ASSERT_FALSE(aged.ok());
  EXPECT_EQ(aged.error(), arch::Error::kRetryLimit);
  EXPECT_EQ(slot.attempts(), 4u);
  EXPECT_FALSE(mm::is_tracked(slot.value())) << "a losing aging pass writes nothing";
}

TEST(LiveAging, RefusesAModeThatDoesNotFitAndIllegalEntries) {
  uint64_t slot = leaf(kPte, 0b001, true).raw();
  const uint64_t before = slot;
  auto wrong_mode = mm::age_live_entry(mm::LiveEntry(slot), kPte, TrackingMode::kAccessedBit,
                                       mm::test::ivy_bridge());
  ASSERT_FALSE(wrong_mode.ok());
  EXPECT_EQ(wrong_mode.error(), arch::Error::kInvalidArgument);
  uint64_t illegal = 0x3000 | (2 << 3) | 0b001;  // memory type 2
  auto aged = mm::age_live_entry(mm::LiveEntry(illegal), kPte, TrackingMode::kRwxStash,
                                 mm::test::ivy_bridge());
  ASSERT_FALSE(aged.ok());
  EXPECT_EQ(aged.error(), arch::Error::kInvalidArgument);
  EXPECT_EQ(slot, before);
  EXPECT_EQ(illegal, 0x3000u | (2 << 3) | 0b001) << "nothing written";
}

TEST(LiveAging, AccessedBitModeKeepsHardwareUpdatesThatRace) {
  const auto caps = mm::test::haswell_ad();
  EptEntry e = leaf(kPte, 0b011, true);
  e.set_accessed(true);
  mm::test::InterferingSlot slot(e);
  slot.interfere(1, [](EptEntry v) { return v.set_dirty(true); });  // the CPU writes
  auto aged = mm::age_live_entry(slot, kPte, TrackingMode::kAccessedBit, caps);
  ASSERT_TRUE(aged.ok());
  EXPECT_TRUE(aged.value().accessed);
  EXPECT_TRUE(aged.value().dirty) << "D set by hardware during the pass is reported";
  EXPECT_FALSE(slot.value().accessed());
  EXPECT_FALSE(slot.value().dirty());
}

TEST(LiveZap, ReportsAccessedAndDirtyFromTheRemovedValue) {
  const auto stash = mm::test::ivy_bridge();
  uint64_t written = leaf(kPte, 0b011, true).raw();
  const mm::ZapReport w =
      mm::zap_live_entry(mm::LiveEntry(written), kPte, TrackingMode::kRwxStash, stash);
  EXPECT_TRUE(w.accessed);
  EXPECT_TRUE(w.dirty) << "W = 1 at zap time is a write the next pass would have reported";
  EXPECT_TRUE(w.flush.needed());
  EXPECT_EQ(written, 0u);

  uint64_t idle = mm::mark_tracked(leaf(kPte, 0b011, true)).raw();
  const mm::ZapReport i =
      mm::zap_live_entry(mm::LiveEntry(idle), kPte, TrackingMode::kRwxStash, stash);
  EXPECT_FALSE(i.accessed);
  EXPECT_FALSE(i.dirty);
  EXPECT_FALSE(i.flush.needed()) << "nothing cached from a non-present entry";

  const auto ad = mm::test::haswell_ad();
  EptEntry hw = leaf(kPte, 0b011, true);
  hw.set_accessed(true).set_dirty(true);
  uint64_t slot = hw.raw();
  const mm::ZapReport h =
      mm::zap_live_entry(mm::LiveEntry(slot), kPte, TrackingMode::kAccessedBit, ad);
  EXPECT_TRUE(h.accessed);
  EXPECT_TRUE(h.dirty);
  EXPECT_EQ(h.removed, hw);
}

}  // namespace
