// The machine's physical memory map as mm/ sees it. boot/ converts the UEFI memory map to
// this (sorted, non-overlapping, 4 KiB granular); the identity-map builder and the pool
// sizing read it.
#pragma once

#include <cstdint>

#include "arch/address.h"
#include "arch/bits.h"

namespace mm {

enum class MemoryKind : uint8_t {
  // Memory the guest owns and agevisor tracks (conventional memory, boot-services and loader
  // code/data: all reclaimable by the OS).
  kRam,
  // Device memory: EfiMemoryMappedIO(PortSpace), PCI windows. Mapped, never tracked.
  kMmio,
  // Firmware-owned or otherwise not general-purpose RAM: ACPI tables and NVS, runtime
  // services, persistent, unusable. Mapped for the guest, never tracked.
  kReserved,
  // agevisor's own image, stacks, VMCS pages and page pool: never mapped for the guest.
  kHypervisor,
};

constexpr const char* memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kRam:
      return "ram";
    case MemoryKind::kMmio:
      return "mmio";
    case MemoryKind::kReserved:
      return "reserved";
    case MemoryKind::kHypervisor:
      return "hypervisor";
  }
  return "unknown";
}

struct MemoryRange {
  arch::Gpa start;
  uint64_t pages = 0;  // 4 KiB pages
  MemoryKind kind = MemoryKind::kReserved;

  constexpr uint64_t bytes() const { return pages * arch::kPageSize4K; }
  constexpr arch::Gpa end() const { return start.offset(bytes()); }  // exclusive
};

}  // namespace mm
