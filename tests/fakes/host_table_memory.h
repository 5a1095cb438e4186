// HostTableMemory: mm::TableMemory over host memory, for tests. Tables get fake host-physical
// addresses (kBase + index * 4 KiB) so a test can never mistake a pointer for an address,
// and allocation can be made to fail at any chosen point.
//
// Capacity is fixed at construction: table() may then run on any thread while another
// allocates, without the container moving under it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "arch/address.h"
#include "arch/assert.h"
#include "arch/result.h"
#include "mm/table_memory.h"

namespace mm_test {

class HostTableMemory {
 public:
  static constexpr uint64_t kBase = 0x1'0000'0000;  // first fake host-physical address
  static constexpr uint64_t kNoLimit = ~uint64_t{0};

  explicit HostTableMemory(size_t capacity = 4096) : tables_(capacity) {}

  uint64_t* table(arch::Hpa hpa) {
    HV_ASSERT(contains(hpa));
    return tables_[index_of(hpa)]->data();
  }

  arch::Result<arch::Hpa> allocate_table() {
    std::lock_guard lock(mutex_);
    const uint64_t attempt = ++attempts_;
    if (attempt == fail_at_ || attempt > fail_after_ || allocated_ == tables_.size())
      return arch::Error::kNoMemory;
    tables_[allocated_] = std::make_unique<Table>();  // value-initialised: all zero
    return arch::Hpa(kBase + arch::kPageSize4K * allocated_++);
  }

  // Accepts a table that was never published. It is only counted, not reused, so a test
  // can see that a lost race handed its table back.
  void free_unpublished_table(arch::Hpa hpa) {
    HV_ASSERT(contains(hpa));
    std::lock_guard lock(mutex_);
    ++freed_;
  }
  uint64_t freed() const {
    std::lock_guard lock(mutex_);
    return freed_;
  }

  // The n-th allocate_table() call from now (1-based, counting failed calls too) fails.
  void fail_allocation(uint64_t n) {
    std::lock_guard lock(mutex_);
    fail_at_ = attempts_ + n;
  }
  // Every allocate_table() call after the next n fails.
  void fail_after(uint64_t n) {
    std::lock_guard lock(mutex_);
    fail_after_ = attempts_ + n;
  }
  void clear_failures() {
    std::lock_guard lock(mutex_);
    fail_at_ = 0;
    fail_after_ = kNoLimit;
  }

  // Calls to allocate_table(), successful or not.
  uint64_t attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  // Tables handed out.
  uint64_t allocated() const {
    std::lock_guard lock(mutex_);
    return allocated_;
  }
  bool contains(arch::Hpa hpa) const {
    return hpa.value() >= kBase && hpa.is_aligned_to(arch::kPageSize4K) &&
           index_of(hpa) < tables_.size() && tables_[index_of(hpa)] != nullptr;
  }

 private:
  struct alignas(4096) Table : std::array<uint64_t, mm::kTableEntries> {};

  static uint64_t index_of(arch::Hpa hpa) { return (hpa.value() - kBase) / arch::kPageSize4K; }

  std::vector<std::unique_ptr<Table>> tables_;
  mutable std::mutex mutex_;
  uint64_t attempts_ = 0;
  uint64_t allocated_ = 0;
  uint64_t freed_ = 0;
  uint64_t fail_at_ = 0;
  uint64_t fail_after_ = kNoLimit;
};

static_assert(mm::TableMemory<HostTableMemory>);

}  // namespace mm_test
