// Cross-checks MtrrState against a brute-force reference that applies the SDM precedence to
// every 4 KiB page of small random address spaces.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "mm/mtrr.h"
#include "mtrr_layout.h"

namespace {

using arch::Gpa;
using arch::MemoryType;
using mm::MtrrMsrs;
using mm::MtrrState;

constexpr uint64_t kPage = 4096;

uint8_t effective(uint64_t raw) {
  return (raw == 0 || raw == 1 || raw == 4 || raw == 5 || raw == 6) ? static_cast<uint8_t>(raw) : 0;
}

// [SDM 3A "MTRR Precedences"], one address at a time, straight from the raw registers.
uint8_t reference_type(const MtrrMsrs& m, uint64_t addr) {
  if ((m.def_type & (1u << 11)) == 0)
    return 0;
  const bool fixed = (m.def_type & (1u << 10)) != 0 && (m.cap & (1u << 8)) != 0;
  if (fixed && addr < 0x100000) {
    unsigned msr, byte;
    if (addr < 0x80000) {
      msr = 0, byte = static_cast<unsigned>(addr / 0x10000);
    } else if (addr < 0xC0000) {
      msr = 1 + static_cast<unsigned>((addr - 0x80000) / 0x20000);
      byte = static_cast<unsigned>((addr - 0x80000) % 0x20000 / 0x4000);
    } else {
      msr = 3 + static_cast<unsigned>((addr - 0xC0000) / 0x8000);
      byte = static_cast<unsigned>((addr - 0xC0000) % 0x8000 / 0x1000);
    }
    return effective((m.fixed[msr] >> (8 * byte)) & 0xFF);
  }
  const uint64_t address_bits = ((uint64_t{1} << m.max_phys_addr) - 1) & ~uint64_t{0xFFF};
  bool any = false, same = true, uc = false, wt = false, wb = false, other = false;
  uint8_t first = 0;
  for (unsigned i = 0; i < (m.cap & 0xFF); ++i) {
    const auto& v = m.variable[i];
    const uint64_t mask = v.phys_mask & address_bits;
    if ((v.phys_mask & (1u << 11)) == 0 || (addr & mask) != (v.phys_base & mask))
      continue;
    const uint8_t t = effective(v.phys_base & 0xFF);
    same = same && (!any || t == first);
    first = any ? first : t;
    any = true;
    uc |= t == 0;
    wt |= t == 4;
    wb |= t == 6;
    other |= t == 1 || t == 5;
  }
  if (!any)
    return effective(m.def_type & 0xFF);
  if (same)
    return first;
  if (uc)
    return 0;
  if (wt && wb && !other)
    return 4;
  return 0;
}

MtrrMsrs random_layout(std::mt19937_64& rng, uint8_t max_phys_addr) {
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  const uint64_t valid_types[] = {0, 1, 4, 5, 6};
  auto type = [&]() -> uint64_t { return pick(20) == 0 ? 2 + pick(2) : valid_types[pick(5)]; };
  MtrrMsrs m;
  m.max_phys_addr = max_phys_addr;
  const unsigned vcnt = static_cast<unsigned>(pick(11));
  m.cap = vcnt | (pick(5) != 0 ? 1u << 8 : 0) | (1u << 10);
  m.def_type = type() | (pick(4) != 0 ? 1u << 10 : 0) | (pick(10) != 0 ? 1u << 11 : 0);
  // Fixed ranges in runs so that uniform stretches exist.
  uint64_t t = type();
  for (auto& reg : m.fixed) {
    for (unsigned byte = 0; byte < 8; ++byte) {
      if (pick(6) == 0)
        t = type();
      reg |= t << (8 * byte);
    }
  }
  const uint64_t address_bits = ((uint64_t{1} << max_phys_addr) - 1) & ~uint64_t{0xFFF};
  for (unsigned i = 0; i < vcnt; ++i) {
    const unsigned order = 12 + static_cast<unsigned>(pick(max_phys_addr - 12u + 1));
    const uint64_t size = uint64_t{1} << order;
    const uint64_t base = rng() & address_bits & ~(size - 1);
    uint64_t mask = ~(size - 1) & address_bits;
    if (pick(8) == 0 && order < max_phys_addr)  // punch a hole: non-contiguous mask
      mask &= ~(uint64_t{1} << (order + pick(max_phys_addr - order)));
    m.variable[i] = {base | type(), mask | (pick(6) != 0 ? 1u << 11 : 0)};
  }
  return m;
}

struct Reference {
  std::vector<uint8_t> page_types;

  explicit Reference(const MtrrMsrs& m) : page_types(size_t{1} << (m.max_phys_addr - 12)) {
    for (size_t p = 0; p < page_types.size(); ++p)
      page_types[p] = reference_type(m, p * kPage);
  }
  mm::RangeType type_of(uint64_t start, uint64_t size) const {
    const uint8_t t = page_types[start / kPage];
    for (uint64_t p = start / kPage; p < (start + size + kPage - 1) / kPage; ++p) {
      if (page_types[p] != t)
        return mm::RangeType::mixed();
    }
    return mm::RangeType::of(static_cast<MemoryType>(t));
  }
};

void check_layout(const MtrrMsrs& m, std::mt19937_64& rng, bool every_page) {
  auto decoded = MtrrState::from_msrs(m);
  ASSERT_TRUE(decoded.ok());
  const MtrrState& s = decoded.value();
  const Reference ref(m);
  const uint64_t space = uint64_t{1} << m.max_phys_addr;
  const uint64_t pages = space / kPage;
  for (uint64_t i = 0; i < (every_page ? pages : 20000); ++i) {
    const uint64_t p = every_page ? i : rng() % pages;
    ASSERT_EQ(static_cast<int>(s.type_at(Gpa(p * kPage))), ref.page_types[p]) << std::hex << p;
  }
  for (uint64_t block : {uint64_t{1} << 16, uint64_t{1} << 21, uint64_t{1} << 30}) {
    for (uint64_t a = 0; block <= space && a < space; a += block)
      ASSERT_EQ(s.type_of(Gpa(a), block), ref.type_of(a, block)) << std::hex << a << "+" << block;
  }
  for (int i = 0; i < 300; ++i) {  // arbitrary unaligned ranges
    const uint64_t start = rng() % space;
    const uint64_t size =
        1 + rng() % (rng() % 2 ? space - start : std::min<uint64_t>(space - start, 1u << 22));
    ASSERT_EQ(s.type_of(Gpa(start), size), ref.type_of(start & ~(kPage - 1), size + start % kPage))
        << std::hex << start << "+" << size;
  }
  arch::EptCapabilities caps;
  caps.pages_2m = rng() % 4 != 0;
  caps.pages_1g = rng() % 2 != 0 && space >= (uint64_t{1} << 30);
  for (int i = 0; i < 300; ++i) {
    const uint64_t addr = rng() % space;
    uint64_t expected = kPage;
    for (uint64_t size : {uint64_t{1} << 30, uint64_t{1} << 21}) {
      const bool allowed = size == (uint64_t{1} << 30) ? caps.pages_1g : caps.pages_2m;
      if (allowed && ref.type_of(addr & ~(size - 1), size).uniform) {
        expected = size;
        break;
      }
    }
    auto page = s.largest_uniform_page(Gpa(addr), caps);
    ASSERT_EQ(page.size, expected) << std::hex << addr;
    ASSERT_EQ(page.base.value(), addr & ~(expected - 1));
    ASSERT_EQ(static_cast<int>(page.type), ref.page_types[addr / kPage]);
  }
}

TEST(MtrrReference, RandomLayoutsMatchPerPageReferenceSmallSpace) {
  std::mt19937_64 rng(0x5EED'0001);
  for (int layout = 0; layout < 150; ++layout) {
    SCOPED_TRACE(layout);
    check_layout(random_layout(rng, 24), rng, /*every_page=*/true);
    if (HasFatalFailure())
      return;
  }
}

TEST(MtrrReference, RandomLayoutsMatchPerPageReferenceWithGigabytePages) {
  std::mt19937_64 rng(0x5EED'0002);
  for (int layout = 0; layout < 4; ++layout) {
    SCOPED_TRACE(layout);
    check_layout(random_layout(rng, 32), rng, /*every_page=*/false);
    if (HasFatalFailure())
      return;
  }
}

}  // namespace
