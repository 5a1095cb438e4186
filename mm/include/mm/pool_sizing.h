// How many pool pages the EPT tables and tracking metadata of a machine need: the worst
// case, when every RAM page is mapped by its own 4 KiB leaf (aging tracks at that
// granularity). docs/page-pool.md walks through the arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/bits.h"
#include "arch/result.h"
#include "mm/memory_range.h"

namespace mm {

struct PoolSizingParams {
  // Granularity the RAM leaves are provisioned for: 4 KiB (a page table per 2 MiB of RAM)
  // or 2 MiB (page tables only where a RAM range ends inside a 2 MiB region).
  uint64_t ram_page_size = arch::kPageSize4K;
  // Per-frame tracking metadata for RAM (the plan: one byte of idle age per 4 KiB frame).
  uint64_t metadata_bytes_per_frame = 1;
  // The eager identity map covers [0, max(top of the memory map, floor)); 4 GiB keeps the
  // 32-bit MMIO hole (local APIC, IO-APIC, HPET, flash) mapped even when the map omits it.
  uint64_t eager_floor = uint64_t{4} << 30;
  // Page tables for boundaries the memory map does not show: variable MTRRs (two edges
  // each) and PCI windows that end inside a 2 MiB region.
  uint64_t slack_tables = 64;
  // Upper bound on the pool (0: none). A capped pool still maps everything; it runs out of
  // 4 KiB splits earlier, and the builder then keeps larger leaves.
  uint64_t max_pages = 0;
};

struct PoolSizing {
  uint64_t pml4 = 0;
  uint64_t pdpts = 0;
  uint64_t pds = 0;
  uint64_t pts = 0;
  uint64_t metadata_pages = 0;
  uint64_t needed = 0;  // every table and metadata page
  uint64_t pages = 0;   // min(needed, max_pages): what to reserve
  bool capped = false;

  constexpr uint64_t table_pages() const { return pml4 + pdpts + pds + pts; }
};

namespace pool_sizing_detail {

// Counts distinct region indices over calls whose arguments never decrease.
struct DistinctRegions {
  uint64_t count = 0;
  uint64_t next = 0;  // lowest index not yet counted

  constexpr void add(uint64_t first, uint64_t last) {
    if (last < next)
      return;
    if (first < next)
      first = next;
    count += last - first + 1;
    next = last + 1;
  }
};

}  // namespace pool_sizing_detail

inline constexpr uint64_t kEptAddressLimit = uint64_t{1} << 48;

// `ranges` must be sorted by start, 4 KiB aligned and must not overlap
// (Error::kInvalidArgument otherwise), and end below 2^48 (Error::kOutOfRange).
constexpr arch::Result<PoolSizing> pool_pages_needed(const MemoryRange* ranges, size_t count,
                                                     const PoolSizingParams& params) {
  if (params.ram_page_size != arch::kPageSize4K && params.ram_page_size != arch::kPageSize2M)
    return arch::Error::kInvalidArgument;
  pool_sizing_detail::DistinctRegions page_tables;  // 2 MiB regions that need a PT
  page_tables.add(0, 0);  // [0, 2 MiB): fixed-range MTRRs usually differ below 1 MiB
  uint64_t top = params.eager_floor;
  uint64_t previous_end = 0;
  uint64_t ram_frames = 0;
  for (size_t i = 0; i < count; ++i) {
    const MemoryRange& r = ranges[i];
    if (r.pages == 0)
      continue;
    const uint64_t start = r.start.value();
    if (!arch::is_aligned(start, arch::kPageSize4K) || start < previous_end)
      return arch::Error::kInvalidArgument;
    // A 4-level EPT translates 48-bit guest-physical addresses.
    if (start >= kEptAddressLimit || r.pages > (kEptAddressLimit - start) / arch::kPageSize4K)
      return arch::Error::kOutOfRange;
    const uint64_t end = r.end().value();
    previous_end = end;
    top = end > top ? end : top;
    const uint64_t first = start / arch::kPageSize2M;
    const uint64_t last = (end - 1) / arch::kPageSize2M;
    if (r.kind == MemoryKind::kRam)
      ram_frames += r.pages;
    if (r.kind == MemoryKind::kRam && params.ram_page_size == arch::kPageSize4K) {
      page_tables.add(first, last);
      continue;
    }
    // A range edge inside a 2 MiB region forces 4 KiB leaves in that region.
    if (!arch::is_aligned(start, arch::kPageSize2M))
      page_tables.add(first, first);
    if (!arch::is_aligned(end, arch::kPageSize2M))
      page_tables.add(last, last);
  }
  PoolSizing s;
  // Without 1 GiB pages every GiB below the top needs a page directory, holes included.
  const uint64_t gib = arch::align_up(top, arch::kPageSize1G) / arch::kPageSize1G;
  s.pml4 = 1;
  s.pdpts = (gib + 511) / 512;
  s.pds = gib;
  s.pts = page_tables.count + params.slack_tables;
  const uint64_t metadata_bytes = ram_frames * params.metadata_bytes_per_frame;
  s.metadata_pages = (metadata_bytes + arch::kPageSize4K - 1) / arch::kPageSize4K;
  s.needed = s.table_pages() + s.metadata_pages;
  s.capped = params.max_pages != 0 && s.needed > params.max_pages;
  s.pages = s.capped ? params.max_pages : s.needed;
  return s;
}

}  // namespace mm
