// Real threads on shared entries: aging passes, a zapper remapping entries, two vCPUs
// resolving faults on the same entries, "hardware" setting A/D, and an observer checking
// every value it sees. Run under ThreadSanitizer in the host-tsan preset. Every loop is
// bounded by iteration counts.
//
// What "nothing lost" means here: each entry's state only moves along counted transitions,
// so the counts must balance at the end:
//   present installs + accesses restored   == reports of "accessed" (aging, zaps) + present now
//   writable installs + writes restored    == reports of "dirty" (aging, zaps) + writable now
//   (an install is the initial value, at the start and at every zap)
//   (accessed-bit mode) hardware A sets == reports of A (aging, zaps) + A now; same for D
// A plain store, a swap computed from a stale read, or a report taken from the wrong value
// breaks one of these equalities.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <random>
#include <thread>
#include <vector>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/fault_resolver.h"
#include "mm/live_aging.h"
#include "mm/live_entry.h"
#include "mm/live_zap.h"
#include "test_caps.h"

namespace {

using arch::EptCapabilities;
using arch::EptEntry;
using arch::EptLevel;
using mm::AccessSet;
using mm::FaultResolution;
using mm::TrackingMode;

constexpr EptLevel kPte = EptLevel::kPte;
constexpr size_t kEntries = 4;  // few entries: every thread collides on them all the time

struct Counters {
  std::atomic<uint64_t> accessed{0};
  std::atomic<uint64_t> dirty{0};
  std::atomic<uint64_t> access_restored{0};
  std::atomic<uint64_t> write_restored{0};
  std::atomic<uint64_t> hw_accessed_sets{0};
  std::atomic<uint64_t> hw_dirty_sets{0};
  std::atomic<uint64_t> writes_done{0};
  std::atomic<uint64_t> zaps{0};
};

struct Shared {
  alignas(64) std::array<uint64_t, kEntries> slots{};
  std::array<Counters, kEntries> counters;
  std::atomic<uint64_t> retry_limits{0};
  std::atomic<uint64_t> illegal_seen{0};
  std::atomic<uint64_t> unmapped_seen{0};
  std::atomic<uint64_t> observations{0};
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> interleavings{0};
  // Set when the workload threads (vCPUs, hardware) are done: aging and observing run until
  // then, so they overlap the workload however the scheduler starts the threads, and stop
  // at an iteration cap in any case.
  std::atomic<int> workers_left{0};
  // Workload threads stop looking for more interleavings here: far beyond what an idle or
  // moderately loaded machine needs (well under a second), so only a starved run fails.
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
};

constexpr int kMaxPasses = 1'000'000;
// Workload threads keep going (up to the deadline) until they have seen the effect of aging
// this many times (a restore, or A set again after aging cleared it), so the test really
// exercises the race whatever the scheduler does; their own count is a minimum. An
// operation cap would not do: on a loaded machine the aging thread may not run at all
// while a vCPU thread burns through its cap.
constexpr uint64_t kMinInterleavings = 1000;

// Two cores, five threads: a thread that never yields can finish its whole loop inside
// one time slice. Yielding every few iterations makes the threads take turns.
void let_others_run(int n) {
  if (n % 16 == 0)
    std::this_thread::yield();
}

// Aging, zapping and observing run while any workload thread does; past kMaxPasses only
// until the workload's deadline (a starved workload must not find aging gone).
bool keep_aging(const Shared& s, int pass) {
  if (s.workers_left.load() <= 0)
    return false;
  return pass < kMaxPasses || std::chrono::steady_clock::now() < s.deadline;
}

// `progress`: the interleavings that count for this workload (all of them by default).
bool keep_working(const Shared& s, int done, int wanted,
                  const std::atomic<uint64_t>* progress = nullptr) {
  let_others_run(done);
  if (done < wanted)
    return true;
  const uint64_t seen = progress != nullptr ? progress->load() : s.interleavings.load();
  return seen < kMinInterleavings && std::chrono::steady_clock::now() < s.deadline;
}

// Marks a workload thread as running for its whole scope.
class Worker {
 public:
  explicit Worker(Shared& s) : s_(s) {}
  ~Worker() { s_.workers_left.fetch_sub(1); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

 private:
  Shared& s_;
};

// Entry i: a mix of writable, read-only-by-policy and executable pages.
EptEntry initial(size_t i) {
  switch (i % 4) {
    case 0:
      return mm::test::leaf(kPte, 0b011, true);
    case 1:
      return mm::test::leaf(kPte, 0b111, true);
    case 2:
      return mm::test::leaf(kPte, 0b001, false);
    default:
      return mm::test::leaf(kPte, 0b101, true);
  }
}

void aging_thread(Shared& s, const EptCapabilities& caps) {
  for (int pass = 0; keep_aging(s, pass); ++pass) {
    s.passes.fetch_add(1);
    let_others_run(pass);
    for (size_t i = 0; i < kEntries; ++i) {
      mm::LiveEntry live(s.slots[i]);
      auto r = mm::age_live_entry(live, kPte, mm::test::mode_for(caps), caps);
      if (!r.ok()) {
        ASSERT_EQ(r.error(), arch::Error::kRetryLimit);
        s.retry_limits.fetch_add(1);
        continue;
      }
      if (r.value().accessed)
        s.counters[i].accessed.fetch_add(1);
      if (r.value().dirty)
        s.counters[i].dirty.fetch_add(1);
    }
  }
}

// Remaps entries now and then (as a split or a policy change would): an exchange with the
// initial value, whose report counts like an aging pass's.
void zapper_thread(Shared& s, const EptCapabilities& caps) {
  for (int pass = 0; keep_aging(s, pass); ++pass) {
    let_others_run(pass);
    const size_t i = static_cast<size_t>(pass) % kEntries;
    if (pass % 5 != 0)
      continue;
    const mm::ZapReport r = mm::zap_live_entry(mm::LiveEntry(s.slots[i]), kPte,
                                               mm::test::mode_for(caps), caps, initial(i));
    s.counters[i].zaps.fetch_add(1);
    if (r.accessed)
      s.counters[i].accessed.fetch_add(1);
    if (r.dirty)
      s.counters[i].dirty.fetch_add(1);
  }
}

// A vCPU: accesses that fault go to the resolver, then the access is retried, as after a
// VM entry. The "access" itself is the processor reading the entry and finding it allowed.
void vcpu_thread(Shared& s, const EptCapabilities& caps, unsigned seed, int accesses) {
  Worker worker(s);
  std::minstd_rand rng(seed);
  for (int n = 0; keep_working(s, n, accesses); ++n) {
    const size_t i = rng() % kEntries;
    const AccessSet set = AccessSet::from_bits(static_cast<uint8_t>(1 + rng() % 3));  // R,W,RW
    mm::LiveEntry live(s.slots[i]);
    for (int tries = 0; tries < 8; ++tries) {
      if (set.allowed_by(live.load())) {
        if (set.write())
          s.counters[i].writes_done.fetch_add(1);
        break;
      }
      auto r = mm::resolve_fault(live, kPte, set, caps);
      if (!r.ok()) {
        ASSERT_EQ(r.error(), arch::Error::kRetryLimit);
        s.retry_limits.fetch_add(1);
        continue;
      }
      if (r.value().has(FaultResolution::kAccessRestored)) {
        s.counters[i].access_restored.fetch_add(1);
        s.interleavings.fetch_add(1);
      }
      if (r.value().has(FaultResolution::kWriteRestored))
        s.counters[i].write_restored.fetch_add(1);
      if (r.value().has(FaultResolution::kViolation))
        break;  // e.g. a write to the read-only page: the slow path's business
    }
  }
}

// The processor's own A/D updates (accessed-bit mode): a locked OR while the entry is
// present, counted only when the bit actually goes from 0 to 1.
void hardware_thread(Shared& s, unsigned seed, int accesses) {
  Worker worker(s);
  std::minstd_rand rng(seed);
  for (int n = 0; keep_working(s, n, accesses); ++n) {
    const size_t i = rng() % kEntries;
    const bool write = rng() % 2 == 0;
    std::atomic_ref<uint64_t> live(s.slots[i]);
    uint64_t seen = live.load();
    for (;;) {
      const EptEntry e(seen);
      if (!e.readable() || (write && !e.writable()))
        break;
      EptEntry next = e;
      next.set_accessed(true);
      if (write)
        next.set_dirty(true);
      if (next == e || live.compare_exchange_weak(seen, next.raw())) {
        if (!e.accessed() && next.accessed()) {
          s.counters[i].hw_accessed_sets.fetch_add(1);
          s.interleavings.fetch_add(1);
        }
        if (!e.dirty() && next.dirty())
          s.counters[i].hw_dirty_sets.fetch_add(1);
        break;
      }
    }
  }
}

void observer_thread(Shared& s, const EptCapabilities& caps) {
  for (int round = 0; keep_aging(s, round); ++round) {
    let_others_run(round);
    for (size_t i = 0; i < kEntries; ++i) {
      const EptEntry e(std::atomic_ref<uint64_t>(s.slots[i]).load());
      if (!mm::check_entry(e, kPte, caps).ok())
        s.illegal_seen.fetch_add(1);
      if (!mm::is_mapped(e))
        s.unmapped_seen.fetch_add(1);
      if (!mm::is_policy_writable(initial(i)) && e.writable())
        s.illegal_seen.fetch_add(1);
      s.observations.fetch_add(1);
    }
  }
}

uint64_t total_zaps(const Shared& s) {
  uint64_t n = 0;
  for (const Counters& c : s.counters)
    n += c.zaps.load();
  return n;
}

void expect_balanced(const Shared& s, size_t i, const EptCapabilities& caps) {
  const Counters& c = s.counters[i];
  const EptEntry start = initial(i);
  const EptEntry now(s.slots[i]);
  SCOPED_TRACE("entry " + std::to_string(i));
  if (mm::test::mode_for(caps) == TrackingMode::kRwxStash) {
    // Each zap installs the initial value: one more "present", and one more "writable" if
    // the initial value is writable.
    const uint64_t installs = 1 + c.zaps.load();
    EXPECT_EQ(installs + c.access_restored.load(),
              c.accessed.load() + (mm::is_hw_present(now) ? 1 : 0));
    EXPECT_EQ((start.writable() ? installs : 0) + c.write_restored.load(),
              c.dirty.load() + (now.writable() ? 1 : 0));
    if (c.writes_done.load() > 0) {
      EXPECT_TRUE(c.dirty.load() > 0 || now.writable()) << "writes happened, none reported";
    }
  } else {
    EXPECT_EQ(c.hw_accessed_sets.load(), c.accessed.load() + (now.accessed() ? 1 : 0));
    EXPECT_EQ(c.hw_dirty_sets.load(), c.dirty.load() + (now.dirty() ? 1 : 0));
  }
}

template <typename... Fns>
void run_together(Fns... fns) {
  std::latch start(sizeof...(Fns));
  std::vector<std::thread> threads;
  (threads.emplace_back([&start, fns] {
    start.arrive_and_wait();
    fns();
  }),
   ...);
  for (std::thread& t : threads)
    t.join();
}

TEST(Races, RwxStashAgingZappingAndTwoVcpusLoseNothing) {
  const EptCapabilities caps = mm::test::ivy_bridge();
  Shared s;
  for (size_t i = 0; i < kEntries; ++i)
    s.slots[i] = initial(i).raw();
  s.workers_left = 2;
  run_together([&] { aging_thread(s, caps); }, [&] { aging_thread(s, caps); },
               [&] { zapper_thread(s, caps); }, [&] { vcpu_thread(s, caps, 1, 100000); },
               [&] { vcpu_thread(s, caps, 2, 100000); }, [&] { observer_thread(s, caps); });
  EXPECT_EQ(s.illegal_seen.load(), 0u);
  EXPECT_EQ(s.unmapped_seen.load(), 0u);
  uint64_t restored = 0;
  for (size_t i = 0; i < kEntries; ++i) {
    ASSERT_TRUE(mm::check_entry(EptEntry(s.slots[i]), kPte, caps).ok());
    expect_balanced(s, i, caps);
    restored += s.counters[i].access_restored.load();
  }
  EXPECT_GE(restored, kMinInterleavings) << "the threads never actually interleaved";
  EXPECT_GT(total_zaps(s), 0u);
}

TEST(Races, AccessedBitAgingAndZappingAgainstHardwareLoseNoAccessedOrDirty) {
  const EptCapabilities caps = mm::test::haswell_ad();
  Shared s;
  for (size_t i = 0; i < kEntries; ++i)
    s.slots[i] = initial(i).raw();
  s.workers_left = 2;
  run_together([&] { aging_thread(s, caps); }, [&] { aging_thread(s, caps); },
               [&] { zapper_thread(s, caps); }, [&] { hardware_thread(s, 1, 100000); },
               [&] { hardware_thread(s, 2, 100000); }, [&] { observer_thread(s, caps); });
  EXPECT_EQ(s.illegal_seen.load(), 0u);
  uint64_t sets = 0;
  for (size_t i = 0; i < kEntries; ++i) {
    ASSERT_TRUE(mm::check_entry(EptEntry(s.slots[i]), kPte, caps).ok());
    expect_balanced(s, i, caps);
    sets += s.counters[i].hw_accessed_sets.load();
  }
  EXPECT_GE(sets, kMinInterleavings) << "aging never raced the hardware";
  EXPECT_GT(total_zaps(s), 0u);
}

// Two vCPUs hammer one tracked entry with writes while it is aged again and again: every
// restore is a single compare-and-swap, so each write restore is matched by exactly one
// dirty report, whichever vCPU did it.
TEST(Races, TwoVcpusOnOneEntryRestoreEachWriteOnce) {
  const EptCapabilities caps = mm::test::ivy_bridge();
  Shared s;
  for (size_t i = 0; i < kEntries; ++i)
    s.slots[i] = mm::mark_tracked(mm::test::leaf(kPte, 0b011, true)).raw();
  auto writer = [&](unsigned seed) {
    Worker worker(s);
    std::minstd_rand rng(seed);
    // Only write restores count here: the aging thread's own interleavings (accessed
    // reports) say nothing about the writers' race.
    for (int n = 0; keep_working(s, n, 50000, &s.counters[0].write_restored); ++n) {
      mm::LiveEntry live(s.slots[0]);
      const AccessSet set(rng() % 2 == 0, true, false);
      if (set.allowed_by(live.load()))
        continue;
      auto r = mm::resolve_fault(live, kPte, set, caps);
      if (!r.ok()) {
        s.retry_limits.fetch_add(1);
        continue;
      }
      if (r.value().has(FaultResolution::kAccessRestored))
        s.counters[0].access_restored.fetch_add(1);
      if (r.value().has(FaultResolution::kWriteRestored)) {
        s.counters[0].write_restored.fetch_add(1);
        s.interleavings.fetch_add(1);
      }
    }
  };
  s.workers_left = 2;
  run_together([&] { writer(7); }, [&] { writer(8); }, [&] { aging_thread(s, caps); },
               [&] { observer_thread(s, caps); });
  EXPECT_EQ(s.illegal_seen.load(), 0u);
  const Counters& c = s.counters[0];
  const EptEntry now(s.slots[0]);
  EXPECT_EQ(c.access_restored.load(), c.accessed.load() + (mm::is_hw_present(now) ? 1 : 0));
  EXPECT_EQ(c.write_restored.load(), c.dirty.load() + (now.writable() ? 1 : 0));
  EXPECT_GE(c.write_restored.load(), kMinInterleavings);
}

}  // namespace
