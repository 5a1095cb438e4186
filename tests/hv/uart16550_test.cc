#include "hv/uart16550.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string>

namespace {

// A 16550 at COM1 as far as the driver can see it: registers, loopback, a transmitter that
// can be stuck, or no device at all (the bus then reads 0xFF).
struct FakeUart {
  bool present = true;
  bool loopback_wired = true;
  bool transmitter_stuck = false;

  uint8_t scratch = 0, lcr = 0, mcr = 0, ier = 0, fcr = 0, dll = 0, dlm = 0;
  std::deque<uint8_t> received;
  std::string line;  // bytes that left on the wire
  uint64_t status_reads = 0;
  uint64_t pauses = 0;

  static constexpr uint16_t kBase = 0x3F8;

  uint8_t inb(uint16_t port) {
    if (!present) {
      return 0xFF;
    }
    bool dlab = (lcr & 0x80) != 0;
    switch (port - kBase) {
      case 0: {
        if (dlab)
          return dll;
        uint8_t byte = received.empty() ? 0 : received.front();
        if (!received.empty())
          received.pop_front();
        return byte;
      }
      case 1:
        return dlab ? dlm : ier;
      case 3:
        return lcr;
      case 4:
        return mcr;
      case 5:
        ++status_reads;
        return static_cast<uint8_t>((transmitter_stuck ? 0 : 0x60) | (received.empty() ? 0 : 1));
      case 7:
        return scratch;
      default:
        return 0;
    }
  }

  void outb(uint16_t port, uint8_t value) {
    if (!present) {
      return;
    }
    bool dlab = (lcr & 0x80) != 0;
    switch (port - kBase) {
      case 0:
        if (dlab) {
          dll = value;
        } else if ((mcr & 0x10) != 0) {
          if (loopback_wired)
            received.push_back(value);
        } else {
          line.push_back(static_cast<char>(value));
        }
        break;
      case 1:
        (dlab ? dlm : ier) = value;
        break;
      case 2:
        fcr = value;
        break;
      case 3:
        lcr = value;
        break;
      case 4:
        mcr = value;
        break;
      case 7:
        scratch = value;
        break;
      default:
        break;
    }
  }

  void pause() { ++pauses; }
};

static_assert(arch::PortIo<FakeUart>);

using Uart = hv::Uart16550<FakeUart>;

Uart make(FakeUart fake) { return Uart(fake, Uart::kCom1); }

TEST(Uart16550, ProbeFindsUartAndProgramsIt115200With8N1) {
  Uart uart = make({});
  EXPECT_TRUE(uart.probe());
  EXPECT_TRUE(uart.alive());
  EXPECT_EQ(uart.io().lcr, 0x03);  // DLAB off again, 8 data bits, no parity, 1 stop bit
  EXPECT_EQ(uart.io().dll, 1);
  EXPECT_EQ(uart.io().dlm, 0);
  EXPECT_EQ(uart.io().mcr, 0x0B);  // loopback off after the probe
  EXPECT_EQ(uart.io().ier, 0);     // polled, no interrupts
  EXPECT_TRUE(uart.io().line.empty()) << "the loopback byte must not reach the line";
}

TEST(Uart16550, ProbeRejectsAbsentPortAndWritesThenCostNothing) {
  FakeUart absent;
  absent.present = false;
  Uart uart = make(absent);
  EXPECT_FALSE(uart.probe());
  uart.write("hello", 5);
  EXPECT_EQ(uart.io().status_reads, 0u);
  EXPECT_EQ(uart.io().pauses, 0u);
}

TEST(Uart16550, ProbeRejectsPortWhoseLoopbackDoesNotEcho) {
  FakeUart broken;
  broken.loopback_wired = false;
  Uart uart = make(broken);
  EXPECT_FALSE(uart.probe());
  EXPECT_FALSE(uart.alive());
  EXPECT_EQ(uart.io().mcr, 0x0B) << "loopback must be switched off again";
  EXPECT_LE(uart.io().status_reads, uint64_t{Uart::kLoopbackSpinLimit});
}

TEST(Uart16550, WriteSendsBytesInOrder) {
  Uart uart = make({});
  ASSERT_TRUE(uart.probe());
  uart.write("EPT A/D: no\r\n", 13);
  EXPECT_EQ(uart.io().line, "EPT A/D: no\r\n");
}

TEST(Uart16550, StuckTransmitterMarksPortDeadAfterOneBoundedWait) {
  Uart uart = make({});
  ASSERT_TRUE(uart.probe());
  uart.io().transmitter_stuck = true;
  uint64_t before = uart.io().status_reads;
  uart.write("abc", 3);
  EXPECT_FALSE(uart.alive());
  EXPECT_EQ(uart.io().status_reads - before, uint64_t{Uart::kTransmitSpinLimit})
      << "one capped wait for the first byte, none for the rest";
  EXPECT_TRUE(uart.io().line.empty());
  uart.write("def", 3);
  EXPECT_EQ(uart.io().status_reads - before, uint64_t{Uart::kTransmitSpinLimit});
}

}  // namespace
