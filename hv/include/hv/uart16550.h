// A 16550-compatible UART (COM1 at 0x3F8 on PCs), polled, transmit only.
//
// The port may be absent (many servers route COM1 to a BMC, laptops have none): an absent
// port reads as 0xFF, whose "transmitter empty" bit is set, and a broken one may never
// drain. So probe() checks the scratch register and a loopback round-trip once, and every
// transmit wait has a fixed iteration cap after which the port is marked dead for good:
// logging never hangs the machine. [PC16550D datasheet, "Registers"]
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/port_io.h"

namespace hv {

template <arch::PortIo Io>
class Uart16550 {
 public:
  static constexpr uint16_t kCom1 = 0x3F8;
  // ~100 ms of port reads on hardware; thousands of character times in an emulator.
  static constexpr uint32_t kTransmitSpinLimit = 100'000;
  static constexpr uint32_t kLoopbackSpinLimit = 10'000;

  // Register offsets from the base port, and the bits used.
  static constexpr uint16_t kData = 0;             // THR/RBR; divisor low with DLAB
  static constexpr uint16_t kInterruptEnable = 1;  // divisor high with DLAB
  static constexpr uint16_t kFifoControl = 2;
  static constexpr uint16_t kLineControl = 3;
  static constexpr uint16_t kModemControl = 4;
  static constexpr uint16_t kLineStatus = 5;
  static constexpr uint16_t kScratch = 7;
  static constexpr uint8_t kLcrDlab = 0x80;
  static constexpr uint8_t kLcr8N1 = 0x03;
  static constexpr uint8_t kFcrEnableAndClear = 0x07;
  static constexpr uint8_t kMcrDtrRtsOut2 = 0x0B;
  static constexpr uint8_t kMcrLoopback = 0x10;
  static constexpr uint8_t kLsrDataReady = 0x01;
  static constexpr uint8_t kLsrTransmitEmpty = 0x20;
  static constexpr uint16_t kDivisor115200 = 1;  // 1.8432 MHz / 16 / 115200

  constexpr Uart16550(Io io, uint16_t base) : io_(io), base_(base) {}

  // Programs 115200 8N1 with FIFOs if the probe succeeds; false (and dead) otherwise.
  bool probe() {
    alive_ = false;
    for (uint8_t pattern : {uint8_t{0x5A}, uint8_t{0xA5}}) {
      io_.outb(reg(kScratch), pattern);
      if (io_.inb(reg(kScratch)) != pattern) {
        return false;  // nothing there (floating bus reads 0xFF)
      }
    }
    io_.outb(reg(kInterruptEnable), 0);  // polled: the firmware owns interrupts
    io_.outb(reg(kLineControl), kLcrDlab);
    io_.outb(reg(kData), static_cast<uint8_t>(kDivisor115200 & 0xFF));
    io_.outb(reg(kInterruptEnable), static_cast<uint8_t>(kDivisor115200 >> 8));
    io_.outb(reg(kLineControl), kLcr8N1);
    io_.outb(reg(kFifoControl), kFcrEnableAndClear);
    alive_ = loopback_echoes();
    return alive_;
  }

  bool alive() const { return alive_; }

  // Writes the bytes as they are. Drops them once the port is dead.
  void write(const char* bytes, size_t length) {
    for (size_t i = 0; i < length && alive_; ++i) {
      if (wait_transmit_ready()) {
        io_.outb(reg(kData), static_cast<uint8_t>(bytes[i]));
      }
    }
  }

  Io& io() { return io_; }

 private:
  uint16_t reg(uint16_t offset) const { return static_cast<uint16_t>(base_ + offset); }

  // In loopback mode a byte sent comes back on the receive side without reaching the line.
  bool loopback_echoes() {
    constexpr uint8_t kEcho = 0xAE;
    io_.outb(reg(kModemControl), kMcrDtrRtsOut2 | kMcrLoopback);
    io_.outb(reg(kData), kEcho);
    bool echoed = false;
    for (uint32_t i = 0; i < kLoopbackSpinLimit; ++i) {
      if ((io_.inb(reg(kLineStatus)) & kLsrDataReady) != 0) {
        echoed = io_.inb(reg(kData)) == kEcho;
        break;
      }
      io_.pause();
    }
    io_.outb(reg(kModemControl), kMcrDtrRtsOut2);
    return echoed;
  }

  bool wait_transmit_ready() {
    for (uint32_t i = 0; i < kTransmitSpinLimit; ++i) {
      if ((io_.inb(reg(kLineStatus)) & kLsrTransmitEmpty) != 0) {
        return true;
      }
      io_.pause();
    }
    alive_ = false;  // a stuck transmitter: never wait on it again
    return false;
  }

  Io io_;
  uint16_t base_;
  bool alive_ = false;
};

}  // namespace hv
