// Builds raw MTRR MSR values for tests, written from the register figures in
// [SDM 3A "Memory Type Range Registers (MTRRs)"] independently of mm/mtrr_msrs.h.
#pragma once

#include <cstdint>

#include "arch/memory_type.h"
#include "mm/mtrr_msrs.h"

namespace mm_test {

using arch::MemoryType;

constexpr uint64_t raw(MemoryType t) { return static_cast<uint64_t>(t); }

class MtrrLayout {
 public:
  explicit MtrrLayout(uint8_t max_phys_addr = 36) { msrs_.max_phys_addr = max_phys_addr; }

  // IA32_MTRRCAP: VCNT 7:0, FIX bit 8, WC bit 10.
  MtrrLayout& cap(unsigned vcnt, bool fix = true, bool wc = true) {
    msrs_.cap = vcnt | (fix ? 1u << 8 : 0) | (wc ? 1u << 10 : 0);
    return *this;
  }
  // IA32_MTRR_DEF_TYPE: type 7:0, FE bit 10, E bit 11.
  MtrrLayout& def(uint64_t type, bool enabled = true, bool fixed_enabled = true) {
    msrs_.def_type = type | (fixed_enabled ? 1u << 10 : 0) | (enabled ? 1u << 11 : 0);
    return *this;
  }
  MtrrLayout& def(MemoryType type, bool enabled = true, bool fixed_enabled = true) {
    return def(raw(type), enabled, fixed_enabled);
  }
  // A contiguous variable range [base, base + size), size a power of two >= 4 KiB.
  MtrrLayout& range(unsigned n, uint64_t base, uint64_t size, uint64_t type, bool valid = true) {
    const uint64_t address_bits = ((uint64_t{1} << msrs_.max_phys_addr) - 1) & ~uint64_t{0xFFF};
    return raw_range(n, base | type, (~(size - 1) & address_bits) | (valid ? 1u << 11 : 0));
  }
  MtrrLayout& range(unsigned n, uint64_t base, uint64_t size, MemoryType type, bool valid = true) {
    return range(n, base, size, raw(type), valid);
  }
  MtrrLayout& raw_range(unsigned n, uint64_t phys_base, uint64_t phys_mask) {
    msrs_.variable[n] = {phys_base, phys_mask};
    return *this;
  }
  // Sets the type of every fixed sub-range inside [start, end) (fixed-range boundaries).
  MtrrLayout& fixed(uint64_t start, uint64_t end, uint64_t type) {
    for (uint64_t a = start; a < end;) {
      const uint64_t granule = a < 0x80000 ? 0x10000 : a < 0xC0000 ? 0x4000 : 0x1000;
      const unsigned msr = a < 0x80000   ? 0
                           : a < 0xC0000 ? 1 + static_cast<unsigned>((a - 0x80000) / 0x20000)
                                         : 3 + static_cast<unsigned>((a - 0xC0000) / 0x8000);
      const uint64_t msr_start = a < 0x80000   ? 0
                                 : a < 0xC0000 ? 0x80000 + (msr - 1) * 0x20000
                                               : 0xC0000 + (msr - 3) * 0x8000;
      const unsigned byte = static_cast<unsigned>((a - msr_start) / granule);
      uint64_t& reg = msrs_.fixed[msr];
      reg = (reg & ~(uint64_t{0xFF} << (8 * byte))) | (type << (8 * byte));
      a += granule;
    }
    return *this;
  }
  MtrrLayout& fixed(uint64_t start, uint64_t end, MemoryType type) {
    return fixed(start, end, raw(type));
  }

  const mm::MtrrMsrs& msrs() const { return msrs_; }

 private:
  mm::MtrrMsrs msrs_;
};

}  // namespace mm_test
