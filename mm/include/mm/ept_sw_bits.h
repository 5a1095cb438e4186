// agevisor's software-available bits in EPT entries and the predicates built on them.
// [docs/ept-layout.md] has the same ruler and the state machine.
//
//   6 6 6 6 5 5 5 5 5 5 5 5
//   3 2 1 0 9 8 7 6 5 4 3 2  51..12  11 10  9  8  7..3  2 1 0
//  +-+-+-+-+-+-+-+-+-+-+-+-+--------+--+--+--+--+-----+-+-+-+
//  |h|-|h|h|T|h|h|X|U|R|W|P| address|- |h |h |h | hw  |X|W|R|
//  | | | | |K| | |s|s|s|H|W|        |  |UX|D |A |     | | | |
//  +-+-+-+-+-+-+-+-+-+-+-+-+--------+--+--+--+--+-----+-+-+-+
//  h   hardware bit of some optional feature (63 suppress-#VE, 61 SPP, 60 SSS, 58/57 HLAT,
//      10 user-execute, 9/8 dirty/accessed): never used for software
//  -   free (11, 62): kept zero, reserved for later parts
//  TK  59  tracked marker: with R/W/X = 000, the entry is access-tracked (rwx-stash aging)
//  Xs  56  saved X    | stashed by aging, put back by the fault resolver. R and X keep
//  Us  55  saved UX   | KVM's shift of 54 (bits 0/2 -> 54/56); UX (bit 10, only with
//  Rs  54  saved R    | mode-based execute) sits between them
//  WH  53  write withheld: W is clear only because tracking took it away (the seed's
//      "mmu-writable"); the fault resolver may put W back on a write
//  PW  52  policy-writable: the page may be written at all (the seed's "host-writable");
//      W = 1 and "write withheld" both require it
//
// W is never saved: in rwx-stash mode it comes back only on a write, which is how a write
// is noticed (W = 1 means dirty since the last aging pass).
#pragma once

#include <bit>
#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_entry.h"

namespace mm {

struct EptSwBits {
  static constexpr unsigned kPolicyWritableBit = 52;
  static constexpr unsigned kWriteWithheldBit = 53;
  static constexpr unsigned kSavedReadBit = 54;
  static constexpr unsigned kSavedUserExecuteBit = 55;
  static constexpr unsigned kSavedExecuteBit = 56;
  static constexpr unsigned kTrackedBit = 59;

  static constexpr uint64_t kPolicyWritable = arch::bit(kPolicyWritableBit);
  static constexpr uint64_t kWriteWithheld = arch::bit(kWriteWithheldBit);
  static constexpr uint64_t kSavedRead = arch::bit(kSavedReadBit);
  static constexpr uint64_t kSavedUserExecute = arch::bit(kSavedUserExecuteBit);
  static constexpr uint64_t kSavedExecute = arch::bit(kSavedExecuteBit);
  static constexpr uint64_t kTracked = arch::bit(kTrackedBit);

  static constexpr uint64_t kSavedMask = kSavedRead | kSavedUserExecute | kSavedExecute;
  static constexpr uint64_t kAll = kPolicyWritable | kWriteWithheld | kSavedMask | kTracked;
};

// No software bit is a bit any processor feature reads, whatever agevisor enables: not the
// A/D and user-execute bits 8-10, not suppress-#VE (63), SSS (60), SPP (61), the HLAT bits
// (57/58), nor an address bit at any MAXPHYADDR.
static_assert((EptSwBits::kAll & arch::EptEntry::kAllHardwareBits) == 0);
static_assert((EptSwBits::kAll & arch::bit_range(10, 8)) == 0);
static_assert((EptSwBits::kAll & arch::bit(63)) == 0);
static_assert((EptSwBits::kAll & (arch::bit(60) | arch::bit(61) | arch::bit(57) | arch::bit(58))) ==
              0);
static_assert(EptSwBits::kSavedRead == arch::bit(arch::EptEntry::kReadBit) << 54);
static_assert(EptSwBits::kSavedExecute == arch::bit(arch::EptEntry::kExecuteBit) << 54);
// The six bits are distinct.
static_assert(std::popcount(EptSwBits::kAll) == 6);

// The processor can use the entry: some of R/W/X is set. Entries agevisor writes never have
// user-execute without R/W/X (mm::check_entry), so bits 2:0 decide presence even with
// mode-based execute on.
constexpr bool is_hw_present(arch::EptEntry e) { return e.rwx() != 0; }

// Not present to the processor only because aging took R/W/X away. Needs the marker AND
// R/W/X = 000, so a never-mapped (all zero) or protected entry is never taken for one.
constexpr bool is_tracked(arch::EptEntry e) {
  return (e.raw() & (arch::EptEntry::kRwxMask | EptSwBits::kTracked)) == EptSwBits::kTracked;
}

// The guest may use the page: it is present, or a fault will make it present again.
constexpr bool is_mapped(arch::EptEntry e) { return is_hw_present(e) || is_tracked(e); }

constexpr bool is_policy_writable(arch::EptEntry e) {
  return (e.raw() & EptSwBits::kPolicyWritable) != 0;
}

constexpr bool is_write_withheld(arch::EptEntry e) {
  return (e.raw() & EptSwBits::kWriteWithheld) != 0;
}

// R/W/X as they will be once a tracked entry is restored (W never comes back this way).
constexpr uint64_t saved_rwx(arch::EptEntry e) {
  return (e.raw() >> EptSwBits::kSavedReadBit) & 0b101;
}

constexpr bool saved_user_execute(arch::EptEntry e) {
  return (e.raw() & EptSwBits::kSavedUserExecute) != 0;
}

static_assert(!is_tracked(arch::EptEntry(0)));
static_assert(!is_mapped(arch::EptEntry(0)));
static_assert(!is_tracked(arch::EptEntry(EptSwBits::kTracked | 0x1)));
static_assert(saved_rwx(arch::EptEntry(EptSwBits::kSavedRead | EptSwBits::kSavedExecute)) == 5);

}  // namespace mm
