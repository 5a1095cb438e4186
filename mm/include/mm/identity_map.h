// The identity map: agevisor's EPT, built once at start-up from the memory map and the
// MTRRs. Every guest-physical address below the eager top maps to the same host-physical
// address with the MTRR memory type and ignore-PAT = 0 (the guest's PAT still applies, as
// on bare metal), using the largest page the capabilities allow over which the memory kind
// and the MTRR type are uniform. RAM leaves start present or access-tracked; nothing else
// is ever tracked; the hypervisor's own ranges (pool included) stay unmapped.
// docs/memory-types.md explains the type rules.
//
// Tables are filled before the entry that links them is written, so every table reachable
// from the root is complete. On failure (pool exhausted) the root is cleared: nothing
// half-built is reachable from it. Tables already taken are not returned (TableMemory has
// no free); the caller discards or re-initialises the pool.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "arch/address.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_tracking.h"
#include "mm/ept_sw_bits.h"
#include "mm/ept_walk.h"
#include "mm/memory_range.h"
#include "mm/mtrr.h"
#include "mm/table_memory.h"

namespace mm {

enum class RamInitialState : uint8_t {
  kPresent,  // R/W/X = 111: the first aging pass starts tracking
  kTracked,  // rwx-stash only: tracked from the start (the seed's speculative entries)
};

struct IdentityMapSpec {
  const MemoryRange* ranges = nullptr;  // sorted, non-overlapping, 4 KiB granular
  size_t range_count = 0;
  const MtrrState* mtrrs = nullptr;
  arch::EptCapabilities caps;
  RamInitialState ram_state = RamInitialState::kPresent;
  // Largest leaf for RAM: 4 KiB tracks every page from the start; larger RAM leaves are
  // split later, on demand.
  uint64_t max_ram_page = arch::kPageSize1G;
  // Map eagerly at least up to here (the end of the PCI windows); 4 GiB and the end of the
  // memory map are always covered. Above, mapping is on demand.
  uint64_t eager_top = 0;
};

struct IdentityMap {
  arch::Hpa root;                    // the PML4 table
  uint64_t top = 0;                  // [0, top) is mapped
  std::array<uint64_t, 5> tables{};  // tables built, by EptLevel of their entries
  std::array<uint64_t, 4> leaves{};  // mapped leaves, by EptLevel
  constexpr uint64_t table_count() const { return tables[1] + tables[2] + tables[3] + tables[4]; }
};

namespace identity_map_detail {

enum class Class : uint8_t { kUnmapped, kRam, kOther, kMixed };

constexpr Class class_of(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kRam:
      return Class::kRam;
    case MemoryKind::kHypervisor:
      return Class::kUnmapped;
    case MemoryKind::kMmio:
    case MemoryKind::kReserved:
      return Class::kOther;
  }
  return Class::kUnmapped;
}

// How [start, end) is to be mapped: one class for all of it, or mixed. Gaps in the memory
// map below `top` are mapped like MMIO (kOther); everything from `top` up is unmapped.
constexpr Class classify(const IdentityMapSpec& spec, uint64_t top, uint64_t start, uint64_t end) {
  Class result = Class::kMixed;
  bool first = true;
  auto add = [&](Class c) {
    if (!first && c != result)
      result = Class::kMixed;
    else
      result = c;
    first = false;
  };
  if (end > top)
    add(Class::kUnmapped);
  const uint64_t limit = end < top ? end : top;
  // First range ending after `start` (ends never decrease in a sorted, disjoint map).
  size_t lo = 0, hi = spec.range_count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (spec.ranges[mid].end().value() <= start)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t cursor = start;
  for (size_t i = lo; i < spec.range_count && cursor < limit; ++i) {
    const MemoryRange& r = spec.ranges[i];
    if (r.pages == 0)
      continue;
    if (r.start.value() >= limit)
      break;
    if (r.start.value() > cursor)
      add(Class::kOther);
    add(class_of(r.kind));
    cursor = r.end().value();
    if (result == Class::kMixed)
      return result;
  }
  if (cursor < limit)
    add(Class::kOther);
  return result;
}

constexpr bool leaf_allowed(arch::EptLevel level, const arch::EptCapabilities& caps) {
  return level == arch::EptLevel::kPte || (level == arch::EptLevel::kPde && caps.pages_2m) ||
         (level == arch::EptLevel::kPdpte && caps.pages_1g);
}

}  // namespace identity_map_detail

template <TableMemory Memory>
class IdentityMapBuilder {
 public:
  IdentityMapBuilder(Memory& memory, const IdentityMapSpec& spec) : memory_(memory), spec_(spec) {}

  arch::Result<IdentityMap> build() {
    TRY(validate());
    map_.root = TRY(allocate(arch::EptLevel::kPml4e));
    arch::Result<void> filled = fill(map_.root, arch::EptLevel::kPml4e, 0, Known{});
    if (!filled.ok()) {
      uint64_t* root = memory_.table(map_.root);
      for (size_t i = 0; i < kTableEntries; ++i)
        root[i] = 0;  // never published: plain stores are fine
      return filled.error();
    }
    return map_;
  }

 private:
  using Class = identity_map_detail::Class;

  arch::Result<void> validate() {
    const uint64_t space = uint64_t{1} << spec_.caps.max_phys_addr;
    uint64_t top = uint64_t{4} << 30;
    top = spec_.eager_top > top ? spec_.eager_top : top;
    uint64_t previous_end = 0;
    for (size_t i = 0; i < spec_.range_count; ++i) {
      const MemoryRange& r = spec_.ranges[i];
      if (!r.start.is_aligned_to(arch::kPageSize4K) || r.start.value() < previous_end)
        return arch::Error::kInvalidArgument;
      if (r.start.value() >= space || r.pages > (space - r.start.value()) / arch::kPageSize4K)
        return arch::Error::kOutOfRange;
      previous_end = r.end().value();
      top = previous_end > top ? previous_end : top;
    }
    if (spec_.mtrrs == nullptr ||
        (spec_.max_ram_page != arch::kPageSize4K && spec_.max_ram_page != arch::kPageSize2M &&
         spec_.max_ram_page != arch::kPageSize1G))
      return arch::Error::kInvalidArgument;
    if (spec_.ram_state == RamInitialState::kTracked && spec_.caps.ad_enabled)
      return arch::Error::kInvalidArgument;  // accessed-bit mode has no tracked entries
    map_.top = arch::align_up(top, arch::kPageSize4K);
    if (map_.top > space || map_.top > kEptGpaLimit)
      return arch::Error::kOutOfRange;
    return {};
  }

  arch::Result<arch::Hpa> allocate(arch::EptLevel level) {
    const arch::Hpa table = TRY(memory_.allocate_table());
    ++map_.tables[static_cast<unsigned>(level)];
    return table;
  }

  // What is known of a block before looking: a block whose class and MTRR type are uniform
  // has uniform children, which then need no range search or MTRR query of their own.
  struct Known {
    bool uniform = false;
    Class c = Class::kMixed;
    MemoryType type = MemoryType::kUncacheable;
  };

  arch::Result<void> fill(arch::Hpa table, arch::EptLevel level, uint64_t base, Known known) {
    const uint64_t span = arch::ept_level_span(level);
    for (size_t i = 0; i < kTableEntries; ++i) {
      const uint64_t a = base + i * span;
      if (a >= map_.top)
        break;
      const arch::EptEntry e = TRY(entry_for(level, a, known));
      memory_.table(table)[i] = e.raw();  // the table is not linked yet
    }
    return {};
  }

  arch::Result<arch::EptEntry> entry_for(arch::EptLevel level, uint64_t a, Known known) {
    const uint64_t span = arch::ept_level_span(level);
    if (!known.uniform) {
      known.c = identity_map_detail::classify(spec_, map_.top, a, a + span);
      if (known.c == Class::kUnmapped)
        return arch::EptEntry();
      if (known.c != Class::kMixed) {
        const RangeType type = spec_.mtrrs->type_of(arch::Gpa(a), span);
        known.uniform = type.uniform;
        known.type = type.type;
      }
    }
    if (known.uniform && identity_map_detail::leaf_allowed(level, spec_.caps) &&
        (known.c != Class::kRam || span <= spec_.max_ram_page))
      return leaf(level, a, known.c, known.type);
    // A 4 KiB block is always one class (the map is 4 KiB granular) and one MTRR type.
    HV_ASSERT(level != arch::EptLevel::kPte);
    const auto child_level = static_cast<arch::EptLevel>(static_cast<unsigned>(level) - 1);
    const arch::Hpa child = TRY(allocate(child_level));
    TRY(fill(child, child_level, a, known));
    arch::EptEntry e;
    e.set_rwx(0b111).set_address(child);
    e.set_user_execute(spec_.caps.mode_based_execute_enabled);
    return e;
  }

  arch::EptEntry leaf(arch::EptLevel level, uint64_t a, Class c, MemoryType type) {
    arch::EptEntry e;
    e.set_rwx(0b111).set_memory_type(type).set_ignore_pat(false).set_address(arch::Hpa(a));
    e.set_large_page(level != arch::EptLevel::kPte);
    e.set_user_execute(spec_.caps.mode_based_execute_enabled);
    e = arch::EptEntry(e.raw() | EptSwBits::kPolicyWritable);
    ++map_.leaves[static_cast<unsigned>(level)];
    if (c == Class::kRam && spec_.ram_state == RamInitialState::kTracked)
      return mark_tracked(e);
    return e;
  }

  Memory& memory_;
  const IdentityMapSpec& spec_;
  IdentityMap map_;
};

// Builds the identity map into tables from `memory`. Errors: kInvalidArgument (unsorted or
// unaligned map, no MTRRs, tracked start in accessed-bit mode), kOutOfRange (the map
// reaches beyond MAXPHYADDR or 2^48), kNoMemory (the root is then left empty).
template <TableMemory Memory>
arch::Result<IdentityMap> build_identity_map(Memory& memory, const IdentityMapSpec& spec) {
  return IdentityMapBuilder<Memory>(memory, spec).build();
}

}  // namespace mm
