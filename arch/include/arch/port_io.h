// The seam for legacy I/O ports (the 16550 UART, port 0xE9): the target's IN/OUT
// instructions (arch::target::TargetPortIo), or a stateful fake in host tests.
#pragma once

#include <concepts>
#include <cstdint>

namespace arch {

template <typename T>
concept PortIo = requires(T& io, uint16_t port, uint8_t value) {
  { io.inb(port) } -> std::same_as<uint8_t>;
  { io.outb(port, value) } -> std::same_as<void>;
  { io.pause() } -> std::same_as<void>;  // between polls: PAUSE on target
};

}  // namespace arch
