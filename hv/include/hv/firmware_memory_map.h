// From the firmware's memory map to mm::MemoryRange: which ranges are RAM (mapped, tracked),
// MMIO and reserved (mapped with their MTRR type, never tracked), and which belong to the
// hypervisor (left unmapped). Pure: boot/ copies the UEFI descriptors into FirmwareRange.
// [UEFI 2.10 "EFI_BOOT_SERVICES.GetMemoryMap()", "Memory Type Usage after ExitBootServices()"]
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/result.h"
#include "mm/memory_range.h"

namespace hv {

// EFI_MEMORY_TYPE values (UEFI specification).
enum class EfiMemoryType : uint32_t {
  kReserved = 0,
  kLoaderCode = 1,
  kLoaderData = 2,
  kBootServicesCode = 3,
  kBootServicesData = 4,
  kRuntimeServicesCode = 5,
  kRuntimeServicesData = 6,
  kConventional = 7,
  kUnusable = 8,
  kAcpiReclaim = 9,
  kAcpiNvs = 10,
  kMemoryMappedIo = 11,
  kMemoryMappedIoPortSpace = 12,
  kPalCode = 13,
  kPersistent = 14,
  kUnaccepted = 15,
};

struct FirmwareRange {
  uint64_t start = 0;  // physical, 4 KiB aligned
  uint64_t pages = 0;  // 4 KiB pages
  uint32_t type = 0;   // EfiMemoryType (unknown values are treated as reserved)
};

// Memory the OS may use as RAM after ExitBootServices, or firmware RAM that stays RAM
// (runtime services, ACPI): access tracking applies. Everything the OS must not treat as
// RAM keeps its contents but is never tracked.
mm::MemoryKind memory_kind_of(uint32_t efi_type);

// Converts `count` firmware ranges (any order) into sorted, non-overlapping, merged
// mm::MemoryRange entries in `out`, with every range in `hypervisor` (the hypervisor's own
// memory) carved out as MemoryKind::kHypervisor. Returns the number written, or
// Error::kOutOfRange if `capacity` is too small, kInvalidArgument if firmware ranges
// overlap.
arch::Result<size_t> build_memory_ranges(FirmwareRange* firmware, size_t count,
                                         const FirmwareRange* hypervisor, size_t hypervisor_count,
                                         mm::MemoryRange* out, size_t capacity);

}  // namespace hv
