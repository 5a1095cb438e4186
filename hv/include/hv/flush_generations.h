// Cross-CPU EPT invalidation, by generation numbers. INVEPT acts on the CPU that executes
// it, so a change to the EPT that other CPUs may have cached must reach each of them. Two
// kinds of change, two paths [docs/smp.md]:
//
//  - deferred (accuracy only: an aging pass). The initiator changes entries, then calls
//    request(). Every CPU compares at each VM exit (pending()) and, when behind, executes
//    INVEPT itself and calls flushed(). Until its next exit a CPU may keep using a cached
//    translation, so some of its accesses may be missed by the next pass: a less accurate
//    working set, never a wrong mapping.
//  - synchronous (correctness: a dirty harvest before the caller uses the bitmap, removing
//    access, a memory-type change). The initiator calls request(), makes every other
//    online CPU exit (an NMI IPI), and waits until all_flushed() says each one has flushed
//    for that generation (or went offline).
//
// Ordering: request() is a release after the entry changes; pending() an acquire before
// the INVEPT; so the INVEPT runs after the changes are visible and drops every translation
// made before them. Pure (atomics only): host tests run it with threads and the TLB model.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace hv {

class FlushGenerations {
 public:
  static constexpr size_t kMaxCpus = 64;

  // After changing entries: the generation whose flush covers the change.
  uint64_t request() { return global_.fetch_add(1, std::memory_order_acq_rel) + 1; }

  // At a VM exit on `cpu`: the generation to flush for (INVEPT, then flushed()), or 0 when
  // this CPU is up to date.
  uint64_t pending(size_t cpu) const {
    const uint64_t g = global_.load(std::memory_order_acquire);
    return seen_[cpu].load(std::memory_order_relaxed) < g ? g : 0;
  }

  // `cpu` executed INVEPT after reading `generation` from pending().
  void flushed(size_t cpu, uint64_t generation) {
    uint64_t seen = seen_[cpu].load(std::memory_order_relaxed);
    while (seen < generation &&
           !seen_[cpu].compare_exchange_weak(seen, generation, std::memory_order_release,
                                             std::memory_order_relaxed)) {
    }
  }

  // A CPU enters (true) or leaves (false) the set the synchronous path waits for. A CPU
  // that comes online flushes first (its TLB may hold anything), so it starts up to date.
  void set_online(size_t cpu, bool online) {
    if (online) {
      seen_[cpu].store(global_.load(std::memory_order_acquire), std::memory_order_release);
      size_t slots = slots_.load(std::memory_order_relaxed);
      while (slots < cpu + 1 &&
             !slots_.compare_exchange_weak(slots, cpu + 1, std::memory_order_acq_rel)) {
      }
    }
    online_[cpu].store(online, std::memory_order_release);
  }

  bool online(size_t cpu) const { return online_[cpu].load(std::memory_order_acquire); }

  // How many online CPUs have flushed for `generation`: what a synchronous flush reports.
  size_t count_flushed(uint64_t generation) const {
    size_t n = 0;
    const size_t slots = slots_.load(std::memory_order_acquire);
    for (size_t cpu = 0; cpu < slots; ++cpu) {
      if (online_[cpu].load(std::memory_order_acquire) &&
          seen_[cpu].load(std::memory_order_acquire) >= generation)
        ++n;
    }
    return n;
  }

  // Whether every online CPU has flushed for `generation`.
  bool all_flushed(uint64_t generation) const {
    const size_t slots = slots_.load(std::memory_order_acquire);
    for (size_t cpu = 0; cpu < slots; ++cpu) {
      if (online_[cpu].load(std::memory_order_acquire) &&
          seen_[cpu].load(std::memory_order_acquire) < generation)
        return false;
    }
    return true;
  }

 private:
  std::atomic<uint64_t> global_{0};
  std::atomic<uint64_t> seen_[kMaxCpus] = {};
  std::atomic<bool> online_[kMaxCpus] = {};
  // One past the highest CPU ever online: the waits and counts look no further.
  std::atomic<size_t> slots_{0};
};

}  // namespace hv
