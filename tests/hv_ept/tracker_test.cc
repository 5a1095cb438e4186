// The tracker behind the age, working_set and frame_ages hypercalls, over mm/'s identity map
// on host memory: guest accesses go through the real fault path (rwx-stash) or set A/D as
// the processor would (accessed-bit), and passes must see exactly them.
#include "hv/tracker.h"

#include <gtest/gtest.h>

#include <vector>

#include "fakes/host_table_memory.h"
#include "hv/ept_context.h"
#include "mm/ept_sw_bits.h"
#include "mm/live_entry.h"
#include "mtrr_layout.h"

namespace {

using arch::Gpa;
using arch::MemoryType;
using mm::MemoryKind;
using mm::MemoryRange;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLeaf = 2 << 20;

MemoryRange range(uint64_t start, uint64_t end, MemoryKind kind) {
  return MemoryRange{Gpa(start), (end - start) / kPage, kind};
}

// 64 MiB of RAM with the legacy hole and agevisor's region carved out of it.
const std::vector<MemoryRange> kMachine = {
    range(0, 0xA0000, MemoryKind::kRam),
    range(0xA0000, 0x100000, MemoryKind::kReserved),
    range(0x100000, 0x0300'0000, MemoryKind::kRam),
    range(0x0300'0000, 0x0320'0000, MemoryKind::kHypervisor),
    range(0x0320'0000, 0x0400'0000, MemoryKind::kRam),
    range(0xFEE0'0000, 0xFEE0'1000, MemoryKind::kMmio),
};
constexpr uint64_t kRamFrames =
    0xA0 + (0x0300'0000 - 0x100000) / kPage + (0x0400'0000 - 0x0320'0000) / kPage;

arch::EptViolationQualification access(bool read, bool write) {
  arch::EptViolationQualification q;
  q.read = read;
  q.write = write;
  return q;
}

class Tracker : public ::testing::TestWithParam<mm::TrackingMode> {
 protected:
  void SetUp() override {
    const bool ad = GetParam() == mm::TrackingMode::kAccessedBit;
    ept.caps = arch::EptCapabilities::from_msr(
        ad ? arch::kBochsHaswellEptVpidCap : arch::kBochsIvyBridgeEptVpidCap, 36);
    ept.caps.ad_enabled = ad;
    mm_test::MtrrLayout l(36);
    l.cap(8).def(MemoryType::kWriteBack).fixed(0, 0xA0000, MemoryType::kWriteBack);
    l.fixed(0xA0000, 0xC0000, MemoryType::kUncacheable);
    l.fixed(0xC0000, 0x100000, MemoryType::kWriteProtected);
    ept.mtrrs = mm::MtrrState::from_msrs(l.msrs()).value();
    mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &ept.mtrrs, ept.caps};
    spec.ram_state = ad ? mm::RamInitialState::kPresent : mm::RamInitialState::kTracked;
    spec.max_ram_page = arch::kPageSize2M;
    ept.memory = &memory;
    ept.map = mm::build_identity_map(memory, spec).value();
    ages.resize(
        hv::Tracker<mm_test::HostTableMemory>::frames_needed(kMachine.data(), kMachine.size()));
    ASSERT_TRUE(
        tracker
            .init(kMachine.data(), kMachine.size(), GetParam(), ept.caps, ages.data(), ages.size())
            .ok());
  }

  // A guest access as the hardware would make it: through an EPT violation when the leaf
  // denies it (rwx-stash), else by setting A (and D on a write) on the leaf.
  void touch(uint64_t gpa, bool write) {
    auto w = mm::walk(memory, ept.map.root, Gpa(gpa)).value();
    const auto denied = write ? !w.entry.writable() : !w.entry.readable();
    if (denied) {
      ASSERT_EQ(hv::resolve_ept_violation(ept, Gpa(gpa), access(!write, write)).result,
                hv::EptFaultResult::kResolved);
      w = mm::walk(memory, ept.map.root, Gpa(gpa)).value();
    }
    if (ept.caps.ad_enabled) {
      mm::LiveEntry slot(memory.table(w.table)[w.index]);
      arch::EptEntry old = slot.load();
      arch::EptEntry next = old;
      next.set_accessed(true);
      if (write)
        next.set_dirty(true);
      ASSERT_TRUE(slot.compare_exchange(old, next));
    }
  }

  hv::PassResult pass() {
    auto r = tracker.age_pass(memory, ept.map.root);
    EXPECT_TRUE(r.ok());
    return r.value();
  }

  uint8_t age_of(uint64_t gpa) {
    uint8_t a = 0;
    tracker.frame_ages(Gpa(gpa), 1, &a);
    return a;
  }

  mm_test::HostTableMemory memory{1 << 11};
  hv::EptContext<mm_test::HostTableMemory> ept;
  std::vector<uint8_t> ages;
  hv::Tracker<mm_test::HostTableMemory> tracker;
};

TEST_P(Tracker, TracksEveryRamRangeAndNothingElse) {
  EXPECT_EQ(tracker.range_count(), 3u);
  EXPECT_EQ(ages.size(), kRamFrames);
  const auto r = pass();
  EXPECT_EQ(r.counts.tracked_pages, kRamFrames) << "reserved, MMIO and hypervisor not walked";
  EXPECT_EQ(tracker.report().frames, kRamFrames);
}

TEST_P(Tracker, APassSeesExactlyTheLeavesTheGuestTouched) {
  pass();  // forget the start (accessed-bit mode starts with every leaf present)
  touch(0x0040'1234, false);
  touch(0x0080'0000, true);
  touch(0x0080'5000, true);  // same 2 MiB leaf
  const auto r = pass();
  EXPECT_EQ(r.counts.accessed_pages, 2 * 512u);
  EXPECT_EQ(r.counts.dirty_pages, 512u);
  EXPECT_TRUE(r.flush.needed()) << "the aged leaves must be invalidated before the guest runs";
  const auto quiet = pass();
  EXPECT_EQ(quiet.counts.accessed_pages, 0u);
  EXPECT_EQ(quiet.counts.dirty_pages, 0u);
  EXPECT_FALSE(quiet.flush.needed()) << "nothing changed, nothing to flush";
}

TEST_P(Tracker, IdleAgesCountPassesSinceTheLastAccess) {
  pass();
  touch(0x0040'0000, false);
  touch(0x0060'0000, false);
  pass();  // both accessed
  touch(0x0040'0000, false);
  pass();  // only the first
  pass();  // neither
  EXPECT_EQ(age_of(0x0040'0000), 1u);
  EXPECT_EQ(age_of(0x005F'F000), 1u) << "the whole 2 MiB leaf shares the age";
  EXPECT_EQ(age_of(0x0060'0000), 2u);
  EXPECT_EQ(tracker.passes(), 4u);
  const auto report = tracker.report();
  EXPECT_EQ(report.passes, 4u);
  EXPECT_EQ(report.idle[1], 512u) << "idle 1";
  EXPECT_EQ(report.idle[2], 512u) << "idle 2-3";
  EXPECT_EQ(report.idle[8], kRamFrames - 1024) << "never seen: 128+";
}

TEST_P(Tracker, FrameAgesOutsideRamAreNotTracked) {
  pass();
  EXPECT_EQ(age_of(0x000B'0000), hv::kFrameNotTracked) << "legacy hole";
  EXPECT_EQ(age_of(0x0300'0000), hv::kFrameNotTracked) << "hypervisor";
  EXPECT_EQ(age_of(0xFEE0'0000), hv::kFrameNotTracked) << "local APIC";
  EXPECT_EQ(age_of(0x0010'0000), hv::kFrameNotTracked - 1) << "never seen saturates below";
}

TEST_P(Tracker, GuestBuffersMustLieInOneRamRange) {
  EXPECT_TRUE(tracker.guest_buffer_ok(0x0010'0000, 4096));
  EXPECT_TRUE(tracker.guest_buffer_ok(0x02FF'F000, 4096));
  EXPECT_FALSE(tracker.guest_buffer_ok(0x02FF'F000, 4097)) << "runs into the hypervisor";
  EXPECT_FALSE(tracker.guest_buffer_ok(0x0300'0000, 8)) << "hypervisor memory";
  EXPECT_FALSE(tracker.guest_buffer_ok(0x0009'F000, 0x2000)) << "runs into the legacy hole";
  EXPECT_FALSE(tracker.guest_buffer_ok(0xFEE0'0000, 8)) << "MMIO";
  EXPECT_FALSE(tracker.guest_buffer_ok(0x0010'0000, 0)) << "empty";
  EXPECT_FALSE(tracker.guest_buffer_ok(~uint64_t{0} - 8, 64)) << "wraps";
}

TEST_P(Tracker, RefusesTooLittleStorageOrAModeTheCapabilitiesCannotRun) {
  hv::Tracker<mm_test::HostTableMemory> t;
  EXPECT_FALSE(
      t.init(kMachine.data(), kMachine.size(), GetParam(), ept.caps, ages.data(), ages.size() - 1)
          .ok());
  const auto other = GetParam() == mm::TrackingMode::kAccessedBit ? mm::TrackingMode::kRwxStash
                                                                  : mm::TrackingMode::kAccessedBit;
  EXPECT_FALSE(
      t.init(kMachine.data(), kMachine.size(), other, ept.caps, ages.data(), ages.size()).ok());
}

INSTANTIATE_TEST_SUITE_P(BothModes, Tracker,
                         ::testing::Values(mm::TrackingMode::kRwxStash,
                                           mm::TrackingMode::kAccessedBit),
                         [](const auto& param_info) {
                           return param_info.param == mm::TrackingMode::kRwxStash
                                      ? std::string("RwxStash")
                                      : std::string("AccessedBit");
                         });

}  // namespace

namespace {

TEST_P(Tracker, SlicesOfAPassAddUpToThePassAndAFullPassFinishesTheOneInProgress) {
  pass();
  touch(0x0040'0000, true);
  touch(0x0320'0000, false);  // in the last RAM range
  // Small slices until the pass completes: every slice's flush is the caller's to issue.
  unsigned slices = 0;
  bool flushed_something = false;
  for (;;) {
    auto step = tracker.age_step(memory, ept.map.root, 8);
    ASSERT_TRUE(step.ok());
    ++slices;
    flushed_something |= step.value().flush.needed();
    if (step.value().pass_done)
      break;
    ASSERT_LT(slices, 10000u);
  }
  EXPECT_GT(slices, 3u) << "a small budget takes several slices";
  EXPECT_TRUE(flushed_something);
  EXPECT_EQ(tracker.passes(), 2u);
  EXPECT_EQ(age_of(0x0040'0000), 0u);
  EXPECT_EQ(age_of(0x0320'0000), 0u);
  EXPECT_EQ(age_of(0x0060'0000), 254u) << "never seen";
  // A slice into the next pass, then a full pass: it reports the whole pass.
  touch(0x0060'0000, false);
  ASSERT_TRUE(tracker.age_step(memory, ept.map.root, 100000).ok());  // the first range
  touch(0x0320'0000, false);
  const auto full = pass();
  EXPECT_EQ(tracker.passes(), 3u);
  EXPECT_EQ(full.counts.accessed_pages, 2 * 512u) << "both leaves, found by either part";
  EXPECT_EQ(full.counts.tracked_pages, kRamFrames);
}

}  // namespace
