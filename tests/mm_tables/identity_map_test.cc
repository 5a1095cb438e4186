#include "mm/identity_map.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <vector>

#include "fakes/host_table_memory.h"
#include "mm/entry_check.h"
#include "mm/ept_walk.h"
#include "mm/page_pool.h"
#include "mm/pool_sizing.h"
#include "mtrr_layout.h"

namespace {

using arch::EptLevel;
using arch::Error;
using arch::Gpa;
using arch::Hpa;
using arch::MemoryType;
using mm::kEptGpaLimit;
using mm::MemoryKind;
using mm::MemoryRange;
using mm_test::HostTableMemory;
using mm_test::MtrrLayout;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

MemoryRange range(uint64_t start, uint64_t end, MemoryKind kind) {
  return MemoryRange{Gpa(start), (end - start) / kPage, kind};
}

// An OVMF-like machine with 2 GiB below the PCI hole and 1.25 GiB above 4 GiB; agevisor's
// image (12 KiB, unaligned) and its pool (4 MiB, 2 MiB aligned) are carved out of RAM.
const std::vector<MemoryRange> kMachine = {
    range(0, 0xA0000, MemoryKind::kRam),
    range(0xA0000, 0x100000, MemoryKind::kReserved),
    range(0x100000, 0x7F00'0000, MemoryKind::kRam),
    range(0x7F00'0000, 0x7F00'3000, MemoryKind::kHypervisor),
    range(0x7F00'3000, 0x7F80'0000, MemoryKind::kRam),
    range(0x7F80'0000, 0x7FC0'0000, MemoryKind::kHypervisor),
    range(0x7FC0'0000, 0x8000'0000, MemoryKind::kReserved),
    range(0xFEC0'0000, 0xFEC0'1000, MemoryKind::kMmio),
    range(0xFEE0'0000, 0xFEE0'1000, MemoryKind::kMmio),
    range(0xFFE0'0000, 0x1'0000'0000, MemoryKind::kMmio),
    range(0x1'0000'0000, 0x1'4000'0000, MemoryKind::kRam),
    range(0x1'4000'0000, 0x1'5000'0000, MemoryKind::kRam),
};

mm::MtrrState machine_mtrrs() {
  MtrrLayout l(39);
  l.cap(8).def(MemoryType::kWriteBack).fixed(0, 0xA0000, MemoryType::kWriteBack);
  l.fixed(0xA0000, 0xC0000, MemoryType::kUncacheable);
  l.fixed(0xC0000, 0x100000, MemoryType::kWriteProtected);
  l.range(0, 0xC000'0000, 1 * kGiB, MemoryType::kUncacheable);
  l.range(1, 0x1'4000'0000, 2 * kMiB, MemoryType::kWriteThrough);  // odd, but legal
  // A UC window inside RAM: the MTRRs, not the memory map, split that gigabyte and 2 MiB.
  l.range(2, 0x1'3000'0000, 64 * 1024, MemoryType::kUncacheable);
  return mm::MtrrState::from_msrs(l.msrs()).value();
}

arch::EptCapabilities ivy() {
  return arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 39);
}
arch::EptCapabilities haswell() {
  auto c = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 39);
  c.ad_enabled = true;
  return c;
}

// The oracle: per-page classes, and for each page the first later page of another class,
// so "one class over a block" is O(1) without reusing the builder's range search.
enum class Cls : uint8_t { kUnmapped, kRam, kOther };

struct Oracle {
  std::vector<Cls> cls;
  std::vector<uint64_t> next_change;
  uint64_t top;

  Oracle(const std::vector<MemoryRange>& map, uint64_t top_bytes) : top(top_bytes) {
    const uint64_t pages = top / kPage;
    cls.assign(pages, Cls::kOther);  // gaps below the top are mapped like MMIO
    for (const MemoryRange& r : map) {
      const Cls c = r.kind == MemoryKind::kRam          ? Cls::kRam
                    : r.kind == MemoryKind::kHypervisor ? Cls::kUnmapped
                                                        : Cls::kOther;
      for (uint64_t p = r.start.value() / kPage; p < r.end().value() / kPage; ++p)
        cls[p] = c;
    }
    next_change.assign(pages, pages);
    for (uint64_t p = pages - 1; p-- > 0;)
      next_change[p] = cls[p + 1] != cls[p] ? p + 1 : next_change[p + 1];
  }
  Cls at(uint64_t gpa) const { return gpa < top ? cls[gpa / kPage] : Cls::kUnmapped; }
  bool uniform(uint64_t start, uint64_t size) const {
    if (start + size > top)
      return start >= top;
    return next_change[start / kPage] >= (start + size) / kPage;
  }
};

struct Built {
  HostTableMemory memory{1 << 16};
  mm::IdentityMap map;
};

void for_each_entry(HostTableMemory& memory, Hpa table, EptLevel level,
                    const std::function<void(arch::EptEntry, EptLevel)>& f) {
  for (size_t i = 0; i < mm::kTableEntries; ++i) {
    const arch::EptEntry e(memory.table(table)[i]);
    f(e, level);
    if (!e.is_leaf(level) && mm::is_hw_present(e))
      for_each_entry(memory, e.address(), static_cast<EptLevel>(static_cast<unsigned>(level) - 1),
                     f);
  }
}

class IdentityMap : public ::testing::TestWithParam<int> {
 protected:
  // 0: Ivy Bridge (2 MiB pages, rwx-stash, tracked start); 1: Haswell (1 GiB, A/D);
  // 2: Ivy Bridge with every RAM page at 4 KiB.
  void SetUp() override {
    mtrrs_ = machine_mtrrs();
    spec_.ranges = kMachine.data();
    spec_.range_count = kMachine.size();
    spec_.mtrrs = &mtrrs_;
    spec_.caps = GetParam() == 1 ? haswell() : ivy();
    spec_.ram_state =
        GetParam() == 1 ? mm::RamInitialState::kPresent : mm::RamInitialState::kTracked;
    spec_.max_ram_page = GetParam() == 2 ? kPage : kGiB;
    spec_.eager_top = 0;
  }

  uint64_t expected_page(const Oracle& o, uint64_t gpa) const {
    const std::pair<uint64_t, bool> sizes[] = {{kGiB, spec_.caps.pages_1g},
                                               {2 * kMiB, spec_.caps.pages_2m}};
    for (auto [size, allowed] : sizes) {
      const uint64_t base = gpa & ~(size - 1);
      if (!allowed || !o.uniform(base, size))
        continue;
      if (o.at(gpa) == Cls::kRam && size > spec_.max_ram_page)
        continue;
      if (mtrrs_.type_of(Gpa(base), size).uniform)
        return size;
    }
    return kPage;
  }

  // Tables the oracle says a minimal tree needs: one per block that is neither unmapped nor
  // a single leaf.
  uint64_t expected_tables(const Oracle& o, uint64_t base, EptLevel level) const {
    uint64_t n = 1;
    const uint64_t span = arch::ept_level_span(level);
    for (uint64_t i = 0; i < 512 && base + i * span < o.top; ++i) {
      const uint64_t a = base + i * span;
      if (level == EptLevel::kPte || (o.uniform(a, span) && o.at(a) == Cls::kUnmapped))
        continue;
      if (level != EptLevel::kPml4e && expected_page(o, a) == span)
        continue;
      n += expected_tables(o, a, static_cast<EptLevel>(static_cast<unsigned>(level) - 1));
    }
    return n;
  }

  mm::MtrrState mtrrs_;
  mm::IdentityMapSpec spec_;
};

TEST_P(IdentityMap, EveryAddressMapsToItselfWithTheLargestLegalPage) {
  Built b;
  auto map = mm::build_identity_map(b.memory, spec_);
  ASSERT_TRUE(map.ok()) << arch::error_name(map.error());
  EXPECT_EQ(map.value().top, 0x1'5000'0000u);
  const Oracle o(kMachine, map.value().top);
  std::vector<uint64_t> probes;
  for (uint64_t a = 0; a < 4 * kMiB; a += kPage)
    probes.push_back(a);
  for (const MemoryRange& r : kMachine) {
    for (uint64_t edge : {r.start.value(), r.end().value()})
      for (uint64_t probe : {edge - 2 * kPage, edge - kPage, edge, edge + kPage})
        if (probe < kEptGpaLimit)  // no wrap-around below zero
          probes.push_back(probe);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4000; ++i)
    probes.push_back(rng() % (map.value().top + kGiB));
  for (uint64_t gpa : probes) {
    auto w = mm::walk(b.memory, map.value().root, Gpa(gpa));
    ASSERT_TRUE(w.ok());
    const Cls c = o.at(gpa);
    ASSERT_EQ(w.value().mapped(), c != Cls::kUnmapped) << std::hex << gpa;
    if (c == Cls::kUnmapped)
      continue;
    const arch::EptEntry e = w.value().entry;
    const uint64_t span = arch::ept_level_span(w.value().level);
    EXPECT_EQ(e.address().value() + gpa % span, gpa) << std::hex << gpa;
    EXPECT_EQ(span, expected_page(o, gpa)) << std::hex << gpa;
    EXPECT_EQ(e.memory_type(), static_cast<uint64_t>(mtrrs_.type_at(Gpa(gpa)))) << std::hex << gpa;
    EXPECT_FALSE(e.ignore_pat());
    EXPECT_TRUE(mm::is_policy_writable(e));
    const bool tracked = c == Cls::kRam && spec_.ram_state == mm::RamInitialState::kTracked;
    EXPECT_EQ(mm::is_tracked(e), tracked) << std::hex << gpa;
    EXPECT_EQ(tracked ? mm::saved_rwx(e) : e.rwx(), tracked ? 0b101u : 0b111u) << std::hex << gpa;
  }
}

TEST_P(IdentityMap, HypervisorRangesAndThePoolAreUnmapped) {
  Built b;
  auto map = mm::build_identity_map(b.memory, spec_);
  ASSERT_TRUE(map.ok());
  for (uint64_t gpa = 0x7F00'0000; gpa < 0x7F00'3000; gpa += kPage) {
    auto w = mm::walk(b.memory, map.value().root, Gpa(gpa));
    EXPECT_FALSE(w.value().mapped()) << std::hex << gpa;
    EXPECT_EQ(w.value().entry.raw(), 0u) << "not tracked, not anything";
  }
  for (uint64_t gpa = 0x7F80'0000; gpa < 0x7FC0'0000; gpa += 64 * 1024)
    EXPECT_FALSE(mm::walk(b.memory, map.value().root, Gpa(gpa)).value().mapped())
        << std::hex << gpa;
  EXPECT_TRUE(mm::walk(b.memory, map.value().root, Gpa(0x7F00'3000)).value().mapped());
  EXPECT_FALSE(mm::walk(b.memory, map.value().root, Gpa(0x1'5000'0000)).value().mapped())
      << "above the eager top mapping is on demand";
}

TEST_P(IdentityMap, EveryEntryPassesTheCheckerAndTableCountIsMinimal) {
  Built b;
  auto map = mm::build_identity_map(b.memory, spec_);
  ASSERT_TRUE(map.ok());
  const Oracle o(kMachine, map.value().top);
  uint64_t tables = 1, non_ram_tracked = 0;
  for_each_entry(b.memory, map.value().root, EptLevel::kPml4e, [&](arch::EptEntry e, EptLevel l) {
    const auto r = mm::check_entry(e, l, spec_.caps);
    EXPECT_TRUE(r.ok()) << r.name() << " " << std::hex << e.raw();
    if (!e.is_leaf(l) && mm::is_hw_present(e))
      ++tables;
    if (mm::is_tracked(e) && o.at(e.address().value()) != Cls::kRam)
      ++non_ram_tracked;  // leaves are identity mapped: the address is the GPA
  });
  EXPECT_EQ(tables, map.value().table_count());
  EXPECT_EQ(tables, expected_tables(o, 0, EptLevel::kPml4e));
  EXPECT_EQ(non_ram_tracked, 0u);
  EXPECT_EQ(b.memory.allocated(), tables) << "no table allocated and left unused";
}

INSTANTIATE_TEST_SUITE_P(Capabilities, IdentityMap, ::testing::Values(0, 1, 2));

TEST(IdentityMapBuild, UsesGigabytePagesWhereUniform) {
  auto mtrrs = machine_mtrrs();
  mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &mtrrs, haswell()};
  HostTableMemory memory(1 << 12);
  auto map = mm::build_identity_map(memory, spec);
  ASSERT_TRUE(map.ok());
  auto gap = mm::walk(memory, map.value().root, Gpa(0x8765'4321));
  EXPECT_EQ(gap.value().level, EptLevel::kPdpte) << "2-3 GiB: not in the map, mapped like MMIO";
  EXPECT_EQ(gap.value().entry.memory_type(), 6u);
  EXPECT_FALSE(mm::is_tracked(gap.value().entry));
  auto split = mm::walk(memory, map.value().root, Gpa(0x1'0000'1234));
  EXPECT_EQ(split.value().level, EptLevel::kPde) << "the UC window's MTRR splits 4-5 GiB";
  auto window = mm::walk(memory, map.value().root, Gpa(0x1'3000'F000));
  EXPECT_EQ(window.value().level, EptLevel::kPte);
  EXPECT_EQ(window.value().entry.memory_type(), 0u);
  auto hole = mm::walk(memory, map.value().root, Gpa(0xC000'0000));
  EXPECT_EQ(hole.value().level, EptLevel::kPdpte) << "the PCI hole is one UC gigabyte";
  EXPECT_EQ(hole.value().entry.memory_type(), 0u);
  EXPECT_EQ(map.value().leaves[3], 2u) << "2-3 GiB and 3-4 GiB";
}

TEST(IdentityMapBuild, EagerTopCoversPciWindowsAboveTheMap) {
  auto mtrrs = machine_mtrrs();
  mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &mtrrs, ivy()};
  spec.eager_top = 0x8'0000'0000;  // a 64-bit PCI window ending at 32 GiB
  HostTableMemory memory(1 << 12);
  auto map = mm::build_identity_map(memory, spec);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map.value().top, 0x8'0000'0000u);
  auto w = mm::walk(memory, map.value().root, Gpa(0x7'FFFF'F000));
  EXPECT_TRUE(w.value().mapped());
  EXPECT_FALSE(mm::is_tracked(w.value().entry));
  EXPECT_FALSE(mm::walk(memory, map.value().root, Gpa(0x8'0000'0000)).value().mapped());
}

TEST(IdentityMapBuild, RejectsBadSpecs) {
  auto mtrrs = machine_mtrrs();
  HostTableMemory memory;
  mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &mtrrs, haswell()};
  spec.ram_state = mm::RamInitialState::kTracked;
  EXPECT_EQ(mm::build_identity_map(memory, spec).error(), Error::kInvalidArgument)
      << "accessed-bit mode has no tracked entries";
  spec.ram_state = mm::RamInitialState::kPresent;
  spec.mtrrs = nullptr;
  EXPECT_EQ(mm::build_identity_map(memory, spec).error(), Error::kInvalidArgument);
  spec.mtrrs = &mtrrs;
  spec.max_ram_page = 8192;
  EXPECT_EQ(mm::build_identity_map(memory, spec).error(), Error::kInvalidArgument);
  spec.max_ram_page = kGiB;
  const std::vector<MemoryRange> unsorted = {range(kGiB, 2 * kGiB, MemoryKind::kRam),
                                             range(0, kMiB, MemoryKind::kRam)};
  spec.ranges = unsorted.data();
  spec.range_count = unsorted.size();
  EXPECT_EQ(mm::build_identity_map(memory, spec).error(), Error::kInvalidArgument);
  const std::vector<MemoryRange> huge = {range(0, uint64_t{1} << 40, MemoryKind::kRam)};
  spec.ranges = huge.data();
  spec.range_count = huge.size();
  EXPECT_EQ(mm::build_identity_map(memory, spec).error(), Error::kOutOfRange) << "MAXPHYADDR 39";
  EXPECT_EQ(memory.attempts(), 0u) << "nothing allocated for a rejected spec";
}

// Pool exhaustion at every allocation: a clean error, and the root left empty so nothing
// half-built is reachable.
TEST(IdentityMapBuild, AllocationFailureAtEveryAllocationLeavesNothingReachable) {
  const std::vector<MemoryRange> small = {
      range(0, 0xA0000, MemoryKind::kRam), range(0x100000, 64 * kMiB, MemoryKind::kRam),
      range(64 * kMiB, 64 * kMiB + kPage, MemoryKind::kHypervisor),
      range(0x1'0000'0000, 0x1'0040'0000, MemoryKind::kRam)};
  auto mtrrs = machine_mtrrs();
  mm::IdentityMapSpec spec{small.data(), small.size(), &mtrrs, ivy()};
  spec.max_ram_page = kPage;
  uint64_t needed = 0;
  {
    HostTableMemory memory;
    auto map = mm::build_identity_map(memory, spec);
    ASSERT_TRUE(map.ok());
    needed = map.value().table_count();
  }
  ASSERT_GT(needed, 30u);
  for (uint64_t n = 1; n <= needed; ++n) {
    HostTableMemory memory;
    memory.fail_allocation(n);
    auto map = mm::build_identity_map(memory, spec);
    ASSERT_EQ(map.error(), Error::kNoMemory) << n;
    if (n > 1) {
      const uint64_t* root = memory.table(Hpa(HostTableMemory::kBase));
      for (size_t i = 0; i < mm::kTableEntries; ++i)
        ASSERT_EQ(root[i], 0u) << "allocation " << n << " left root entry " << i;
    }
  }
  HostTableMemory memory;
  memory.fail_allocation(needed + 1);
  EXPECT_TRUE(mm::build_identity_map(memory, spec).ok());
}

// The pool sized by pool_pages_needed holds the identity map even at 4 KiB RAM granularity.
TEST(IdentityMapBuild, FitsInThePoolSizedForTheMap) {
  auto sizing = mm::pool_pages_needed(kMachine.data(), kMachine.size(), mm::PoolSizingParams{});
  ASSERT_TRUE(sizing.ok());
  const uint64_t pages = sizing.value().table_pages();
  std::vector<uint64_t> backing((pages + 1) * mm::kTableEntries);
  const uint64_t aligned = arch::align_up(reinterpret_cast<uint64_t>(backing.data()), kPage);
  mm::PagePool<> pool;
  ASSERT_TRUE(pool.init(Hpa(aligned), pages).ok());
  auto mtrrs = machine_mtrrs();
  mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &mtrrs, ivy()};
  spec.max_ram_page = kPage;
  spec.ram_state = mm::RamInitialState::kTracked;
  auto map = mm::build_identity_map(pool, spec);
  ASSERT_TRUE(map.ok()) << arch::error_name(map.error());
  EXPECT_LE(map.value().table_count(), pages);
  EXPECT_EQ(pool.used(), map.value().table_count());
  auto w = mm::walk(pool, map.value().root, Gpa(0x1'4000'5000));
  EXPECT_EQ(w.value().level, EptLevel::kPte);
  EXPECT_TRUE(mm::is_tracked(w.value().entry));
}

}  // namespace
