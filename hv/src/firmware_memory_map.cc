#include "hv/firmware_memory_map.h"

#include "arch/bits.h"

namespace hv {
namespace {

using mm::MemoryKind;

constexpr uint64_t end_of(const FirmwareRange& r) { return r.start + r.pages * arch::kPageSize4K; }

void sort_by_start(FirmwareRange* ranges, size_t count) {
  for (size_t i = 1; i < count; ++i) {
    const FirmwareRange key = ranges[i];
    size_t j = i;
    while (j > 0 && ranges[j - 1].start > key.start) {
      ranges[j] = ranges[j - 1];
      --j;
    }
    ranges[j] = key;
  }
}

class Output {
 public:
  Output(mm::MemoryRange* out, size_t capacity) : out_(out), capacity_(capacity) {}

  // Appends [start, end) of `kind`, merging with the previous range when they touch.
  bool add(uint64_t start, uint64_t end, MemoryKind kind) {
    if (end <= start)
      return true;
    if (count_ > 0) {
      mm::MemoryRange& last = out_[count_ - 1];
      if (last.kind == kind && last.end().value() == start) {
        last.pages += (end - start) / arch::kPageSize4K;
        return true;
      }
    }
    if (count_ == capacity_)
      return false;
    out_[count_++] = {arch::Gpa(start), (end - start) / arch::kPageSize4K, kind};
    return true;
  }
  size_t count() const { return count_; }

 private:
  mm::MemoryRange* out_;
  size_t capacity_;
  size_t count_ = 0;
};

// The hypervisor range that starts first among those overlapping [start, end), or null.
const FirmwareRange* first_overlap(const FirmwareRange* hv, size_t n, uint64_t start,
                                   uint64_t end) {
  const FirmwareRange* best = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (hv[i].start < end && end_of(hv[i]) > start &&
        (best == nullptr || hv[i].start < best->start)) {
      best = &hv[i];
    }
  }
  return best;
}

}  // namespace

MemoryKind memory_kind_of(uint32_t efi_type) {
  switch (static_cast<EfiMemoryType>(efi_type)) {
    case EfiMemoryType::kLoaderCode:
    case EfiMemoryType::kLoaderData:
    case EfiMemoryType::kBootServicesCode:
    case EfiMemoryType::kBootServicesData:
    case EfiMemoryType::kRuntimeServicesCode:
    case EfiMemoryType::kRuntimeServicesData:
    case EfiMemoryType::kConventional:
    case EfiMemoryType::kAcpiReclaim:
    case EfiMemoryType::kAcpiNvs:
    case EfiMemoryType::kPersistent:
      return MemoryKind::kRam;
    case EfiMemoryType::kMemoryMappedIo:
    case EfiMemoryType::kMemoryMappedIoPortSpace:
      return MemoryKind::kMmio;
    default:
      // Reserved, unusable, PAL code, unaccepted and unknown types: kept mapped so firmware
      // and devices behave as before, but never tracked.
      return MemoryKind::kReserved;
  }
}

arch::Result<size_t> build_memory_ranges(FirmwareRange* firmware, size_t count,
                                         const FirmwareRange* hypervisor, size_t hypervisor_count,
                                         mm::MemoryRange* out, size_t capacity) {
  sort_by_start(firmware, count);
  for (size_t i = 1; i < count; ++i) {
    if (firmware[i].start < end_of(firmware[i - 1]))
      return arch::Error::kInvalidArgument;
  }
  Output output(out, capacity);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t end = end_of(firmware[i]);
    const MemoryKind kind = memory_kind_of(firmware[i].type);
    uint64_t cursor = firmware[i].start;
    while (cursor < end) {
      const FirmwareRange* h = first_overlap(hypervisor, hypervisor_count, cursor, end);
      if (h == nullptr) {
        if (!output.add(cursor, end, kind))
          return arch::Error::kOutOfRange;
        break;
      }
      const uint64_t h_start = h->start > cursor ? h->start : cursor;
      const uint64_t h_end = end_of(*h) < end ? end_of(*h) : end;
      if (!output.add(cursor, h_start, kind) ||
          !output.add(h_start, h_end, MemoryKind::kHypervisor)) {
        return arch::Error::kOutOfRange;
      }
      cursor = h_end;
    }
  }
  return output.count();
}

}  // namespace hv
