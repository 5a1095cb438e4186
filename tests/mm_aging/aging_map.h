// A small identity map for the aging tests: 4 MiB of RAM that the map covers with two 2 MiB
// leaves, then 256 KiB of RAM in 4 KiB leaves, built by mm::build_identity_map over host
// memory with write-back MTRRs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "arch/ept_capabilities.h"
#include "fakes/host_table_memory.h"
#include "mm/identity_map.h"
#include "mm/memory_range.h"
#include "mm/mtrr.h"
#include "mm_tables/mtrr_layout.h"

namespace mm::test {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kRamStart = 2 * kMiB;
inline constexpr uint64_t kRamLargeEnd = 6 * kMiB;  // [2, 6) MiB: two 2 MiB leaves
inline constexpr uint64_t kRamEnd = 6 * kMiB + 256 * 1024;
inline constexpr uint64_t kRamFrames = (kRamEnd - kRamStart) / arch::kPageSize4K;

struct AgingMap {
  mm_test::HostTableMemory memory{512};
  mm::MtrrState mtrrs;
  mm::IdentityMap map;
  arch::EptCapabilities caps;
};

inline mm::MtrrState write_back_mtrrs(uint8_t max_phys_addr) {
  mm_test::MtrrLayout l(max_phys_addr);
  l.cap(8).def(arch::MemoryType::kWriteBack, true, false);
  return mm::MtrrState::from_msrs(l.msrs()).value();
}

inline std::unique_ptr<AgingMap> build_aging_map(const arch::EptCapabilities& caps,
                                                 mm::RamInitialState state) {
  static constexpr std::array<mm::MemoryRange, 3> kRanges = {{
      {arch::Gpa(0), kRamStart / arch::kPageSize4K, mm::MemoryKind::kReserved},
      {arch::Gpa(kRamStart), kRamFrames, mm::MemoryKind::kRam},
      {arch::Gpa(kRamEnd), (8 * kMiB - kRamEnd) / arch::kPageSize4K, mm::MemoryKind::kMmio},
  }};
  auto m = std::make_unique<AgingMap>();
  m->caps = caps;
  m->mtrrs = write_back_mtrrs(caps.max_phys_addr);
  mm::IdentityMapSpec spec{kRanges.data(), kRanges.size(), &m->mtrrs, caps};
  spec.ram_state = state;
  spec.max_ram_page = arch::kPageSize2M;
  m->map = mm::build_identity_map(m->memory, spec).value();
  return m;
}

}  // namespace mm::test
