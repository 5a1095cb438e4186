// The interruption-information format shared by the IDT-vectoring information, the VM-exit
// interruption information and the VM-entry interruption information fields.
// [SDM 3C "Information for VM Exits Due to Vectored Events", "Information for VM Exits That
// Occur During Event Delivery", "VM-Entry Controls for Event Injection"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

enum class InterruptionType : uint8_t {
  kExternalInterrupt = 0,
  kNmi = 2,
  kHardwareException = 3,
  kSoftwareInterrupt = 4,            // INT n
  kPrivilegedSoftwareException = 5,  // INT1 (ICEBP)
  kSoftwareException = 6,            // INT3, INTO
  kOtherEvent = 7,                   // e.g. MTF injection
};

class InterruptionInfo {
 public:
  constexpr InterruptionInfo() = default;

  static constexpr InterruptionInfo from_raw(uint32_t raw) { return InterruptionInfo(raw); }

  // A valid event; bit 12 stays clear (it is reserved in the VM-entry field).
  static constexpr InterruptionInfo make(InterruptionType type, uint8_t vector,
                                         bool error_code_valid) {
    uint64_t raw = vector;
    raw = insert(raw, 10, 8, static_cast<uint64_t>(type));
    raw = set_bit(raw, 11, error_code_valid);
    raw = set_bit(raw, 31, true);
    return InterruptionInfo(static_cast<uint32_t>(raw));
  }

  constexpr uint32_t raw() const { return raw_; }
  constexpr bool valid() const { return test_bit(raw_, 31); }
  constexpr uint8_t vector() const { return static_cast<uint8_t>(extract(raw_, 7, 0)); }
  constexpr InterruptionType type() const {
    return static_cast<InterruptionType>(extract(raw_, 10, 8));
  }
  constexpr bool error_code_valid() const { return test_bit(raw_, 11); }
  // Bit 12 of the VM-exit interruption information only; undefined in IDT-vectoring info.
  constexpr bool nmi_unblocking_due_to_iret() const { return test_bit(raw_, 12); }

  // Software interrupts and exceptions are re-executed from an instruction: injecting them
  // needs the VM-entry instruction length.
  constexpr bool needs_instruction_length() const {
    InterruptionType t = type();
    return t == InterruptionType::kSoftwareInterrupt ||
           t == InterruptionType::kPrivilegedSoftwareException ||
           t == InterruptionType::kSoftwareException;
  }

 private:
  constexpr explicit InterruptionInfo(uint32_t raw) : raw_(raw) {}
  uint32_t raw_ = 0;
};

static_assert(sizeof(InterruptionInfo) == 4);
static_assert(InterruptionInfo::make(InterruptionType::kHardwareException, 14, true).raw() ==
              0x80000B0E);

}  // namespace arch
