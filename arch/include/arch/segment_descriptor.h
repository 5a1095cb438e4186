// Segment descriptors as they sit in a GDT, and their conversion to the access-rights format
// of the VMCS. [SDM 3A "Segment Descriptors", "Segment Descriptor Types",
// "Segment Descriptor Tables" and 3C "Guest Register State"]
#pragma once

#include <cstdint>
#include <type_traits>

#include "arch/bits.h"

namespace arch {

// An 8-byte code/data/system descriptor. 64-bit system descriptors (TSS, LDT) take two
// slots; the second slot holds base bits 63:32.
class SegmentDescriptor {
 public:
  constexpr SegmentDescriptor() = default;
  constexpr explicit SegmentDescriptor(uint64_t raw) : raw_(raw) {}
  constexpr uint64_t raw() const { return raw_; }

  constexpr uint32_t base_low32() const {
    return static_cast<uint32_t>(extract(raw_, 39, 16) | (extract(raw_, 63, 56) << 24));
  }
  // The 20-bit limit field, not scaled by G.
  constexpr uint32_t limit_field() const {
    return static_cast<uint32_t>(extract(raw_, 15, 0) | (extract(raw_, 51, 48) << 16));
  }
  // The byte limit the processor enforces: scaled by 4 KiB when G = 1.
  constexpr uint32_t byte_limit() const {
    return granularity() ? (limit_field() << 12) | 0xFFF : limit_field();
  }
  constexpr unsigned type() const { return static_cast<unsigned>(extract(raw_, 43, 40)); }
  constexpr bool s() const { return test_bit(raw_, 44); }  // 1: code/data, 0: system
  constexpr unsigned dpl() const { return static_cast<unsigned>(extract(raw_, 46, 45)); }
  constexpr bool present() const { return test_bit(raw_, 47); }
  constexpr bool granularity() const { return test_bit(raw_, 55); }

  // VMCS access-rights format: descriptor bits 47:40 -> 7:0 and 55:52 -> 15:12.
  constexpr uint32_t vmcs_access_rights() const {
    return static_cast<uint32_t>(extract(raw_, 47, 40) | (extract(raw_, 55, 52) << 12));
  }

  // Builders for the host GDT.
  static constexpr SegmentDescriptor code64(unsigned dpl) {
    // type 0xB (execute/read, accessed), S, P, L; limit and base ignored in 64-bit mode.
    return SegmentDescriptor(bit(40) | bit(41) | bit(43) | bit(44) | (uint64_t{dpl} << 45) |
                             bit(47) | bit(53) | 0xFFFF | bit_range(51, 48) | bit(55));
  }
  static constexpr SegmentDescriptor data(unsigned dpl) {
    // type 0x3 (read/write, accessed), S, P, D/B, G, flat 4 GiB limit.
    return SegmentDescriptor(bit(40) | bit(41) | bit(44) | (uint64_t{dpl} << 45) | bit(47) |
                             bit(54) | bit(55) | 0xFFFF | bit_range(51, 48));
  }
  // Low slot of a 64-bit TSS descriptor (type 9, available; the CPU marks it busy on LTR).
  static constexpr SegmentDescriptor tss64_low(uint64_t base, uint32_t limit) {
    return SegmentDescriptor((limit & 0xFFFFu) | ((base & 0xFF'FFFF) << 16) | (uint64_t{9} << 40) |
                             bit(47) | (uint64_t{(limit >> 16) & 0xF} << 48) |
                             ((base >> 24 & 0xFF) << 56));
  }
  static constexpr SegmentDescriptor tss64_high(uint64_t base) {
    return SegmentDescriptor(base >> 32);
  }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(SegmentDescriptor) == 8 && std::is_trivially_copyable_v<SegmentDescriptor>);
// The flat 64-bit code descriptor UEFI firmware uses, 0x00AF9B000000FFFF.
static_assert(SegmentDescriptor::code64(0).raw() == 0x00AF'9B00'0000'FFFF);
static_assert(SegmentDescriptor::data(0).raw() == 0x00CF'9300'0000'FFFF);
static_assert(SegmentDescriptor(0x00AF'9B00'0000'FFFF).vmcs_access_rights() == 0xA09B);

// Segment selectors [SDM 3A "Segment Selectors"].
constexpr unsigned selector_index(uint16_t selector) { return selector >> 3; }
constexpr bool selector_in_ldt(uint16_t selector) { return (selector & 4u) != 0; }

}  // namespace arch
