// The seam between the paging algorithms and the memory their tables live in. mm/ code is
// templated over TableMemory (no virtual calls in hot walks), so the same walks run over
// host memory in tests (tests/fakes/host_table_memory.h) and over the page pool on target
// (mm/page_pool.h).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/result.h"

namespace mm {

// Every EPT paging structure is one 4 KiB page of 512 eight-byte entries.
// [SDM 3C "EPT Translation Mechanism"]
inline constexpr size_t kTableEntries = 512;
inline constexpr uint64_t kTableBytes = arch::kPageSize4K;
static_assert(kTableEntries * sizeof(uint64_t) == kTableBytes);

template <typename T>
concept TableMemory = requires(T& memory, arch::Hpa hpa) {
  // The table at a host-physical address (4 KiB aligned) as kTableEntries entries. Valid for
  // every address allocate_table() returned and has not been freed.
  { memory.table(hpa) } -> std::same_as<uint64_t*>;
  // A new table, every entry zero (not present); Error::kNoMemory when exhausted.
  { memory.allocate_table() } -> std::same_as<arch::Result<arch::Hpa>>;
};

}  // namespace mm
