// A 16550-compatible UART (COM1 at 0x3F8 on PCs), polled, transmit only.
//
// The port may be absent (most servers route COM1 to a BMC, laptops have none), and an
// absent port reads as 0xFF, whose "transmitter empty" bit is set, or a broken one never
// drains. So: probe() checks the scratch register and a loopback round-trip once, and every
// transmit wait has a fixed iteration cap after which the port is marked dead for good.
// [16550D datasheet: registers; edk2 SerialPortLib for the same probe]
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::target {

class Uart16550 {
 public:
  constexpr explicit Uart16550(uint16_t base) : base_(base) {}

  // Programs 115200 8N1 with FIFOs if the probe succeeds; false (and dead) otherwise.
  bool probe();
  bool alive() const { return alive_; }

  // Writes the bytes (no translation). Drops them once the port is dead.
  void write(const char* bytes, size_t length);

  static constexpr uint16_t kCom1 = 0x3F8;
  // ~100 ms of port reads on real hardware; thousands of character times in an emulator.
  static constexpr uint32_t kTransmitSpinLimit = 100'000;

 private:
  bool wait_transmit_ready();

  uint16_t base_;
  bool alive_ = false;
};

}  // namespace hv::target
