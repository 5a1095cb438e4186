// Exit qualification of an I/O instruction. [SDM 3C "Exit Qualification for I/O
// Instructions"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

struct IoQualification {
  uint8_t size = 1;             // bytes: 1, 2 or 4 (bits 2:0 hold size - 1)
  bool in = false;              // bit 3: IN/INS (false: OUT/OUTS)
  bool string = false;          // bit 4
  bool rep = false;             // bit 5
  bool immediate_port = false;  // bit 6 (false: port in DX)
  uint16_t port = 0;            // bits 31:16

  static constexpr IoQualification from_raw(uint64_t raw) {
    IoQualification q;
    q.size = static_cast<uint8_t>(extract(raw, 2, 0) + 1);
    q.in = test_bit(raw, 3);
    q.string = test_bit(raw, 4);
    q.rep = test_bit(raw, 5);
    q.immediate_port = test_bit(raw, 6);
    q.port = static_cast<uint16_t>(extract(raw, 31, 16));
    return q;
  }
};

}  // namespace arch
