#include "hv/target/log.h"

#include <cstddef>

#include "arch/format.h"
#include "arch/target/cpu.h"
#include "arch/target/target_port_io.h"
#include "hv/log_ring.h"
#include "hv/spinlock.h"
#include "hv/uart16550.h"

namespace hv::log {
namespace {

constexpr uint16_t kPortE9 = 0xE9;
constexpr size_t kLineMax = 256;

using Com1 = Uart16550<arch::target::TargetPortIo>;
constinit Com1 com1(arch::target::TargetPortIo{}, Com1::kCom1);
constinit LineSink extra_sink = nullptr;
constinit void* extra_context = nullptr;
constinit bool extra_mirrors_serial = false;
// In the image (.bss is folded into .data by GNU-EFI's layout), so it is copied with the
// image into runtime memory and keeps the lines logged before the switch.
constinit char ring_storage[64 * 1024] = {};
constinit LogRing ring(ring_storage, sizeof(ring_storage));
// One line at a time from every CPU (serial port, port 0xE9, ring). Bounded: a CPU that
// stopped while holding it (a host fault on the way to a halt) must not silence the others.
constinit Spinlock line_lock;
constexpr uint64_t kLineLockSpins = uint64_t{1} << 22;

void write_e9(const char* text, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    arch::target::outb(kPortE9, static_cast<uint8_t>(text[i]));
  }
}

size_t length_of(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') {
    ++n;
  }
  return n;
}

}  // namespace

void init() { com1.probe(); }

bool serial_alive() { return com1.alive(); }

void set_extra_sink(LineSink sink, void* context, bool mirrors_serial) {
  extra_sink = sink;
  extra_context = context;
  extra_mirrors_serial = sink != nullptr && mirrors_serial;
}

void write_line(const char* line) {
  const bool locked = line_lock.lock_within(kLineLockSpins);
  size_t length = length_of(line);
  if (!extra_mirrors_serial) {
    com1.write(line, length);
    com1.write("\r\n", 2);
  }
  write_e9(line, length);
  write_e9("\n", 1);
  ring.append(line, length);
  if (extra_sink != nullptr) {
    extra_sink(extra_context, line);
  }
  if (locked)
    line_lock.unlock();
}

size_t copy_recent(char* out, size_t size) {
  const bool locked = line_lock.lock_within(kLineLockSpins);
  const size_t copied = ring.copy_recent(out, size);
  if (locked)
    line_lock.unlock();
  return copied;
}

void vprintf(const char* fmt, va_list args) {
  char buffer[kLineMax];
  arch::vformat(buffer, sizeof(buffer), fmt, args);
  // One call may carry several lines; each goes out separately.
  char* start = buffer;
  for (char* p = buffer;; ++p) {
    if (*p == '\n' || *p == '\0') {
      bool last = *p == '\0';
      *p = '\0';
      if (!last || p != start) {
        write_line(start);
      }
      if (last) {
        return;
      }
      start = p + 1;
    }
  }
}

void printf(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
}

}  // namespace hv::log
