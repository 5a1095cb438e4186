#include "mm/pool_sizing.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using arch::Error;
using arch::Gpa;
using mm::MemoryKind;
using mm::MemoryRange;
using mm::PoolSizingParams;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

MemoryRange range(uint64_t start, uint64_t end, MemoryKind kind) {
  return MemoryRange{Gpa(start), (end - start) / 4096, kind};
}

PoolSizingParams exact() {
  PoolSizingParams p;
  p.slack_tables = 0;
  return p;
}

mm::PoolSizing size(const std::vector<MemoryRange>& map, const PoolSizingParams& params) {
  auto s = mm::pool_pages_needed(map.data(), map.size(), params);
  EXPECT_TRUE(s.ok()) << arch::error_name(s.error());
  return s.value_or(mm::PoolSizing{});
}

// A Bochs-like 512 MiB machine. Worked by hand in docs/page-pool.md.
const std::vector<MemoryRange> kSmallMachine = {
    range(0, 0xA0000, MemoryKind::kRam),                     // 160 frames
    range(0xA0000, 0x100000, MemoryKind::kReserved),         // legacy VGA, ROMs
    range(0x100000, 0x1F00'0000, MemoryKind::kRam),          // 126720 frames
    range(0x1F00'0000, 0x2000'0000, MemoryKind::kReserved),  // firmware
    range(0xFEC0'0000, 0xFEC0'1000, MemoryKind::kMmio),      // IO-APIC
    range(0xFFE0'0000, 0x1'0000'0000, MemoryKind::kMmio),    // flash
};

TEST(PoolSizing, SmallMachineMatchesHandComputation) {
  auto s = size(kSmallMachine, exact());
  EXPECT_EQ(s.pml4, 1u);
  EXPECT_EQ(s.pdpts, 1u);
  EXPECT_EQ(s.pds, 4u) << "[0, 4 GiB) is mapped eagerly";
  // [0, 2 MiB) + the 247 further 2 MiB regions of RAM up to 496 MiB + the IO-APIC page's.
  EXPECT_EQ(s.pts, 1u + 247u + 1u);
  EXPECT_EQ(s.metadata_pages, 31u) << "126880 frames x 1 byte = 30.98 pages";
  EXPECT_EQ(s.needed, 1u + 1u + 4u + 249u + 31u);
  EXPECT_EQ(s.pages, s.needed);
  EXPECT_FALSE(s.capped);
}

TEST(PoolSizing, SlackTablesAreAddedToPageTables) {
  PoolSizingParams p = exact();
  p.slack_tables = 64;
  EXPECT_EQ(size(kSmallMachine, p).pts, 249u + 64u);
  EXPECT_EQ(PoolSizingParams{}.slack_tables, 64u) << "documented default";
}

TEST(PoolSizing, RamAboveFourGigabytes) {
  const std::vector<MemoryRange> map = {range(0, 2 * kGiB, MemoryKind::kRam),
                                        range(4 * kGiB, 6 * kGiB, MemoryKind::kRam)};
  auto s = size(map, exact());
  EXPECT_EQ(s.pds, 6u);
  EXPECT_EQ(s.pdpts, 1u);
  EXPECT_EQ(s.pts, 2048u) << "one page table per 2 MiB of RAM";
  EXPECT_EQ(s.metadata_pages, 256u) << "4 GiB of frames, a byte each";
  EXPECT_EQ(s.needed, 1u + 1u + 6u + 2048u + 256u);
}

TEST(PoolSizing, TwoMegabyteGranularityNeedsTablesOnlyAtUnalignedEdges) {
  const std::vector<MemoryRange> map = {range(0, 2 * kGiB, MemoryKind::kRam),
                                        range(4 * kGiB, 6 * kGiB, MemoryKind::kRam)};
  PoolSizingParams p = exact();
  p.ram_page_size = arch::kPageSize2M;
  auto s = size(map, p);
  EXPECT_EQ(s.pts, 1u) << "only [0, 2 MiB), for the fixed-range MTRRs";
  EXPECT_EQ(s.needed, 1u + 1u + 6u + 1u + 256u);
}

TEST(PoolSizing, SharedTwoMegabyteRegionsAreCountedOnce) {
  // RAM, a one-page hypervisor hole and RAM again, all inside 2 MiB regions 0..3.
  const std::vector<MemoryRange> map = {
      range(1 * kMiB, 3 * kMiB, MemoryKind::kRam),
      range(3 * kMiB, 3 * kMiB + 4096, MemoryKind::kHypervisor),
      range(3 * kMiB + 4096, 8 * kMiB, MemoryKind::kRam),
  };
  PoolSizingParams p = exact();
  EXPECT_EQ(size(map, p).pts, 4u) << "regions 0-3, each once";
  p.ram_page_size = arch::kPageSize2M;
  EXPECT_EQ(size(map, p).pts, 2u) << "regions 0 and 1 hold every unaligned edge";
}

TEST(PoolSizing, SparseHighRamNeedsDirectoriesUpToTheTop) {
  const std::vector<MemoryRange> map = {range(512 * kGiB, 512 * kGiB + 2 * kMiB, MemoryKind::kRam)};
  auto s = size(map, exact());
  EXPECT_EQ(s.pdpts, 2u);
  EXPECT_EQ(s.pds, 513u);
  EXPECT_EQ(s.pts, 2u);
  EXPECT_EQ(s.metadata_pages, 1u);
}

TEST(PoolSizing, MetadataScalesWithBytesPerFrame) {
  const std::vector<MemoryRange> map = {range(0, 2 * kGiB, MemoryKind::kRam),
                                        range(2 * kGiB, 3 * kGiB, MemoryKind::kReserved)};
  PoolSizingParams p = exact();
  p.metadata_bytes_per_frame = 0;
  EXPECT_EQ(size(map, p).metadata_pages, 0u);
  p.metadata_bytes_per_frame = 2;
  EXPECT_EQ(size(map, p).metadata_pages, 256u) << "only RAM frames carry metadata";
}

TEST(PoolSizing, CapLimitsThePoolAndSaysSo) {
  PoolSizingParams p = exact();
  p.max_pages = 100;
  auto s = size(kSmallMachine, p);
  EXPECT_TRUE(s.capped);
  EXPECT_EQ(s.pages, 100u);
  EXPECT_EQ(s.needed, 286u);
  p.max_pages = 286;
  EXPECT_FALSE(size(kSmallMachine, p).capped);
}

TEST(PoolSizing, EmptyMapStillCoversTheEagerFloor) {
  auto s = size({}, exact());
  EXPECT_EQ(s.table_pages(), 1u + 1u + 4u + 1u);
  EXPECT_EQ(s.metadata_pages, 0u);
}

TEST(PoolSizing, RejectsUnsortedOverlappingUnalignedAndUnmappableMaps) {
  auto error = [](std::vector<MemoryRange> map, PoolSizingParams p = exact()) {
    return mm::pool_pages_needed(map.data(), map.size(), p).error();
  };
  EXPECT_EQ(error({range(2 * kGiB, 3 * kGiB, MemoryKind::kRam), range(0, kGiB, MemoryKind::kRam)}),
            Error::kInvalidArgument);
  EXPECT_EQ(error({range(0, 2 * kGiB, MemoryKind::kRam), range(kGiB, 3 * kGiB, MemoryKind::kMmio)}),
            Error::kInvalidArgument);
  EXPECT_EQ(error({MemoryRange{Gpa(0x1800), 1, MemoryKind::kRam}}), Error::kInvalidArgument);
  EXPECT_EQ(error({range(uint64_t{1} << 48, (uint64_t{1} << 48) + 4096, MemoryKind::kMmio)}),
            Error::kOutOfRange);
  EXPECT_EQ(error({MemoryRange{Gpa(0), uint64_t{1} << 40, MemoryKind::kRam}}), Error::kOutOfRange);
  PoolSizingParams gigabyte = exact();
  gigabyte.ram_page_size = arch::kPageSize1G;
  EXPECT_EQ(error({}, gigabyte), Error::kInvalidArgument);
}

}  // namespace
