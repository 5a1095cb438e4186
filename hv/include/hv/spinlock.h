// A test-and-test-and-set spinlock for the few things agevisor's CPUs share outside the
// lockless EPT paths: the log (so lines from several CPUs do not interleave) and the tracker
// (one aging pass at a time). Pure (atomics only): host tests run it under TSan.
#pragma once

#include <atomic>
#include <cstdint>

namespace hv {

class Spinlock {
 public:
  void lock() {
    while (!try_lock()) {
      while (locked_.load(std::memory_order_relaxed))
        __builtin_ia32_pause();
    }
  }

  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }

  // Gives up after about `spins` waits: for paths that must never hang on a CPU that died
  // holding the lock (the log on the way to a halt). Returns whether the lock is held.
  bool lock_within(uint64_t spins) {
    for (uint64_t i = 0; i <= spins; ++i) {
      if (try_lock())
        return true;
      __builtin_ia32_pause();
    }
    return false;
  }

  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinGuard {
 public:
  explicit SpinGuard(Spinlock& lock) : lock_(lock) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  Spinlock& lock_;
};

}  // namespace hv
