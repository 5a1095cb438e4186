#include "hv/host_page_tables.h"

#include "arch/bits.h"

namespace hv {
namespace {

constexpr uint64_t kPresent = arch::bit(0);
constexpr uint64_t kWritable = arch::bit(1);
constexpr uint64_t kPageSize = arch::bit(7);
constexpr size_t kEntries = 512;

}  // namespace

arch::Result<uint64_t> build_host_identity_map(uint64_t* tables, size_t count, uint64_t tables_phys,
                                               uint64_t cover_bytes, bool pages_1g) {
  const uint64_t gigabytes = (cover_bytes + arch::kPageSize1G - 1) >> 30;
  if (gigabytes == 0 || gigabytes > kEntries)
    return arch::Error::kInvalidArgument;
  if (!arch::is_aligned(tables_phys, arch::kPageSize4K))
    return arch::Error::kInvalidArgument;
  if (count < host_page_table_count(cover_bytes, pages_1g))
    return arch::Error::kNoMemory;

  uint64_t* pml4 = tables;
  uint64_t* pdpt = tables + kEntries;
  pml4[0] = (tables_phys + arch::kPageSize4K) | kPresent | kWritable;
  for (uint64_t g = 0; g < gigabytes; ++g) {
    if (pages_1g) {
      pdpt[g] = (g << 30) | kPresent | kWritable | kPageSize;
      continue;
    }
    const uint64_t pd_index = 2 + g;
    uint64_t* pd = tables + pd_index * kEntries;
    pdpt[g] = (tables_phys + pd_index * arch::kPageSize4K) | kPresent | kWritable;
    for (uint64_t m = 0; m < kEntries; ++m) {
      pd[m] = ((g << 30) + (m << 21)) | kPresent | kWritable | kPageSize;
    }
  }
  return tables_phys;
}

}  // namespace hv
