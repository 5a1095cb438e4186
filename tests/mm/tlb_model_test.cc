// Flush decisions against the per-vCPU TLB model: aging asks for the flush that makes the
// next access visible, restoring asks for none, and skipping a requested flush loses
// accesses (which is what makes a missing flush fail a test).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>

#include "arch/ept_entry.h"
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/fault_resolver.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "test_caps.h"
#include "tlb_model.h"

namespace {

using arch::EptCapabilities;
using arch::EptEntry;
using arch::EptLevel;
using mm::AccessSet;
using mm::FaultResolution;
using mm::TrackingMode;
using mm::test::TlbModel;

constexpr EptLevel kPte = EptLevel::kPte;
const AccessSet kRead(true, false, false);
const AccessSet kWrite(false, true, false);

// A vCPU's access: on an EPT violation, hv/ runs the resolver and resumes the guest, which
// retries. Returns the resolutions in order.
std::vector<FaultResolution> guest_access(TlbModel& tlb, size_t cpu, uint64_t page, uint64_t& slot,
                                          AccessSet set, const EptCapabilities& caps) {
  std::vector<FaultResolution> seen;
  for (int tries = 0; tries < 4; ++tries) {
    if (tlb.access(cpu, page, slot, set) != TlbModel::Access::kViolation)
      return seen;
    mm::LiveEntry live(slot);
    auto r = mm::resolve_fault(live, kPte, set, caps);
    EXPECT_TRUE(r.ok());
    seen.push_back(r.value());
    tlb.apply(FaultResolution::flush());
    if (r.value().has(FaultResolution::kViolation)) {
      ADD_FAILURE() << "unexpected violation: " << mm::violation_name(r.value().violation);
      return seen;
    }
  }
  ADD_FAILURE() << "access never completed";
  return seen;
}

mm::AgeReport age_page(uint64_t& slot, const EptCapabilities& caps) {
  mm::LiveEntry live(slot);
  auto r = mm::age_live_entry(live, kPte, mm::test::mode_for(caps), caps);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(mm::check_entry(EptEntry(slot), kPte, caps).ok());
  return r.value_or(mm::AgeReport{});
}

// The model works: an access through a translation cached before aging, with the requested
// flush skipped, never reaches the entry, so the next pass calls a used page idle.
TEST(TlbModel, SkippingTheRequestedFlushLosesTheAccess) {
  for (const EptCapabilities& caps : {mm::test::ivy_bridge(), mm::test::haswell_ad()}) {
    TlbModel tlb(1, caps);
    uint64_t slot = mm::test::leaf(kPte, 0b011, true).raw();
    guest_access(tlb, 0, 7, slot, kRead, caps);
    const mm::AgeReport first = age_page(slot, caps);
    EXPECT_TRUE(first.accessed);
    ASSERT_TRUE(first.flush.needed());
    // tlb.apply(first.flush) deliberately skipped
    EXPECT_TRUE(guest_access(tlb, 0, 7, slot, kRead, caps).empty()) << "served from the TLB";
    EXPECT_FALSE(age_page(slot, caps).accessed) << "the access is lost without the flush";
  }
}

TEST(TlbModel, RestoringNeedsNoFlushEvenWithStaleTranslationsElsewhere) {
  const EptCapabilities caps = mm::test::ivy_bridge();
  TlbModel tlb(2, caps);
  uint64_t slot = mm::mark_tracked(mm::test::leaf(kPte, 0b011, true)).raw();
  // Both CPUs read: the first restores R, the second finds it present.
  EXPECT_EQ(guest_access(tlb, 0, 1, slot, kRead, caps).size(), 1u);
  EXPECT_TRUE(guest_access(tlb, 1, 1, slot, kRead, caps).empty());
  // Both now cache a read-only translation. CPU 0 writes: W comes back. CPU 1's stale
  // translation faults, the resolver sees W already there: spurious, and the violation
  // dropped the stale translation, so the retry succeeds with no INVEPT anywhere.
  auto w0 = guest_access(tlb, 0, 1, slot, kWrite, caps);
  ASSERT_EQ(w0.size(), 1u);
  EXPECT_TRUE(w0[0].has(FaultResolution::kWriteRestored));
  auto w1 = guest_access(tlb, 1, 1, slot, kWrite, caps);
  ASSERT_EQ(w1.size(), 1u);
  EXPECT_EQ(w1[0].outcomes, FaultResolution::kSpurious);
  EXPECT_EQ(tlb.flushes(), 0u);
  EXPECT_TRUE(age_page(slot, caps).dirty);
}

// Many passes over a few pages and two CPUs with random reads and writes: with the flushes
// aging asks for applied, each pass reports exactly the pages used and written in it.
void run_passes(const EptCapabilities& caps) {
  constexpr size_t kPages = 6;
  constexpr size_t kCpus = 2;
  TlbModel tlb(kCpus, caps);
  std::array<uint64_t, kPages> slots{};
  for (uint64_t& s : slots)
    s = mm::test::leaf(kPte, 0b011, true).raw();
  for (uint64_t& s : slots) {  // the pass before the first: start from a clean state
    mm::FlushRequest f = age_page(s, caps).flush;
    tlb.apply(f);
  }
  std::mt19937 rng(42);
  for (int pass = 0; pass < 200; ++pass) {
    std::array<bool, kPages> used{};
    std::array<bool, kPages> written{};
    const int accesses = static_cast<int>(rng() % 8);
    for (int i = 0; i < accesses; ++i) {
      const size_t page = rng() % kPages;
      const bool write = rng() % 3 == 0;
      guest_access(tlb, rng() % kCpus, page, slots[page], write ? kWrite : kRead, caps);
      used[page] = true;
      written[page] = written[page] || write;
    }
    mm::FlushRequest flush;
    for (size_t page = 0; page < kPages; ++page) {
      const mm::AgeReport r = age_page(slots[page], caps);
      EXPECT_EQ(r.accessed, used[page]) << "pass " << pass << " page " << page;
      EXPECT_EQ(r.dirty, written[page]) << "pass " << pass << " page " << page;
      flush.merge(r.flush);
    }
    tlb.apply(flush);  // once per pass, as hv/ batches it
  }
  EXPECT_GT(tlb.hits(), 0u) << "the model must actually cache";
}

TEST(TlbModel, RwxStashPassesReportExactlyTheUsedAndWrittenPages) {
  run_passes(mm::test::ivy_bridge());
}

TEST(TlbModel, AccessedBitPassesReportExactlyTheUsedAndWrittenPages) {
  run_passes(mm::test::haswell_ad());
}

}  // namespace
