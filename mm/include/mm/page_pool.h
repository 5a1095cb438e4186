// PagePool: the one region every EPT table and tracking-metadata page comes from. The caller
// reserves it up front (on target: EfiRuntimeServicesData pages, identity mapped in the host
// page tables, never mapped for the guest) and sizes it with pool_pages_needed().
//
// Allocation is a lock-free bump over the region, after a check of a free list of tables
// that were handed back before anyone could see them. A published table is never freed
// here: another CPU may still be walking it; freeing those needs a deferred path (later).
// Exhaustion is Error::kNoMemory, never a panic. Satisfies mm::TableMemory.
#pragma once

#include <atomic>
#include <cstdint>

#include "arch/address.h"
#include "arch/assert.h"
#include "arch/bits.h"
#include "arch/result.h"
#include "mm/table_memory.h"

namespace mm {

// The host runs identity mapped, so a host-physical address is the table's pointer.
struct IdentityTranslation {
  uint64_t* operator()(arch::Hpa hpa) const { return reinterpret_cast<uint64_t*>(hpa.value()); }
};

// For host tests: the pool's fake host-physical addresses live `delta` bytes away from the
// host memory that backs them.
struct OffsetTranslation {
  uint64_t delta = 0;
  uint64_t* operator()(arch::Hpa hpa) const {
    return reinterpret_cast<uint64_t*>(hpa.value() + delta);
  }
};

template <typename Translation = IdentityTranslation>
class PagePool {
 public:
  constexpr PagePool() = default;  // empty: every allocation fails until init()
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // [base, base + pages * 4 KiB). Call once, before the pool is shared between CPUs.
  arch::Result<void> init(arch::Hpa base, uint64_t pages, Translation translation = {}) {
    if (!base.is_aligned_to(arch::kPageSize4K) || pages == 0 ||
        pages > (~uint64_t{0} - base.value()) / arch::kPageSize4K + 1)
      return arch::Error::kInvalidArgument;
    base_ = base.value();
    pages_ = pages;
    translation_ = translation;
    next_.store(0, std::memory_order_relaxed);
    free_head_.store(kEmpty, std::memory_order_relaxed);
    return {};
  }

  uint64_t* table(arch::Hpa hpa) const {
    HV_ASSERT(contains(hpa));
    return translation_(hpa);
  }

  // A zeroed 4 KiB page: a recycled unpublished table if any, else the next unused page.
  arch::Result<arch::Hpa> allocate_table() {
    if (free_head_.load(std::memory_order_acquire) != kEmpty) {
      const uint64_t index = pop_free();
      if (index != kEmpty)
        return zeroed(page(index));
    }
    const uint64_t index = TRY(bump(1));
    return zeroed(page(index));
  }

  // `pages` zeroed contiguous pages (per-frame metadata); never from the free list.
  arch::Result<arch::Hpa> allocate_contiguous(uint64_t pages) {
    if (pages == 0)
      return arch::Error::kInvalidArgument;
    const arch::Hpa first = page(TRY(bump(pages)));
    for (uint64_t i = 0; i < pages; ++i)
      (void)zeroed(first.offset(i * arch::kPageSize4K));
    return first;
  }

  // Hands back a table that was never published (no entry ever pointed at it, so no CPU can
  // be walking it), e.g. the unpublished half of a split that lost its race.
  void free_unpublished_table(arch::Hpa hpa) {
    HV_ASSERT(contains(hpa));
    const uint64_t index = (hpa.value() - base_) / arch::kPageSize4K;
    lock();
    *translation_(hpa) = free_head_.load(std::memory_order_relaxed);  // link to the old head
    free_head_.store(index, std::memory_order_release);
    ++free_count_;
    unlock();
  }

  bool contains(arch::Hpa hpa) const {
    return hpa.value() >= base_ && (hpa.value() - base_) / arch::kPageSize4K < pages_ &&
           hpa.is_aligned_to(arch::kPageSize4K);
  }
  arch::Hpa base() const { return arch::Hpa(base_); }
  uint64_t capacity() const { return pages_; }
  // Pages ever taken from the region (recycled tables are not counted again).
  uint64_t used() const { return next_.load(std::memory_order_relaxed); }
  uint64_t free_tables() const {
    lock();
    const uint64_t n = free_count_;
    unlock();
    return n;
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  arch::Hpa page(uint64_t index) const { return arch::Hpa(base_ + index * arch::kPageSize4K); }

  arch::Result<uint64_t> bump(uint64_t n) {
    uint64_t used = next_.load(std::memory_order_relaxed);
    do {
      if (n > pages_ - used)
        return arch::Error::kNoMemory;
    } while (!next_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return used;
  }

  // Freed pages are rare, so the free list takes a lock: a lock-free stack would need ABA
  // tags and would read links from pages other CPUs may already be filling.
  uint64_t pop_free() {
    lock();
    const uint64_t index = free_head_.load(std::memory_order_relaxed);
    if (index != kEmpty) {
      free_head_.store(*translation_(page(index)), std::memory_order_relaxed);
      --free_count_;
    }
    unlock();
    return index;
  }

  arch::Hpa zeroed(arch::Hpa hpa) const {
    uint64_t* entries = translation_(hpa);
    for (size_t i = 0; i < kTableEntries; ++i)
      entries[i] = 0;
    return hpa;
  }

  void lock() const {
    while (free_lock_.exchange(true, std::memory_order_acquire)) {
      while (free_lock_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() const { free_lock_.store(false, std::memory_order_release); }

  uint64_t base_ = 0;
  uint64_t pages_ = 0;
  Translation translation_{};
  std::atomic<uint64_t> next_{0};            // pages handed out by bump()
  std::atomic<uint64_t> free_head_{kEmpty};  // index of the first free table; link in word 0
  uint64_t free_count_ = 0;                  // guarded by free_lock_
  mutable std::atomic<bool> free_lock_{false};
};

static_assert(TableMemory<PagePool<IdentityTranslation>>);
static_assert(TableMemory<PagePool<OffsetTranslation>>);

}  // namespace mm
