#include "mm/page_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace {

using arch::Error;
using arch::Hpa;
using mm::OffsetTranslation;
using mm::PagePool;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kFakeBase = 0x7'4000'0000;  // the pool's fake host-physical base

// Host pages standing in for firmware-allocated pool memory: filled with garbage, as
// firmware memory may be.
class HostPages {
 public:
  explicit HostPages(uint64_t pages)
      : pages_(pages), memory_(static_cast<uint8_t*>(std::aligned_alloc(kPage, pages * kPage))) {
    std::memset(memory_.get(), 0xAB, pages * kPage);
  }
  uint8_t* data() const { return memory_.get(); }
  OffsetTranslation translation() const {
    return OffsetTranslation{reinterpret_cast<uint64_t>(data()) - kFakeBase};
  }
  uint64_t pages() const { return pages_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint64_t pages_;
  std::unique_ptr<uint8_t, Free> memory_;
};

bool all_zero(const uint64_t* table) {
  return std::all_of(table, table + mm::kTableEntries, [](uint64_t e) { return e == 0; });
}

TEST(PagePool, InitRejectsUnalignedBaseAndEmptyRegions) {
  PagePool<OffsetTranslation> pool;
  EXPECT_EQ(pool.init(Hpa(kFakeBase + 8), 4).error(), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(Hpa(kFakeBase), 0).error(), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(Hpa(~uint64_t{0} & ~(kPage - 1)), 2).error(), Error::kInvalidArgument)
      << "the region would wrap past the top of the address space";
  EXPECT_TRUE(pool.init(Hpa(kFakeBase), 4).ok());
}

TEST(PagePool, UninitialisedPoolFailsCleanly) {
  PagePool<OffsetTranslation> pool;
  EXPECT_EQ(pool.allocate_table().error(), Error::kNoMemory);
  EXPECT_EQ(pool.allocate_contiguous(1).error(), Error::kNoMemory);
}

TEST(PagePool, HandsOutEveryPageOnceInOrderThenNoMemory) {
  HostPages host(16);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  for (uint64_t i = 0; i < host.pages(); ++i) {
    auto hpa = pool.allocate_table();
    ASSERT_TRUE(hpa.ok()) << i;
    EXPECT_EQ(hpa.value().value(), kFakeBase + i * kPage);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(pool.table(hpa.value())), host.data() + i * kPage);
  }
  EXPECT_EQ(pool.used(), host.pages());
  EXPECT_EQ(pool.allocate_table().error(), Error::kNoMemory);
  EXPECT_EQ(pool.allocate_table().error(), Error::kNoMemory) << "exhaustion is stable";
  EXPECT_EQ(pool.used(), host.pages());
}

TEST(PagePool, TablesAreZeroedOverGarbage) {
  HostPages host(4);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  for (int i = 0; i < 4; ++i) {
    auto hpa = pool.allocate_table();
    ASSERT_TRUE(hpa.ok());
    EXPECT_TRUE(all_zero(pool.table(hpa.value())));
  }
  EXPECT_EQ(host.data()[0], 0u);
}

TEST(PagePool, ContiguousAllocationIsZeroedAndFailsWithoutConsuming) {
  HostPages host(8);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  ASSERT_TRUE(pool.allocate_table().ok());
  auto metadata = pool.allocate_contiguous(5);
  ASSERT_TRUE(metadata.ok());
  EXPECT_EQ(metadata.value().value(), kFakeBase + kPage);
  EXPECT_TRUE(
      std::all_of(host.data() + kPage, host.data() + 6 * kPage, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(pool.allocate_contiguous(3).error(), Error::kNoMemory);
  EXPECT_EQ(pool.used(), 6u) << "a refused request takes nothing";
  EXPECT_EQ(pool.allocate_contiguous(0).error(), Error::kInvalidArgument);
  EXPECT_TRUE(pool.allocate_contiguous(2).ok());
  EXPECT_EQ(pool.allocate_table().error(), Error::kNoMemory);
}

TEST(PagePool, FreedUnpublishedTablesAreReusedZeroed) {
  HostPages host(4);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  auto a = pool.allocate_table();
  auto b = pool.allocate_table();
  ASSERT_TRUE(a.ok() && b.ok());
  std::fill_n(pool.table(a.value()), mm::kTableEntries, 0x1234);
  std::fill_n(pool.table(b.value()), mm::kTableEntries, 0x5678);
  pool.free_unpublished_table(a.value());
  pool.free_unpublished_table(b.value());
  EXPECT_EQ(pool.free_tables(), 2u);
  auto again_b = pool.allocate_table();
  auto again_a = pool.allocate_table();
  ASSERT_TRUE(again_a.ok() && again_b.ok());
  EXPECT_EQ(again_b.value(), b.value()) << "last freed, first reused";
  EXPECT_EQ(again_a.value(), a.value());
  EXPECT_TRUE(all_zero(pool.table(again_a.value())));
  EXPECT_TRUE(all_zero(pool.table(again_b.value())));
  EXPECT_EQ(pool.free_tables(), 0u);
  EXPECT_EQ(pool.used(), 2u) << "recycling does not touch the unused part of the region";
}

TEST(PagePool, FreedTableMakesAnExhaustedPoolUsableAgain) {
  HostPages host(1);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  auto only = pool.allocate_table();
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(pool.allocate_table().error(), Error::kNoMemory);
  pool.free_unpublished_table(only.value());
  EXPECT_TRUE(pool.allocate_table().ok());
}

TEST(PagePool, IdentityTranslationUsesTheAddressAsThePointer) {
  HostPages host(2);
  PagePool<> pool;
  const Hpa base(reinterpret_cast<uint64_t>(host.data()));
  ASSERT_TRUE(pool.init(base, host.pages()).ok());
  auto hpa = pool.allocate_table();
  ASSERT_TRUE(hpa.ok());
  EXPECT_EQ(hpa.value(), base);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(pool.table(hpa.value())), host.data());
  static_assert(mm::TableMemory<PagePool<>>);
}

TEST(PagePoolDeathTest, AddressesOutsideThePoolPanic) {
  HostPages host(2);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), host.pages(), host.translation()).ok());
  EXPECT_DEATH(pool.table(Hpa(kFakeBase + 2 * kPage)), "contains");
  EXPECT_DEATH(pool.table(Hpa(kFakeBase - kPage)), "contains");
  EXPECT_DEATH(pool.free_unpublished_table(Hpa(kFakeBase + 16)), "contains");
}

// Two CPUs allocate until the pool is empty: every page is handed out exactly once. Each
// thread also frees some of its tables (as a lost split race does) and takes more; a page
// that two threads held at once would show the other thread's marks. Run under TSan too.
TEST(PagePool, ConcurrentAllocationHandsOutEveryPageOnce) {
  constexpr uint64_t kPages = 2048;
  HostPages host(kPages);
  PagePool<OffsetTranslation> pool;
  ASSERT_TRUE(pool.init(Hpa(kFakeBase), kPages, host.translation()).ok());
  std::vector<uint64_t> held[2];
  bool clean[2] = {true, true};
  std::atomic<int> ready{0};
  auto worker = [&](unsigned id) {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }  // start together, so the two really contend
    // Bounded: a corrupted free list (a cycle) must fail the test, not hang it.
    for (uint64_t step = 1;; ++step) {
      auto hpa = pool.allocate_table();
      if (!hpa.ok() || step > 4 * kPages) {
        clean[id] = clean[id] && !hpa.ok() && hpa.error() == Error::kNoMemory;
        break;
      }
      uint64_t* table = pool.table(hpa.value());
      clean[id] = clean[id] && all_zero(table);
      std::fill_n(table, mm::kTableEntries, id + 1);
      if (step % 5 == 0) {
        pool.free_unpublished_table(hpa.value());
        continue;
      }
      held[id].push_back(hpa.value().value());
    }
  };
  std::thread t0(worker, 0u), t1(worker, 1u);
  t0.join();
  t1.join();
  EXPECT_TRUE(clean[0] && clean[1]) << "a page came back dirty or with the wrong error";
  std::set<uint64_t> pages;
  for (unsigned id = 0; id < 2; ++id) {
    for (uint64_t hpa : held[id]) {
      EXPECT_TRUE(pages.insert(hpa).second) << std::hex << hpa << " handed out twice";
      const uint64_t* table = pool.table(Hpa(hpa));
      EXPECT_TRUE(
          std::all_of(table, table + mm::kTableEntries, [&](uint64_t e) { return e == id + 1; }))
          << std::hex << hpa << " was written by both threads";
    }
  }
  EXPECT_EQ(pages.size() + pool.free_tables(), kPages);
  EXPECT_EQ(pool.used(), kPages);
}

}  // namespace
