#include "arch/elf_relocation.h"

namespace arch {

Result<RelaTable> find_rela_table(const Elf64Dyn* dynamic) {
  RelaTable table;
  bool found = false;
  uint64_t size = 0;
  uint64_t entry_size = sizeof(Elf64Rela);
  for (const Elf64Dyn* d = dynamic; d->tag != kDynamicTagNull; ++d) {
    if (d->tag == kDynamicTagRela) {
      table.offset = d->value;
      found = true;
    } else if (d->tag == kDynamicTagRelaSize) {
      size = d->value;
    } else if (d->tag == kDynamicTagRelaEntrySize) {
      entry_size = d->value;
    }
  }
  if (!found)
    return Error::kNotFound;
  if (entry_size != sizeof(Elf64Rela))
    return Error::kUnsupported;
  table.count = static_cast<size_t>(size / sizeof(Elf64Rela));
  return table;
}

Result<void> rebase_image(uint8_t* image, uint64_t size, const Elf64Rela* relocations, size_t count,
                          uint64_t base) {
  for (size_t i = 0; i < count; ++i) {
    if ((relocations[i].info & 0xFFFF'FFFF) != kRelocX8664Relative)
      return Error::kUnsupported;
    if (size < sizeof(uint64_t) || relocations[i].offset > size - sizeof(uint64_t)) {
      return Error::kOutOfRange;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const uint64_t value = base + static_cast<uint64_t>(relocations[i].addend);
    uint8_t* target = image + relocations[i].offset;
    for (unsigned b = 0; b < sizeof(value); ++b) {
      target[b] = static_cast<uint8_t>(value >> (8 * b));  // offsets need not be aligned
    }
  }
  return {};
}

}  // namespace arch
