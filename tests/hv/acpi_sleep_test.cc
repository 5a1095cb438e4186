#include "hv/acpi_sleep.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

namespace {

// Physical memory as a few byte arrays at chosen addresses.
struct FakeMemory {
  std::map<uint64_t, std::vector<uint8_t>> blocks;
  bool read(uint64_t phys, void* out, size_t n) {
    for (const auto& [base, bytes] : blocks) {
      if (phys >= base && phys + n <= base + bytes.size()) {
        std::memcpy(out, bytes.data() + (phys - base), n);
        return true;
      }
    }
    return false;
  }
};

void put(std::vector<uint8_t>& v, size_t at, uint64_t value, size_t n) {
  for (size_t i = 0; i < n; ++i)
    v[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

void fix_checksum(std::vector<uint8_t>& v, size_t at, size_t length) {
  uint8_t sum = 0;
  for (size_t i = 0; i < length; ++i)
    sum = static_cast<uint8_t>(sum + v[i]);
  v[at] = static_cast<uint8_t>(v[at] - sum);
}

std::vector<uint8_t> table(const char* sig, size_t length) {
  std::vector<uint8_t> t(length);
  std::memcpy(t.data(), sig, 4);
  put(t, 4, length, 4);
  return t;
}

constexpr uint64_t kRsdp = 0x1000;
constexpr uint64_t kXsdt = 0x2000;
constexpr uint64_t kFadt = 0x3000;
constexpr uint64_t kApic = 0x4000;

// RSDP v2 -> XSDT [MADT, FADT] -> FADT with PM1a_CNT 0x604 (and `x_pm1a` in its GAS).
FakeMemory machine(uint64_t x_pm1a = 0, size_t fadt_length = 244) {
  FakeMemory m;
  std::vector<uint8_t> rsdp(36);
  std::memcpy(rsdp.data(), "RSD PTR ", 8);
  rsdp[15] = 2;
  put(rsdp, 24, kXsdt, 8);
  fix_checksum(rsdp, 8, 20);
  m.blocks[kRsdp] = rsdp;
  auto xsdt = table("XSDT", 36 + 16);
  put(xsdt, 36, kApic, 8);
  put(xsdt, 44, kFadt, 8);
  fix_checksum(xsdt, 9, xsdt.size());
  m.blocks[kXsdt] = xsdt;
  auto apic = table("APIC", 44);
  fix_checksum(apic, 9, apic.size());
  m.blocks[kApic] = apic;
  auto fadt = table("FACP", fadt_length);
  put(fadt, 64, 0x604, 4);
  if (x_pm1a != 0 && fadt_length >= 184) {
    fadt[172] = 1;  // system I/O
    put(fadt, 176, x_pm1a, 8);
  }
  fix_checksum(fadt, 9, fadt.size());
  m.blocks[kFadt] = fadt;
  return m;
}

TEST(AcpiSleep, FindsPm1aControlThroughTheXsdt) {
  auto m = machine();
  const auto ports = hv::find_sleep_control_ports(m, kRsdp);
  EXPECT_EQ(ports.pm1a, 0x604);
  EXPECT_EQ(ports.pm1b, 0);
  EXPECT_TRUE(ports.covers(0x604));
  EXPECT_TRUE(ports.covers(0x605)) << "the second byte of a 16-bit register";
  EXPECT_FALSE(ports.covers(0x606));
  EXPECT_FALSE(ports.covers(0));
}

TEST(AcpiSleep, TheGenericAddressWinsWhenItIsSystemIo) {
  auto m = machine(0xB004);
  EXPECT_EQ(hv::find_sleep_control_ports(m, kRsdp).pm1a, 0xB004);
}

TEST(AcpiSleep, AnAcpi1FadtHasOnlyTheLegacyField) {
  auto m = machine(0xB004, 116);
  EXPECT_EQ(hv::find_sleep_control_ports(m, kRsdp).pm1a, 0x604);
}

TEST(AcpiSleep, BadChecksumsOrMissingTablesGiveNoPorts) {
  auto m = machine();
  m.blocks[kFadt][20] ^= 1;  // FADT checksum broken
  EXPECT_EQ(hv::find_sleep_control_ports(m, kRsdp).pm1a, 0);
  auto n = machine();
  n.blocks[kRsdp][0] = 'X';
  EXPECT_EQ(hv::find_sleep_control_ports(n, kRsdp).pm1a, 0);
  auto o = machine();
  o.blocks.erase(kFadt);
  EXPECT_EQ(hv::find_sleep_control_ports(o, kRsdp).pm1a, 0);
  EXPECT_EQ(hv::find_sleep_control_ports(o, 0).pm1a, 0) << "no RSDP (Bochs' OVMF)";
}

TEST(AcpiSleep, SleepEntryIsSlpEnWithItsType) {
  EXPECT_TRUE(hv::is_sleep_entry(0x2000 | (5u << 10)));
  EXPECT_EQ(hv::sleep_type(0x2000 | (5u << 10)), 5u);
  EXPECT_FALSE(hv::is_sleep_entry(5u << 10)) << "SLP_TYP alone does not sleep";
}

}  // namespace
