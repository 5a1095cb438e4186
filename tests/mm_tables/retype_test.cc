#include "mm/retype.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fakes/host_table_memory.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/identity_map.h"
#include "mm/test_caps.h"  // tests/mm: the Bochs capability sets
#include "mtrr_layout.h"

namespace {

using arch::EptEntry;
using arch::EptLevel;
using arch::Error;
using arch::Gpa;
using arch::Hpa;
using arch::MemoryType;
using mm_test::HostTableMemory;
using mm_test::MtrrLayout;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTypeBits = arch::bit_range(5, 3);

mm::MtrrState decode(const MtrrLayout& l) { return mm::MtrrState::from_msrs(l.msrs()).value(); }

MtrrLayout all_write_back() {
  MtrrLayout l(39);
  l.cap(8).def(MemoryType::kWriteBack, true, false);
  return l;
}

struct Machine {
  HostTableMemory memory;
  mm::MtrrState mtrrs = decode(all_write_back());
  std::vector<mm::MemoryRange> map = {
      {Gpa(0), (1 * kGiB - 4 * kMiB) / 4096, mm::MemoryKind::kRam},
      {Gpa(1 * kGiB - 4 * kMiB), 4 * kMiB / 4096, mm::MemoryKind::kHypervisor}};
  mm::IdentityMap ept;
  arch::EptCapabilities caps = mm::test::ivy_bridge();

  explicit Machine(mm::RamInitialState state) {
    mm::IdentityMapSpec spec{map.data(), map.size(), &mtrrs, caps};
    spec.ram_state = state;
    ept = mm::build_identity_map(memory, spec).value();
  }
  mm::EptWalk at(uint64_t gpa) { return mm::walk(memory, ept.root, Gpa(gpa)).value(); }
};

TEST(Retype, GuestMtrrWriteRetypesAndSplitsOnlyWhereNeeded) {
  for (auto state : {mm::RamInitialState::kPresent, mm::RamInitialState::kTracked}) {
    Machine m(state);
    const EptEntry before_small = m.at(0x1000'0000).entry;
    MtrrLayout l = all_write_back();
    l.range(0, 0x1000'0000, 64 * 1024, MemoryType::kUncacheable);  // inside one 2 MiB leaf
    l.range(1, 0x2000'0000, 4 * kMiB, MemoryType::kWriteThrough);  // two whole 2 MiB leaves
    const mm::MtrrState guest = decode(l);
    auto r1 = mm::retype_range(m.memory, m.ept.root, Gpa(0x1000'0000), 64 * 1024, guest, m.caps);
    auto r2 = mm::retype_range(m.memory, m.ept.root, Gpa(0x2000'0000), 4 * kMiB, guest, m.caps);
    ASSERT_TRUE(r1.ok() && r2.ok());
    EXPECT_EQ(r1.value().splits, 1u);
    EXPECT_EQ(r1.value().leaves_changed, 16u);
    EXPECT_EQ(r2.value().splits, 0u);
    EXPECT_EQ(r2.value().leaves_changed, 2u);
    const bool present = state == mm::RamInitialState::kPresent;
    EXPECT_EQ(r1.value().flush.needed(), present) << "a tracked leaf cannot be cached";
    EXPECT_EQ(r2.value().flush.needed(), present);
    EXPECT_EQ(m.at(0x1000'F000).level, EptLevel::kPte);
    EXPECT_EQ(m.at(0x1000'F000).entry.memory_type(), 0u);
    EXPECT_EQ(m.at(0x1001'0000).entry.memory_type(), 6u) << "the rest of the split 2 MiB";
    EXPECT_EQ(m.at(0x1001'0000).entry.raw() & ~EptEntry::kAddressMask & ~arch::bit(7),
              before_small.raw() & ~EptEntry::kAddressMask & ~arch::bit(7));
    EXPECT_EQ(m.at(0x2030'0000).level, EptLevel::kPde);
    EXPECT_EQ(m.at(0x2030'0000).entry.memory_type(), 4u);
    EXPECT_EQ(m.at(0x2040'0000).entry.memory_type(), 6u) << "outside the new range";
    EXPECT_EQ(mm::is_tracked(m.at(0x2030'0000).entry), !present);
    EXPECT_FALSE(m.at(0x2030'0000).entry.ignore_pat());
  }
}

TEST(Retype, UnmappedRangesAreSkipped) {
  Machine m(mm::RamInitialState::kPresent);
  MtrrLayout l = all_write_back();
  l.range(0, 0, 2 * kGiB, MemoryType::kUncacheable);
  auto r = mm::retype_range(m.memory, m.ept.root, Gpa(0), 2 * kGiB, decode(l), m.caps);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().splits, 0u);
  EXPECT_EQ(r.value().leaves_changed, (2 * kGiB - 4 * kMiB) / (2 * kMiB))
      << "every 2 MiB leaf below 2 GiB but the hypervisor's";
  EXPECT_FALSE(m.at(1 * kGiB - kMiB).mapped()) << "the hypervisor's range stays unmapped";
  EXPECT_EQ(m.at(0x3000'0000).entry.memory_type(), 0u);
}

TEST(Retype, SplitWithoutMemoryIsReported) {
  Machine m(mm::RamInitialState::kPresent);
  MtrrLayout l = all_write_back();
  l.range(0, 0x1000'0000, 4096, MemoryType::kUncacheable);
  m.memory.fail_after(0);
  auto r = mm::retype_range(m.memory, m.ept.root, Gpa(0x1000'0000), 4096, decode(l), m.caps);
  EXPECT_EQ(r.error(), Error::kNoMemory);
  EXPECT_EQ(m.at(0x1000'0000).level, EptLevel::kPde) << "the leaf is untouched";
  EXPECT_EQ(m.at(0x1000'0000).entry.memory_type(), 6u);
}

// Property: leaves in random tracking/A/D/W states keep every bit but the type, and end up
// with the type the new MTRRs give over their span.
TEST(Retype, RandomStatesKeepEverythingButTheType) {
  std::mt19937_64 rng(5);
  const auto caps = mm::test::haswell_ad();
  for (int round = 0; round < 50; ++round) {
    HostTableMemory memory;
    const Hpa root = memory.allocate_table().value();
    const Hpa pdpt = memory.allocate_table().value();
    const Hpa pd = memory.allocate_table().value();
    memory.table(root)[0] = mm::table_link(pdpt, caps).raw();
    memory.table(pdpt)[0] = mm::table_link(pd, caps).raw();
    std::vector<EptEntry> original(8);
    for (unsigned i = 0; i < 8; ++i) {
      EptEntry e;
      e.set_rwx(rng() % 2 ? 0b111 : 0b101).set_memory_type(MemoryType::kWriteBack);
      e.set_large_page(true).set_address(Hpa(i * 2 * kMiB));
      e.set_accessed(rng() % 2).set_dirty(rng() % 2);
      e = EptEntry(e.raw() | mm::EptSwBits::kPolicyWritable);
      if (rng() % 2)
        e = mm::withhold_write(e);
      ASSERT_TRUE(mm::check_entry(e, EptLevel::kPde, caps).ok());
      original[i] = e;
      memory.table(pd)[i] = e.raw();
    }
    MtrrLayout l = all_write_back();
    const MemoryType types[] = {MemoryType::kUncacheable, MemoryType::kWriteThrough,
                                MemoryType::kWriteProtected, MemoryType::kWriteCombining};
    for (unsigned n = 0; n < 3; ++n) {
      const uint64_t size = uint64_t{4096} << (rng() % 12);
      l.range(n, (rng() % (16 * kMiB)) & ~(size - 1), size, types[rng() % 4]);
    }
    const mm::MtrrState mtrrs = decode(l);
    auto r = mm::retype_range(memory, root, Gpa(0), 16 * kMiB, mtrrs, caps);
    ASSERT_TRUE(r.ok());
    for (uint64_t a = 0; a < 16 * kMiB; a += 4096) {
      const mm::EptWalk w = mm::walk(memory, root, Gpa(a)).value();
      const uint64_t span = arch::ept_level_span(w.level);
      const EptEntry expected = w.level == EptLevel::kPde
                                    ? original[a / (2 * kMiB)]
                                    : mm::split_child(original[a / (2 * kMiB)], EptLevel::kPde,
                                                      static_cast<unsigned>(a % (2 * kMiB) / 4096));
      ASSERT_EQ(w.entry.raw() & ~kTypeBits, expected.raw() & ~kTypeBits) << std::hex << a;
      const mm::RangeType t = mtrrs.type_of(Gpa(a & ~(span - 1)), span);
      ASSERT_TRUE(t.uniform);
      ASSERT_EQ(w.entry.memory_type(), static_cast<uint64_t>(t.type)) << std::hex << a;
      ASSERT_TRUE(mm::check_entry(w.entry, w.level, caps).ok());
    }
  }
}

}  // namespace
