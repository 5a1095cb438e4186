// The host's own page tables: an identity map of physical memory for VMX root operation.
// UEFI's page tables live in boot-services memory that the OS reclaims after
// ExitBootServices, so the host cannot keep using the firmware's CR3.
//
// Every mapping is writable, supervisor-only, and uses PAT entry 0 (PWT = PCD = 0), so the
// memory type comes from the MTRRs exactly as under the firmware's own identity map.
// [SDM 3A "4-Level Paging and 5-Level Paging", "Methods of Caching Available"]
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/result.h"

namespace hv {

// Tables needed to identity-map [0, cover_bytes) (rounded up to 1 GiB) with 1 GiB pages
// (when the CPU supports them, CPUID.80000001H:EDX[26]) or 2 MiB pages. At most 512 GiB.
constexpr size_t host_page_table_count(uint64_t cover_bytes, bool pages_1g) {
  const uint64_t gigabytes = (cover_bytes + (uint64_t{1} << 30) - 1) >> 30;
  return 2 + (pages_1g ? 0 : static_cast<size_t>(gigabytes));  // PML4 + PDPT (+ one PD/GiB)
}

// Builds the map in `count` zeroed, contiguous 4 KiB tables whose physical (= virtual,
// identity-mapped) address is `tables_phys`. Returns the CR3 value.
arch::Result<uint64_t> build_host_identity_map(uint64_t* tables, size_t count, uint64_t tables_phys,
                                               uint64_t cover_bytes, bool pages_1g);

}  // namespace hv
