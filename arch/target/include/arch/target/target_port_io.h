// arch::PortIo with the real IN/OUT instructions.
#pragma once

#include <cstdint>

#include "arch/port_io.h"
#include "arch/target/cpu.h"

namespace arch::target {

class TargetPortIo {
 public:
  uint8_t inb(uint16_t port) { return arch::target::inb(port); }
  void outb(uint16_t port, uint8_t value) { arch::target::outb(port, value); }
  void pause() { arch::target::pause(); }
};

static_assert(PortIo<TargetPortIo>);

}  // namespace arch::target
