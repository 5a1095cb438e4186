// agevisor's log: every line goes to COM1 (if the probe found it), to port 0xE9 (Bochs'
// port_e9_hack, QEMU's -debugcon) and, while boot services run, to the UEFI console that
// boot/ installs as an extra sink. One CPU logs at a time for now (the BSP); the SMP issue
// adds a lock.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace hv::log {

// Called once per line, without the newline. boot/ installs one for the UEFI console and
// removes it before ExitBootServices.
using LineSink = void (*)(void* context, const char* line);

// Probes COM1 once. Safe to call again (re-probes).
void init();
bool serial_alive();

// `mirrors_serial`: the sink already reaches COM1 (the firmware console is a serial
// terminal), so direct COM1 writes pause while it is installed.
void set_extra_sink(LineSink sink, void* context, bool mirrors_serial = false);

void write_line(const char* line);

// The newest whole lines of the log ring (64 KiB, resident with the image), oldest first:
// bytes copied to `out`. For the log hypercall.
size_t copy_recent(char* out, size_t size);

// printf-style; the output is split into lines at '\n' and a line longer than the internal
// buffer (256 bytes) is truncated.
__attribute__((format(printf, 1, 2))) void printf(const char* fmt, ...);
void vprintf(const char* fmt, va_list args);

}  // namespace hv::log
