// A per-vCPU TLB model for one EPT context. Each simulated CPU caches the translation (the
// permissions, the memory type, and in A/D mode whether D was set) of every page it used and keeps
// using it without reading the entry again, until a FlushRequest returned by mm/ is applied. So an
// mm/ change that needs an INVEPT but did not ask for one shows up as an access the entry
// never saw. What the model follows [SDM 3C "Caching Translation Information"]:
//  - no translation is cached from a non-present entry or for an access that faulted;
//  - an EPT violation drops the faulting CPU's translation for that page;
//  - with A/D enabled, a fill sets A (and D for a write) atomically, and a write through a
//    cached translation whose D was clear walks the entry again to set D.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/access_set.h"
#include "mm/ept_sw_bits.h"
#include "mm/flush_request.h"

namespace mm::test {

class TlbModel {
 public:
  enum class Access { kHit, kFilled, kViolation };

  TlbModel(size_t cpus, const arch::EptCapabilities& caps) : cpus_(cpus), caps_(caps) {}

  // `cpu` accesses `page`, whose leaf entry is `slot`.
  Access access(size_t cpu, uint64_t page, uint64_t& slot, AccessSet set) {
    auto& cache = cpus_.at(cpu);
    if (auto it = cache.find(page); it != cache.end()) {
      const Cached c = it->second;
      const bool needs_dirty = caps_.ad_enabled && set.write() && !c.dirty;
      if (set.allowed_by(arch::EptEntry(c.rwx)) && !needs_dirty) {
        ++hits_;
        return Access::kHit;
      }
      cache.erase(it);
      if (!set.allowed_by(arch::EptEntry(c.rwx))) {
        ++violations_;  // the stale translation faults; the violation drops it
        return Access::kViolation;
      }
    }
    return walk(cache, page, slot, set);
  }

  void apply(FlushRequest flush) {
    if (!flush.needed())
      return;
    ++flushes_;
    for (auto& cache : cpus_)
      cache.clear();
  }

  bool cached(size_t cpu, uint64_t page) const { return cpus_.at(cpu).count(page) != 0; }

  // Whether `cpu`'s cached translation of `page` (if any) is what `current`, the entry that
  // translates it now, would give: the same permissions and memory type. A CPU whose cached
  // translation differs keeps using the stale one until a flush: the change needed it.
  bool cached_matches(size_t cpu, uint64_t page, arch::EptEntry current) const {
    const auto& cache = cpus_.at(cpu);
    const auto it = cache.find(page);
    if (it == cache.end())
      return true;
    return it->second.rwx == current.rwx() && it->second.memory_type == current.memory_type() &&
           it->second.ignore_pat == current.ignore_pat();
  }
  unsigned hits() const { return hits_; }
  unsigned violations() const { return violations_; }
  unsigned flushes() const { return flushes_; }

 private:
  struct Cached {
    uint64_t rwx = 0;
    bool dirty = false;
    uint64_t memory_type = 0;
    bool ignore_pat = false;
  };

  Access walk(std::map<uint64_t, Cached>& cache, uint64_t page, uint64_t& slot, AccessSet set) {
    std::atomic_ref<uint64_t> live(slot);
    uint64_t seen = live.load();
    for (;;) {
      const arch::EptEntry e(seen);
      if (!set.allowed_by(e)) {
        ++violations_;
        return Access::kViolation;
      }
      uint64_t next = seen;
      if (caps_.ad_enabled) {
        next |= arch::bit(arch::EptEntry::kAccessedBit);
        if (set.write())
          next |= arch::bit(arch::EptEntry::kDirtyBit);
      }
      // The processor's locked update of A/D, only while the entry is what it walked.
      if (next == seen || live.compare_exchange_strong(seen, next)) {
        cache[page] =
            Cached{e.rwx(), arch::EptEntry(next).dirty(), e.memory_type(), e.ignore_pat()};
        return Access::kFilled;
      }
    }
  }

  std::vector<std::map<uint64_t, Cached>> cpus_;
  arch::EptCapabilities caps_;
  unsigned hits_ = 0;
  unsigned violations_ = 0;
  unsigned flushes_ = 0;
};

}  // namespace mm::test
