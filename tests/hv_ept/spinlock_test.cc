// The spinlock the log and the tracker use across CPUs: mutual exclusion under threads (TSan
// checks the ordering of the protected data), try_lock and the bounded lock_within.
#include "hv/spinlock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace {

TEST(Spinlock, TryLockFailsWhileHeldAndSucceedsAfter) {
  hv::Spinlock lock;
  EXPECT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  EXPECT_FALSE(lock.lock_within(1000)) << "gives up instead of hanging";
  lock.unlock();
  EXPECT_TRUE(lock.lock_within(0));
  lock.unlock();
}

TEST(Spinlock, ExcludesOtherThreads) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  hv::Spinlock lock;
  uint64_t counter = 0;  // plain: only the lock protects it (TSan would see a race)
  int inside = 0;
  int overlaps = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        hv::SpinGuard guard(lock);
        overlaps += inside != 0 ? 1 : 0;
        ++inside;
        ++counter;
        --inside;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kIncrements);
  EXPECT_EQ(overlaps, 0);
}

}  // namespace
