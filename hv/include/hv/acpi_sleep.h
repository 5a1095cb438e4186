// Where the guest asks the platform to sleep: the PM1a/PM1b control blocks of the ACPI FADT,
// found from the RSDP the firmware publishes [ACPI 6.5 "Root System Description Pointer",
// "Fixed ACPI Description Table", "PM1 Control Registers"]. Writing SLP_EN (bit 13) there
// enters the sleep state SLP_TYP (bits 12:10) names; from S3 the machine resumes through
// the firmware without agevisor, so agevisor logs the entry. Pure over a physical-memory
// reader, so host tests feed it tables.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

struct SleepControlPorts {
  uint16_t pm1a = 0;  // 0: none
  uint16_t pm1b = 0;

  constexpr bool covers(uint16_t port) const {
    return port != 0 &&
           (port == pm1a || port == pm1a + 1 || (pm1b != 0 && (port == pm1b || port == pm1b + 1)));
  }
};

// PM1x_CNT: SLP_EN and SLP_TYP.
constexpr bool is_sleep_entry(uint32_t value) { return (value & (1u << 13)) != 0; }
constexpr unsigned sleep_type(uint32_t value) { return (value >> 10) & 7; }

namespace acpi_detail {

template <typename Reader>
bool read_u64(Reader& r, uint64_t phys, size_t n, uint64_t* out) {
  uint8_t b[8] = {};
  if (n > 8 || !r.read(phys, b, n))
    return false;
  uint64_t v = 0;
  for (size_t i = n; i > 0; --i)
    v = v << 8 | b[i - 1];
  *out = v;
  return true;
}

template <typename Reader>
bool signature_is(Reader& r, uint64_t phys, const char* sig, size_t n) {
  char b[8] = {};
  if (n > 8 || !r.read(phys, b, n))
    return false;
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != sig[i])
      return false;
  }
  return true;
}

template <typename Reader>
bool checksum_ok(Reader& r, uint64_t phys, uint64_t length) {
  uint8_t sum = 0;
  for (uint64_t i = 0; i < length; ++i) {
    uint8_t b = 0;
    if (!r.read(phys + i, &b, 1))
      return false;
    sum = static_cast<uint8_t>(sum + b);
  }
  return sum == 0;
}

}  // namespace acpi_detail

// Reader: r.read(uint64_t phys, void* out, size_t n) -> bool. Returns no ports when
// anything is missing, malformed or fails its checksum (agevisor then just does not log
// sleep entries).
template <typename Reader>
SleepControlPorts find_sleep_control_ports(Reader& r, uint64_t rsdp) {
  using namespace acpi_detail;
  SleepControlPorts none;
  uint64_t revision = 0;
  if (rsdp == 0 || !signature_is(r, rsdp, "RSD PTR ", 8) || !checksum_ok(r, rsdp, 20) ||
      !read_u64(r, rsdp + 15, 1, &revision))
    return none;
  uint64_t root = 0;
  size_t entry_size = 4;
  if (revision >= 2 && read_u64(r, rsdp + 24, 8, &root) && root != 0) {
    entry_size = 8;  // the XSDT
  } else if (!read_u64(r, rsdp + 16, 4, &root) || root == 0) {
    return none;
  }
  uint64_t root_length = 0;
  if (!signature_is(r, root, entry_size == 8 ? "XSDT" : "RSDT", 4) ||
      !read_u64(r, root + 4, 4, &root_length) || root_length < 36 || root_length > 0x10000 ||
      !checksum_ok(r, root, root_length))
    return none;
  for (uint64_t at = root + 36; at + entry_size <= root + root_length; at += entry_size) {
    uint64_t table = 0;
    if (!read_u64(r, at, entry_size, &table) || !signature_is(r, table, "FACP", 4))
      continue;
    uint64_t length = 0;
    if (!read_u64(r, table + 4, 4, &length) || length < 76 || length > 0x1000 ||
        !checksum_ok(r, table, length))
      return none;
    SleepControlPorts ports;
    uint64_t a = 0;
    uint64_t b = 0;
    if (read_u64(r, table + 64, 4, &a))
      ports.pm1a = static_cast<uint16_t>(a <= 0xFFFF ? a : 0);
    if (read_u64(r, table + 68, 4, &b))
      ports.pm1b = static_cast<uint16_t>(b <= 0xFFFF ? b : 0);
    // ACPI 2.0+: the 64-bit generic addresses win when they name system I/O (space 1).
    uint64_t space = 0;
    uint64_t address = 0;
    if (length >= 184 && read_u64(r, table + 172, 1, &space) && space == 1 &&
        read_u64(r, table + 176, 8, &address) && address != 0 && address <= 0xFFFF)
      ports.pm1a = static_cast<uint16_t>(address);
    if (length >= 196 && read_u64(r, table + 184, 1, &space) && space == 1 &&
        read_u64(r, table + 188, 8, &address) && address != 0 && address <= 0xFFFF)
      ports.pm1b = static_cast<uint16_t>(address);
    return ports;
  }
  return none;
}

}  // namespace hv
