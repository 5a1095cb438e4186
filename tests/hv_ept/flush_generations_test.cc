// Cross-CPU flushes by generation (hv/flush_generations.h) against the per-vCPU TLB model:
// a deferred flush reaches each CPU at its next exit, a synchronous one is complete only
// when every online CPU has flushed.
#include "hv/flush_generations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "mm/access_tracking.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/test_caps.h"  // tests/mm
#include "mm/tlb_model.h"  // tests/mm

namespace {

using arch::EptLevel;
using mm::AccessSet;
using mm::test::TlbModel;

const AccessSet kRead(true, false, false);

// What a VM exit on `cpu` does first: flush if behind.
void exit_on(hv::FlushGenerations& g, TlbModel& tlb, size_t cpu) {
  if (const uint64_t want = g.pending(cpu); want != 0) {
    tlb.flush_cpu(cpu);
    g.flushed(cpu, want);
  }
}

TEST(FlushGenerations, ADeferredFlushReachesEachCpuAtItsNextExit) {
  const auto caps = mm::test::ivy_bridge();
  TlbModel tlb(2, caps);
  hv::FlushGenerations g;
  g.set_online(0, true);
  g.set_online(1, true);
  uint64_t entry = mm::test::leaf(EptLevel::kPte, 0b111, true).raw();
  tlb.access(0, 0x1000, entry, kRead);
  tlb.access(1, 0x1000, entry, kRead);
  // An aging pass on CPU 0 tracks the entry and asks for a flush.
  const auto aged =
      mm::age_live_entry(mm::LiveEntry(entry), EptLevel::kPte, mm::TrackingMode::kRwxStash, caps);
  ASSERT_TRUE(aged.ok() && aged.value().flush.needed());
  const uint64_t generation = g.request();
  exit_on(g, tlb, 0);  // the initiator flushes itself on its way back to the guest
  EXPECT_EQ(tlb.access(0, 0x1000, entry, kRead), TlbModel::Access::kViolation)
      << "CPU 0's next access is seen";
  EXPECT_EQ(tlb.access(1, 0x1000, entry, kRead), TlbModel::Access::kHit)
      << "CPU 1 has not exited yet: its access is missed (accuracy, not correctness)";
  EXPECT_FALSE(g.all_flushed(generation));
  exit_on(g, tlb, 1);
  EXPECT_TRUE(g.all_flushed(generation));
  EXPECT_EQ(tlb.access(1, 0x1000, entry, kRead), TlbModel::Access::kViolation)
      << "after its exit, CPU 1's accesses are seen too";
  EXPECT_EQ(g.pending(1), 0u) << "nothing more to do";
}

TEST(FlushGenerations, OfflineCpusAreNotWaitedForAndComeBackUpToDate) {
  hv::FlushGenerations g;
  g.set_online(0, true);
  g.set_online(1, true);
  const uint64_t first = g.request();
  g.set_online(1, false);  // e.g. an AP parked in wait-for-SIPI
  g.flushed(0, g.pending(0));
  EXPECT_TRUE(g.all_flushed(first));
  g.request();
  g.set_online(1, true);  // it flushes everything as it comes online
  EXPECT_EQ(g.pending(1), 0u);
}

TEST(FlushGenerations, TheHighestCpuSlotIsWaitedForAndCounted) {
  // The waits look only as far as the highest CPU ever online: that one must be included.
  hv::FlushGenerations g;
  g.set_online(0, true);
  g.set_online(hv::FlushGenerations::kMaxCpus - 1, true);
  const uint64_t want = g.request();
  g.flushed(0, g.pending(0));
  EXPECT_FALSE(g.all_flushed(want));
  EXPECT_EQ(g.count_flushed(want), 1u);
  g.flushed(hv::FlushGenerations::kMaxCpus - 1, g.pending(hv::FlushGenerations::kMaxCpus - 1));
  EXPECT_TRUE(g.all_flushed(want));
  EXPECT_EQ(g.count_flushed(want), 2u);
}

TEST(FlushGenerations, CountsTheOnlineCpusThatFlushed) {
  hv::FlushGenerations g;
  g.set_online(0, true);
  g.set_online(1, true);
  g.set_online(2, true);
  const uint64_t want = g.request();
  EXPECT_EQ(g.count_flushed(want), 0u);
  g.flushed(0, g.pending(0));
  EXPECT_EQ(g.count_flushed(want), 1u);
  g.flushed(2, g.pending(2));
  EXPECT_EQ(g.count_flushed(want), 2u);
  EXPECT_FALSE(g.all_flushed(want)) << "CPU 1 has not flushed";
  g.set_online(1, false);
  EXPECT_FALSE(g.online(1));
  EXPECT_TRUE(g.all_flushed(want));
  EXPECT_EQ(g.count_flushed(want), 2u) << "an offline CPU is neither waited for nor counted";
}

TEST(FlushGenerations, ALaterFlushCoversAnEarlierRequest) {
  hv::FlushGenerations g;
  g.set_online(0, true);
  const uint64_t a = g.request();
  const uint64_t b = g.request();
  g.flushed(0, g.pending(0));
  EXPECT_TRUE(g.all_flushed(a));
  EXPECT_TRUE(g.all_flushed(b));
  g.flushed(0, a);  // a late, older acknowledgement never moves a CPU back
  EXPECT_TRUE(g.all_flushed(b));
}

// Threads: an initiator requests synchronous flushes and waits; CPUs exit in a loop. When
// the initiator sees all_flushed(g), every CPU has executed its flush after reading a
// generation >= g: recorded per CPU, checked afterwards (TSan checks the ordering).
TEST(FlushGenerations, SynchronousFlushesCompleteOnEveryCpuUnderThreads) {
  constexpr size_t kCpus = 3;
  constexpr int kRequests = 2000;
  hv::FlushGenerations g;
  for (size_t c = 0; c < kCpus; ++c)
    g.set_online(c, true);
  std::atomic<bool> done{false};
  std::vector<std::atomic<uint64_t>> flushed_for(kCpus);
  std::vector<std::thread> cpus;
  for (size_t c = 0; c < kCpus; ++c) {
    cpus.emplace_back([&, c] {
      while (!done.load()) {
        if (const uint64_t want = g.pending(c); want != 0) {
          flushed_for[c].store(want);  // "INVEPT" happens here, after reading `want`
          g.flushed(c, want);
        }
        std::this_thread::yield();
      }
    });
  }
  unsigned violations = 0;
  for (int i = 0; i < kRequests; ++i) {
    const uint64_t want = g.request();
    while (!g.all_flushed(want))
      std::this_thread::yield();
    for (size_t c = 0; c < kCpus; ++c)
      violations += flushed_for[c].load() < want ? 1u : 0u;
  }
  done = true;
  for (auto& t : cpus)
    t.join();
  EXPECT_EQ(violations, 0u);
}

}  // namespace
