// The accesses an EPT violation reports, as a set: a read-modify-write reports a write and
// possibly a read, and any write counts as a write. Bits match both EPT bits 2:0 and exit
// qualification bits 2:0 [SDM 3C "Exit Qualification for EPT Violations"]; decoding the
// qualification (and ignoring bits 8-11 unless the capabilities make them valid) is hv/'s.
#pragma once

#include <cstdint>

#include "arch/ept_entry.h"

namespace mm {

class AccessSet {
 public:
  static constexpr uint8_t kRead = 1 << 0;
  static constexpr uint8_t kWrite = 1 << 1;
  static constexpr uint8_t kFetch = 1 << 2;
  static constexpr uint8_t kAll = kRead | kWrite | kFetch;

  constexpr AccessSet() = default;
  constexpr AccessSet(bool read, bool write, bool fetch)
      : bits_(static_cast<uint8_t>((read ? kRead : 0) | (write ? kWrite : 0) |
                                   (fetch ? kFetch : 0))) {}

  static constexpr AccessSet from_bits(uint8_t bits) {
    AccessSet s;
    s.bits_ = bits & kAll;
    return s;
  }

  constexpr uint8_t bits() const { return bits_; }
  constexpr bool read() const { return (bits_ & kRead) != 0; }
  constexpr bool write() const { return (bits_ & kWrite) != 0; }
  constexpr bool fetch() const { return (bits_ & kFetch) != 0; }
  constexpr bool empty() const { return bits_ == 0; }

  // The entry's R/W/X allow every access of the set (fetch -> X, write -> W, read -> R).
  constexpr bool allowed_by(arch::EptEntry e) const { return (bits_ & ~e.rwx()) == 0; }

  constexpr bool operator==(const AccessSet&) const = default;

 private:
  uint8_t bits_ = 0;
};

static_assert(AccessSet(true, true, false).allowed_by(arch::EptEntry(0b011)));
static_assert(!AccessSet(false, false, true).allowed_by(arch::EptEntry(0b011)));

}  // namespace mm
