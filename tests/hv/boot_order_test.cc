#include "hv/boot_order.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

void put16(std::vector<uint8_t>& v, unsigned x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}

// A media file-path node for `text`.
std::vector<uint8_t> file_node(const std::string& text) {
  std::vector<uint8_t> v{4, 4, 0, 0};
  for (char c : text)
    put16(v, static_cast<unsigned char>(c));
  put16(v, 0);
  v[2] = static_cast<uint8_t>(v.size());
  v[3] = static_cast<uint8_t>(v.size() >> 8);
  return v;
}

std::vector<uint8_t> device_path(const std::vector<std::vector<uint8_t>>& nodes) {
  std::vector<uint8_t> v{2, 1, 12, 0, 0xD0, 0x41, 0x03, 0x0A, 0, 0, 0, 0};  // ACPI PciRoot(0)
  for (const auto& n : nodes)
    v.insert(v.end(), n.begin(), n.end());
  v.insert(v.end(), {0x7F, 0xFF, 4, 0});
  return v;
}

std::vector<uint8_t> load_option(const std::string& description, const std::vector<uint8_t>& path,
                                 const std::string& optional) {
  std::vector<uint8_t> v{1, 0, 0, 0};
  put16(v, static_cast<unsigned>(path.size()));
  for (char c : description)
    put16(v, static_cast<unsigned char>(c));
  put16(v, 0);
  v.insert(v.end(), path.begin(), path.end());
  v.insert(v.end(), optional.begin(), optional.end());
  return v;
}

std::string text_of(const std::vector<uint8_t>& path) {
  char out[128];
  const size_t n = hv::file_path_text(path.data(), path.size(), out, sizeof(out));
  return std::string(out, n);
}

TEST(BootOrder, NextEntryFollowsTheCurrentOne) {
  const uint16_t order[] = {3, 0, 7};
  EXPECT_EQ(hv::next_boot_entry(order, 3, 3), 1);
  EXPECT_EQ(hv::next_boot_entry(order, 3, 0), 2);
  EXPECT_EQ(hv::next_boot_entry(order, 3, 7), -1) << "the last entry has no next";
  EXPECT_EQ(hv::next_boot_entry(order, 3, 9), -1) << "not in BootOrder";
  EXPECT_EQ(hv::next_boot_entry(order, 0, 3), -1);
}

TEST(BootOrder, ParsesALoadOption) {
  const auto path = device_path({file_node("\\EFI\\agevisor\\agevisor.efi")});
  const auto option = load_option("agevisor", path, "track=auto");
  hv::LoadOptionView v;
  ASSERT_TRUE(hv::parse_load_option(option.data(), option.size(), &v));
  EXPECT_EQ(v.attributes, hv::LoadOptionView::kActive);
  EXPECT_EQ(v.description_units, 8u);
  EXPECT_EQ(v.file_path_bytes, path.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.optional_data), v.optional_data_bytes),
            "track=auto");
}

TEST(BootOrder, RefusesTruncatedLoadOptions) {
  const auto option = load_option("x", device_path({file_node("\\a.efi")}), "");
  hv::LoadOptionView v;
  for (size_t cut : {size_t{0}, size_t{5}, size_t{7}, option.size() - 1})
    EXPECT_FALSE(hv::parse_load_option(option.data(), cut, &v)) << cut;
}

TEST(BootOrder, FilePathTextJoinsNodesLowerCasedWithBackslashes) {
  EXPECT_EQ(text_of(device_path({file_node("\\EFI\\BOOT\\BOOTX64.EFI")})),
            "\\efi\\boot\\bootx64.efi");
  EXPECT_EQ(text_of(device_path({file_node("\\EFI\\"), file_node("\\Boot/BootX64.efi")})),
            "\\efi\\boot\\bootx64.efi");
  EXPECT_EQ(text_of(device_path({})), "") << "no file node (a whole disk, a firmware volume)";
}

}  // namespace
