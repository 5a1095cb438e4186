#include "arch/elf_relocation.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

using arch::Elf64Dyn;
using arch::Elf64Rela;

uint64_t read64(const std::vector<uint8_t>& image, size_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, image.data() + offset, sizeof(v));
  return v;
}

TEST(ElfRelocation, RebaseWritesBasePlusAddendAtEveryOffset) {
  std::vector<uint8_t> image(64, 0xEE);
  const Elf64Rela relocations[] = {{8, arch::kRelocX8664Relative, 0x1000},
                                   {20, arch::kRelocX8664Relative, 0x2468},
                                   {56, arch::kRelocX8664Relative, 0}};
  ASSERT_TRUE(arch::rebase_image(image.data(), image.size(), relocations, 3, 0x7F00'0000).ok());
  EXPECT_EQ(read64(image, 8), 0x7F00'1000u);
  EXPECT_EQ(read64(image, 20), 0x7F00'2468u) << "unaligned offsets work";
  EXPECT_EQ(read64(image, 56), 0x7F00'0000u);
  EXPECT_EQ(image[0], 0xEE) << "bytes without a relocation are untouched";
  // Rebasing the same bytes again for another base gives that base: no dependence on what
  // the first relocation left in place.
  ASSERT_TRUE(arch::rebase_image(image.data(), image.size(), relocations, 3, 0x1000'0000).ok());
  EXPECT_EQ(read64(image, 8), 0x1000'1000u);
}

TEST(ElfRelocation, RefusesOtherTypesAndOutOfRangeOffsetsWithoutChangingAnything) {
  std::vector<uint8_t> image(32, 0);
  const Elf64Rela mixed[] = {{0, arch::kRelocX8664Relative, 0x10}, {8, (5ull << 32) | 1, 0}};
  EXPECT_EQ(arch::rebase_image(image.data(), image.size(), mixed, 2, 0x1000).error(),
            arch::Error::kUnsupported);
  EXPECT_EQ(read64(image, 0), 0u) << "checked before anything is written";
  const Elf64Rela outside[] = {{25, arch::kRelocX8664Relative, 0}};
  EXPECT_EQ(arch::rebase_image(image.data(), image.size(), outside, 1, 0x1000).error(),
            arch::Error::kOutOfRange);
}

TEST(ElfRelocation, FindsTheRelaTableInDynamic) {
  const Elf64Dyn dynamic[] = {{arch::kDynamicTagRela, 0x5000},
                              {arch::kDynamicTagRelaSize, 3 * sizeof(Elf64Rela)},
                              {arch::kDynamicTagRelaEntrySize, sizeof(Elf64Rela)},
                              {arch::kDynamicTagNull, 0}};
  const auto table = arch::find_rela_table(dynamic);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table.value().offset, 0x5000u);
  EXPECT_EQ(table.value().count, 3u);
  const Elf64Dyn none[] = {{arch::kDynamicTagNull, 0}};
  EXPECT_EQ(arch::find_rela_table(none).error(), arch::Error::kNotFound);
  const Elf64Dyn odd[] = {
      {arch::kDynamicTagRela, 0}, {arch::kDynamicTagRelaEntrySize, 16}, {arch::kDynamicTagNull, 0}};
  EXPECT_EQ(arch::find_rela_table(odd).error(), arch::Error::kUnsupported);
}

}  // namespace
