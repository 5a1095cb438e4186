// A 64-bit IDT gate descriptor. [SDM 3A "64-Bit Mode IDT"]
#pragma once

#include <cstdint>
#include <type_traits>

namespace arch {

struct __attribute__((packed)) InterruptGate64 {
  uint16_t offset_low = 0;
  uint16_t selector = 0;
  uint8_t ist = 0;        // bits 2:0; 0 = stay on the current stack
  uint8_t type_attr = 0;  // P, DPL, type (0xE = interrupt gate: IF cleared on entry)
  uint16_t offset_mid = 0;
  uint32_t offset_high = 0;
  uint32_t reserved = 0;

  static constexpr InterruptGate64 interrupt(uint64_t handler, uint16_t code_selector,
                                             unsigned ist_index) {
    InterruptGate64 gate;
    gate.offset_low = static_cast<uint16_t>(handler);
    gate.selector = code_selector;
    gate.ist = static_cast<uint8_t>(ist_index & 7);
    gate.type_attr = 0x8E;  // present, DPL 0, 64-bit interrupt gate
    gate.offset_mid = static_cast<uint16_t>(handler >> 16);
    gate.offset_high = static_cast<uint32_t>(handler >> 32);
    return gate;
  }

  constexpr uint64_t offset() const {
    return uint64_t{offset_low} | (uint64_t{offset_mid} << 16) | (uint64_t{offset_high} << 32);
  }
  constexpr bool present() const { return (type_attr & 0x80) != 0; }
};

static_assert(sizeof(InterruptGate64) == 16 && std::is_trivially_copyable_v<InterruptGate64>);

}  // namespace arch
