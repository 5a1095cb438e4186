#include "hv/target/uart16550.h"

#include "arch/target/cpu.h"

namespace hv::target {
namespace {

using arch::target::inb;
using arch::target::outb;

// Register offsets from the base port.
constexpr uint16_t kData = 0;             // THR/RBR, or divisor low with DLAB
constexpr uint16_t kInterruptEnable = 1;  // or divisor high with DLAB
constexpr uint16_t kFifoControl = 2;
constexpr uint16_t kLineControl = 3;
constexpr uint16_t kModemControl = 4;
constexpr uint16_t kLineStatus = 5;
constexpr uint16_t kScratch = 7;

constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLcr8N1 = 0x03;
constexpr uint8_t kFcrEnableAndClear = 0x07;  // enable FIFOs, clear RX and TX
constexpr uint8_t kMcrDtrRtsOut2 = 0x0B;
constexpr uint8_t kMcrLoopback = 0x10;
constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrTransmitEmpty = 0x20;
constexpr uint16_t kDivisor115200 = 1;  // 1.8432 MHz / 16 / 115200

constexpr uint32_t kLoopbackSpinLimit = 10'000;

}  // namespace

bool Uart16550::probe() {
  alive_ = false;
  // Scratch register: absent ports read back 0xFF (floating bus), not what we wrote.
  for (uint8_t pattern : {uint8_t{0x5A}, uint8_t{0xA5}}) {
    outb(base_ + kScratch, pattern);
    if (inb(base_ + kScratch) != pattern) {
      return false;
    }
  }
  outb(base_ + kInterruptEnable, 0);  // polled: the firmware owns interrupts
  outb(base_ + kLineControl, kLcrDlab);
  outb(base_ + kData, static_cast<uint8_t>(kDivisor115200 & 0xFF));
  outb(base_ + kInterruptEnable, static_cast<uint8_t>(kDivisor115200 >> 8));
  outb(base_ + kLineControl, kLcr8N1);
  outb(base_ + kFifoControl, kFcrEnableAndClear);

  // Loopback: a byte sent must come back on the receive side, without reaching the line.
  outb(base_ + kModemControl, kMcrDtrRtsOut2 | kMcrLoopback);
  constexpr uint8_t kEcho = 0xAE;
  outb(base_ + kData, kEcho);
  bool echoed = false;
  for (uint32_t i = 0; i < kLoopbackSpinLimit; ++i) {
    if ((inb(base_ + kLineStatus) & kLsrDataReady) != 0) {
      echoed = inb(base_ + kData) == kEcho;
      break;
    }
    arch::target::pause();
  }
  outb(base_ + kModemControl, kMcrDtrRtsOut2);
  alive_ = echoed;
  return alive_;
}

bool Uart16550::wait_transmit_ready() {
  for (uint32_t i = 0; i < kTransmitSpinLimit; ++i) {
    if ((inb(base_ + kLineStatus) & kLsrTransmitEmpty) != 0) {
      return true;
    }
    arch::target::pause();
  }
  alive_ = false;  // stuck transmitter: never wait on it again
  return false;
}

void Uart16550::write(const char* bytes, size_t length) {
  for (size_t i = 0; i < length && alive_; ++i) {
    if (wait_transmit_ready()) {
      outb(base_ + kData, static_cast<uint8_t>(bytes[i]));
    }
  }
}

}  // namespace hv::target
