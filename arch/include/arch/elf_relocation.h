// Re-applying an image's dynamic relocations for a new base address. agevisor copies itself
// into memory the OS will not reclaim and runs its host code from the copy; the post-link
// check guarantees every dynamic relocation is R_X86_64_RELATIVE, so rebasing is
// "B + A" for each entry. [System V ABI AMD64 supplement, "Relocation Types"]
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/result.h"

namespace arch {

struct Elf64Rela {
  uint64_t offset = 0;  // r_offset: where, relative to the image base
  uint64_t info = 0;    // r_info: symbol (63:32) and type (31:0)
  int64_t addend = 0;   // r_addend
};

inline constexpr uint32_t kRelocX8664Relative = 8;
inline constexpr int64_t kDynamicTagNull = 0;
inline constexpr int64_t kDynamicTagRela = 7;
inline constexpr int64_t kDynamicTagRelaSize = 8;
inline constexpr int64_t kDynamicTagRelaEntrySize = 9;

struct Elf64Dyn {
  int64_t tag = 0;
  uint64_t value = 0;
};

// The RELA table a .dynamic section describes, as (link-time offset, entry count).
struct RelaTable {
  uint64_t offset = 0;
  size_t count = 0;
};

// Error::kNotFound without DT_RELA; kUnsupported if the entry size is not sizeof(Elf64Rela).
Result<RelaTable> find_rela_table(const Elf64Dyn* dynamic);

// Writes base + addend at every relocation's offset in `image` (size bytes), so the image
// runs at `base`. Checks every entry first and changes nothing unless all are RELATIVE and
// inside the image.
Result<void> rebase_image(uint8_t* image, uint64_t size, const Elf64Rela* relocations, size_t count,
                          uint64_t base);

}  // namespace arch
