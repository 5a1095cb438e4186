// Real threads on one EPT: an aging thread (incremental passes and dirty-log harvests)
// against two vCPU threads resolving faults (rwx-stash), or against hardware A/D threads
// (accessed-bit mode). Run under ThreadSanitizer in the host-tsan preset; every loop is
// bounded by iteration counts.
//
// Nothing lost means per-frame counts balance at the end. Every change is a counted
// compare-and-swap transition, and a large leaf's transition counts once for each of its
// frames (a split copies the state to every child, so it changes no frame's count):
//   rwx-stash:    present at start + accesses restored == pass reports "accessed" + present now
//                 writable at start + writes restored  == pass reports "dirty"
//                                                         + harvest reports + writable now
//   accessed-bit: hardware A sets == pass reports "accessed" + A now
//                 hardware D sets == pass reports "dirty" + harvest reports + D now
// A harvest that took W or D without reporting it, a pass that reported a leaf it did not
// age, or a lost write breaks one of these.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "aging_map.h"
#include "mm/access_set.h"
#include "mm/aging_walk.h"
#include "mm/dirty_log.h"
#include "mm/ept_walk.h"
#include "mm/fault_resolver.h"
#include "mm/live_split.h"
#include "mm/test_caps.h"  // tests/mm

namespace {

using arch::EptEntry;
using arch::Gpa;
using mm_test::HostTableMemory;
using namespace mm::test;

constexpr uint64_t k4K = arch::kPageSize4K;
// One 2 MiB leaf and the first eight 4 KiB pages after it.
constexpr uint64_t kStart = kRamLargeEnd - arch::kPageSize2M;
constexpr uint64_t kFrames = 512 + 8;
constexpr uint64_t kEnd = kStart + kFrames * k4K;
constexpr uint64_t kHot[] = {0, 1, 2, 511, 512, 513, 514, 519};
constexpr unsigned kManyAttempts = 100'000;  // every report is a transition, never a give-up

// Workers run at least kOps operations and keep going (up to a deadline far beyond what an
// idle or moderately loaded machine needs) until they have seen the aging thread's effect
// kMinTransitions times (a restore after a pass, A set again after a pass cleared it), so
// the race is exercised whatever the scheduler does. An operation cap would not do: on a
// loaded machine the aging thread may not run at all while a worker burns through it.
#if defined(__SANITIZE_THREAD__)
constexpr int kOps = 2'000;
constexpr int kRounds = 4;
#else
constexpr int kOps = 10'000;
constexpr int kRounds = 8;
#endif
constexpr uint64_t kMinTransitions = 500;
constexpr auto kPatience =
    std::chrono::seconds(20);  // per round: 8 rounds stay under the 300 s test timeout

bool keep_going(int op, uint64_t transitions, std::chrono::steady_clock::time_point deadline) {
  return op < kOps ||
         (transitions < kMinTransitions && std::chrono::steady_clock::now() < deadline);
}

struct Counts {
  explicit Counts(uint64_t n) : v(n) {}
  void add_leaf(uint64_t base, uint64_t pages) {
    for (uint64_t a = base; a < base + pages * k4K; a += k4K)
      if (a >= kStart && a < kEnd)
        v[(a - kStart) / k4K].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t operator[](uint64_t f) const { return v[f].load(); }
  std::vector<std::atomic<uint64_t>> v;
};

struct Leaf {
  uint64_t* slot;
  arch::EptLevel level;
  uint64_t base;
  uint64_t pages;
};

Leaf leaf_of(AgingMap& m, uint64_t gpa) {
  const auto w = mm::walk(m.memory, m.map.root, Gpa(gpa)).value();
  const uint64_t span = arch::ept_level_span(w.level);
  return {&m.memory.table(w.table)[w.index], w.level, gpa & ~(span - 1), span / k4K};
}

EptEntry entry_at(AgingMap& m, uint64_t frame) {
  return EptEntry(mm::LiveEntry(*leaf_of(m, kStart + frame * k4K).slot).load());
}

using Log = mm::DirtyLog<HostTableMemory>;

// The aging thread: incremental steps, a harvest every few steps, until the workers finish.
void age_and_harvest(AgingMap& m, mm::TrackingMode mode, Log& log, std::atomic<int>& workers,
                     Counts& accessed, Counts& pass_dirty, Counts& harvest_dirty,
                     std::atomic<uint64_t>& problems) {
  mm::AgingWalk<HostTableMemory> walk(Gpa(kStart), Gpa(kEnd), mode, m.caps);
  walk.set_max_attempts(kManyAttempts);
  std::vector<uint64_t> bits(Log::bitmap_words(kFrames));
  std::mt19937_64 rng(7);
  const auto deadline = std::chrono::steady_clock::now() + 2 * kPatience;
  for (int i = 0;
       workers.load() > 0 && (i < 1'000'000 || std::chrono::steady_clock::now() < deadline); ++i) {
    mm::AgingTotals totals;
    const auto r = walk.step(m.memory, m.map.root, 1 + rng() % 16, totals,
                             [&](Gpa base, uint64_t pages, bool a, bool d) {
                               if (a)
                                 accessed.add_leaf(base.value(), pages);
                               if (d)
                                 pass_dirty.add_leaf(base.value(), pages);
                               log.note(base, pages, d);
                             });
    if (!r.ok() || totals.contended || totals.invalid)
      problems.fetch_add(1);
    if (i % 4 == 0) {
      const auto h = log.harvest(m.memory, m.map.root, bits.data(), [&](Gpa base, uint64_t pages) {
        harvest_dirty.add_leaf(base.value(), pages);
      });
      if (!h.ok() || h.value().contended)
        problems.fetch_add(1);
    }
    std::this_thread::yield();
  }
}

struct Round {
  explicit Round(const arch::EptCapabilities& caps, mm::RamInitialState state)
      : map(build_aging_map(caps, state)),
        pending(Log::bitmap_words(kFrames)),
        log(Gpa(kStart), kFrames, pending.data(), mode_for(caps), caps) {
    log.set_max_attempts(kManyAttempts);
  }
  std::unique_ptr<AgingMap> map;
  std::vector<uint64_t> pending;
  Log log;
  Counts accessed{kFrames}, pass_dirty{kFrames}, harvest_dirty{kFrames};
  Counts restored{kFrames}, write_restored{kFrames}, a_sets{kFrames}, d_sets{kFrames};
  std::atomic<uint64_t> problems{0};
  std::atomic<int> workers{0};
};

// A vCPU in rwx-stash mode: each access walks and, while the leaf denies it, resolves the
// fault (splitting a large leaf when the resolver asks, to restore W at 4 KiB).
void vcpu(Round& r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  mm::ResolverPolicy policy;
  policy.split_large_for_write = true;
  policy.max_attempts = kManyAttempts;
  uint64_t transitions = 0;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (int op = 0; keep_going(op, transitions, deadline); ++op) {
    if (op % 16 == 0)
      std::this_thread::yield();  // two cores, three threads: let the aging thread in
    const uint64_t frame = kHot[rng() % std::size(kHot)];
    const bool write = rng() % 3 == 0;
    const mm::AccessSet set(!write, write, false);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const Leaf l = leaf_of(*r.map, kStart + frame * k4K);
      mm::LiveEntry live(*l.slot);
      const EptEntry e = live.load();
      if (set.allowed_by(e) && e.is_leaf(l.level))
        break;
      const auto res = mm::resolve_fault(live, l.level, set, r.map->caps, policy);
      if (!res.ok()) {
        r.problems.fetch_add(1);
        break;
      }
      const mm::FaultResolution& f = res.value();
      if (f.has(mm::FaultResolution::kAccessRestored)) {
        r.restored.add_leaf(l.base, l.pages);
        ++transitions;
      }
      if (f.has(mm::FaultResolution::kWriteRestored))
        r.write_restored.add_leaf(l.base, l.pages);
      if (f.has(mm::FaultResolution::kNeedsSplit) &&
          !mm::split_live_leaf(r.map->memory, live, l.level, r.map->caps, kManyAttempts).ok())
        r.problems.fetch_add(1);
      // kNotLeaf: the leaf was split under us; walk again.
      if (f.has(mm::FaultResolution::kViolation) && f.violation != mm::Violation::kNotLeaf)
        r.problems.fetch_add(1);
    }
  }
  r.workers.fetch_sub(1);
}

// The processor in accessed-bit mode: a locked update of A (and D on a write) on the leaf.
void hardware(Round& r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  uint64_t transitions = 0;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (int op = 0; keep_going(op, transitions, deadline); ++op) {
    if (op % 16 == 0)
      std::this_thread::yield();  // two cores, three threads: let the aging thread in
    const uint64_t frame = kHot[rng() % std::size(kHot)];
    const bool write = rng() % 3 == 0;
    const Leaf l = leaf_of(*r.map, kStart + frame * k4K);
    mm::LiveEntry live(*l.slot);
    EptEntry old = live.load();
    for (;;) {
      EptEntry next = old;
      next.set_accessed(true);
      if (write)
        next.set_dirty(true);
      if (next == old)
        break;
      const EptEntry before = old;
      if (live.compare_exchange(old, next)) {
        if (!before.accessed()) {
          r.a_sets.add_leaf(l.base, l.pages);
          ++transitions;
        }
        if (write && !before.dirty())
          r.d_sets.add_leaf(l.base, l.pages);
        break;
      }
    }
  }
  r.workers.fetch_sub(1);
}

TEST(AgingRace, StashPassesAndHarvestsLoseNoAccessOrWrite) {
  for (int round = 0; round < kRounds; ++round) {
    Round r(ivy_bridge(),
            round % 2 ? mm::RamInitialState::kTracked : mm::RamInitialState::kPresent);
    ASSERT_TRUE(
        r.log.start(r.map->memory, r.map->map.root, mm::TrackingGranularity::kAsMapped).ok());
    std::vector<bool> present(kFrames), writable(kFrames);
    for (uint64_t f = 0; f < kFrames; ++f) {
      present[f] = mm::is_hw_present(entry_at(*r.map, f));
      writable[f] = entry_at(*r.map, f).writable();
    }
    r.workers = 2;
    std::thread ager([&] {
      age_and_harvest(*r.map, mm::TrackingMode::kRwxStash, r.log, r.workers, r.accessed,
                      r.pass_dirty, r.harvest_dirty, r.problems);
    });
    std::thread a([&] { vcpu(r, 100 + static_cast<uint64_t>(round)); });
    std::thread b([&] { vcpu(r, 200 + static_cast<uint64_t>(round)); });
    a.join();
    b.join();
    ager.join();
    EXPECT_EQ(r.problems.load(), 0u);
    uint64_t restores = 0;  // over all frames: at least the two vCPUs' minimum
    for (uint64_t f = 0; f < kFrames; ++f) {
      const EptEntry now = entry_at(*r.map, f);
      EXPECT_EQ(present[f] + r.restored[f], r.accessed[f] + mm::is_hw_present(now)) << f;
      EXPECT_EQ(writable[f] + r.write_restored[f],
                r.pass_dirty[f] + r.harvest_dirty[f] + now.writable())
          << f;
      restores += r.restored[f];
    }
    EXPECT_GT(restores, kMinTransitions);
  }
}

TEST(AgingRace, AccessedBitPassesAndHarvestsLoseNoAOrD) {
  for (int round = 0; round < kRounds; ++round) {
    Round r(haswell_ad(), mm::RamInitialState::kPresent);
    ASSERT_TRUE(r.log.start(r.map->memory, r.map->map.root, mm::TrackingGranularity::k4K).ok());
    r.workers = 2;
    std::thread ager([&] {
      age_and_harvest(*r.map, mm::TrackingMode::kAccessedBit, r.log, r.workers, r.accessed,
                      r.pass_dirty, r.harvest_dirty, r.problems);
    });
    std::thread a([&] { hardware(r, 300 + static_cast<uint64_t>(round)); });
    std::thread b([&] { hardware(r, 400 + static_cast<uint64_t>(round)); });
    a.join();
    b.join();
    ager.join();
    EXPECT_EQ(r.problems.load(), 0u);
    uint64_t sets = 0;
    for (uint64_t f = 0; f < kFrames; ++f) {
      const EptEntry now = entry_at(*r.map, f);
      EXPECT_EQ(r.a_sets[f], r.accessed[f] + now.accessed()) << f;
      EXPECT_EQ(r.d_sets[f], r.pass_dirty[f] + r.harvest_dirty[f] + now.dirty()) << f;
      sets += r.a_sets[f];
    }
    EXPECT_GT(sets, kMinTransitions);
  }
}

}  // namespace
