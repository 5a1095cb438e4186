// One EPT paging-structure entry at any level, as the hardware reads it. Only the layout
// lives here; which values are legal is mm::check_entry's business.
// [SDM 3C "EPT Translation Mechanism"], [SDM 3C "Accessed and Dirty Flags for EPT"]
//
//  6 6 6 6 5 5 5
//  3 2 1 0 9 8 7 56..52  51..12 11 10 9 8 7 6 5..3 2 1 0
// +-+-+-+-+-+-+-+-------+-------+--+--+-+-+-+-+----+-+-+-+
// |S|i|S|S|i|P|V|ignored|address|ig|UX|D|A|L|I| MT |X|W|R|
// |V|g|P|S|g|W|G|       |N-1:12 |  |  | | |P|P|    | | | |
// |E| |P|S| |A|P|       |       |  |  | | |S|A|    | | | |
// +-+-+-+-+-+-+-+-------+-------+--+--+-+-+-+-+----+-+-+-+
//  address: a 2 MiB leaf uses N-1:21 (20:12 reserved), a 1 GiB leaf N-1:30 (29:12 reserved);
//  bits 51:N are reserved (N = MAXPHYADDR). "ig"/"i": ignored by the processor.
//  SVE  suppress #VE (leaf; only with "EPT-violation #VE")      63
//  SPP  sub-page write permissions (PTE; only with SPP)          61
//  SSS  supervisor shadow stack (leaf; only with that control)   60
//  PWA/VGP paging-write access / verify guest paging (leaf)   58/57
//  UX   user-mode execute (only with mode-based execute)        10
//  D/A  dirty (leaf) / accessed (only with EPTP A/D enable)     9/8
//  LPS  large page: PDPTE 1 GiB, PDE 2 MiB; reserved in PML4E     7
//  IPAT ignore PAT, MT memory type (leaf only)               6, 5:3
// In non-leaf entries bits 6:3 (PML4E: 7:3) are reserved and must be zero.
#pragma once

#include <cstdint>
#include <type_traits>

#include "arch/address.h"
#include "arch/bits.h"
#include "arch/memory_type.h"

namespace arch {

// The level of a table in a 4-level EPT walk, numbered as the SDM's guest-physical address
// split: a level-1 entry (PTE) maps 4 KiB, level 2 (PDE) 2 MiB, level 3 (PDPTE) 1 GiB.
enum class EptLevel : uint8_t {
  kPte = 1,
  kPde = 2,
  kPdpte = 3,
  kPml4e = 4,
};

// Bytes of guest-physical space one entry at `level` covers.
constexpr uint64_t ept_level_span(EptLevel level) {
  return uint64_t{1} << (12 + 9 * (static_cast<unsigned>(level) - 1));
}

class EptEntry {
 public:
  static constexpr unsigned kReadBit = 0;
  static constexpr unsigned kWriteBit = 1;
  static constexpr unsigned kExecuteBit = 2;
  static constexpr unsigned kMemoryTypeHi = 5;
  static constexpr unsigned kMemoryTypeLo = 3;
  static constexpr unsigned kIgnorePatBit = 6;
  static constexpr unsigned kLargePageBit = 7;
  static constexpr unsigned kAccessedBit = 8;
  static constexpr unsigned kDirtyBit = 9;
  static constexpr unsigned kUserExecuteBit = 10;
  static constexpr unsigned kAddressHi = 51;
  static constexpr unsigned kAddressLo = 12;
  static constexpr unsigned kVerifyGuestPagingBit = 57;
  static constexpr unsigned kPagingWriteAccessBit = 58;
  static constexpr unsigned kSupervisorShadowStackBit = 60;
  static constexpr unsigned kSubPageWriteBit = 61;
  static constexpr unsigned kSuppressVeBit = 63;

  static constexpr uint64_t kRwxMask = bit_range(2, 0);
  static constexpr uint64_t kAddressMask = bit_range(kAddressHi, kAddressLo);

  // Every bit that some processor feature gives a meaning to, at any level, with every
  // optional feature switched on. Software-available bits must stay outside this mask.
  static constexpr uint64_t kAllHardwareBits =
      bit_range(kUserExecuteBit, 0) | kAddressMask | bit(kVerifyGuestPagingBit) |
      bit(kPagingWriteAccessBit) | bit(kSupervisorShadowStackBit) | bit(kSubPageWriteBit) |
      bit(kSuppressVeBit);

  constexpr EptEntry() = default;
  constexpr explicit EptEntry(uint64_t raw) : raw_(raw) {}

  constexpr uint64_t raw() const { return raw_; }

  constexpr bool readable() const { return test_bit(raw_, kReadBit); }
  constexpr bool writable() const { return test_bit(raw_, kWriteBit); }
  constexpr bool executable() const { return test_bit(raw_, kExecuteBit); }
  // Bits 2:0 as one value (bit 0 = R, 1 = W, 2 = X), as the misconfiguration rules read them.
  constexpr uint64_t rwx() const { return raw_ & kRwxMask; }
  constexpr uint64_t memory_type() const { return extract(raw_, kMemoryTypeHi, kMemoryTypeLo); }
  constexpr bool ignore_pat() const { return test_bit(raw_, kIgnorePatBit); }
  constexpr bool large_page() const { return test_bit(raw_, kLargePageBit); }
  constexpr bool accessed() const { return test_bit(raw_, kAccessedBit); }
  constexpr bool dirty() const { return test_bit(raw_, kDirtyBit); }
  constexpr bool user_execute() const { return test_bit(raw_, kUserExecuteBit); }
  constexpr bool suppress_ve() const { return test_bit(raw_, kSuppressVeBit); }
  constexpr bool supervisor_shadow_stack() const {
    return test_bit(raw_, kSupervisorShadowStackBit);
  }
  constexpr bool sub_page_write() const { return test_bit(raw_, kSubPageWriteBit); }
  // Bits 51:12. For a large leaf the low part of this field is reserved (must be zero).
  constexpr Hpa address() const { return Hpa(raw_ & kAddressMask); }

  constexpr EptEntry& set_readable(bool on) { return set(kReadBit, on); }
  constexpr EptEntry& set_writable(bool on) { return set(kWriteBit, on); }
  constexpr EptEntry& set_executable(bool on) { return set(kExecuteBit, on); }
  constexpr EptEntry& set_rwx(uint64_t rwx) {
    raw_ = insert(raw_, 2, 0, rwx);
    return *this;
  }
  // Leaf entries only; 2, 3 and 7 are reserved [SDM 3C "EPT and Memory Typing"].
  constexpr EptEntry& set_memory_type(MemoryType type) {
    return set_raw_memory_type(static_cast<uint64_t>(type));
  }
  // Any 3-bit value, reserved ones included: tests build misconfigured entries with it.
  constexpr EptEntry& set_raw_memory_type(uint64_t type) {
    raw_ = insert(raw_, kMemoryTypeHi, kMemoryTypeLo, type);
    return *this;
  }
  constexpr EptEntry& set_ignore_pat(bool on) { return set(kIgnorePatBit, on); }
  constexpr EptEntry& set_large_page(bool on) { return set(kLargePageBit, on); }
  constexpr EptEntry& set_accessed(bool on) { return set(kAccessedBit, on); }
  constexpr EptEntry& set_dirty(bool on) { return set(kDirtyBit, on); }
  constexpr EptEntry& set_user_execute(bool on) { return set(kUserExecuteBit, on); }
  constexpr EptEntry& set_suppress_ve(bool on) { return set(kSuppressVeBit, on); }
  constexpr EptEntry& set_supervisor_shadow_stack(bool on) {
    return set(kSupervisorShadowStackBit, on);
  }
  constexpr EptEntry& set_sub_page_write(bool on) { return set(kSubPageWriteBit, on); }
  constexpr EptEntry& set_address(Hpa address) {
    raw_ = (raw_ & ~kAddressMask) | (address.value() & kAddressMask);
    return *this;
  }

  // Whether the entry maps memory itself rather than referencing the next table.
  constexpr bool is_leaf(EptLevel level) const {
    switch (level) {
      case EptLevel::kPte:
        return true;
      case EptLevel::kPde:
      case EptLevel::kPdpte:
        return large_page();
      case EptLevel::kPml4e:
        return false;
    }
    return false;
  }

  constexpr bool operator==(const EptEntry&) const = default;

 private:
  constexpr EptEntry& set(unsigned n, bool on) {
    raw_ = set_bit(raw_, n, on);
    return *this;
  }

  uint64_t raw_ = 0;
};

static_assert(sizeof(EptEntry) == sizeof(uint64_t));
static_assert(std::is_trivially_copyable_v<EptEntry>);
static_assert(ept_level_span(EptLevel::kPde) == kPageSize2M);
static_assert(ept_level_span(EptLevel::kPdpte) == kPageSize1G);
static_assert(EptEntry().set_rwx(7).set_memory_type(MemoryType::kWriteBack).raw() == 0x37);
static_assert(EptEntry::kAllHardwareBits == 0xB60F'FFFF'FFFF'F7FF);

}  // namespace arch
