#include "output.h"

#include <cstdarg>

#include "arch/format.h"
#include "arch/target/cpu.h"

extern "C" {
#include <efi.h>
}

namespace payload {
namespace {

constinit SIMPLE_TEXT_OUTPUT_INTERFACE* g_console = nullptr;
constinit const char* g_label = "";
constinit int g_passes = 0;
constinit int g_failures = 0;

void emit(const char* text) {
  for (const char* p = text; *p != '\0'; ++p)
    arch::target::outb(0xE9, static_cast<uint8_t>(*p));
  arch::target::outb(0xE9, '\n');
  if (g_console == nullptr)
    return;
  CHAR16 wide[256];
  unsigned n = 0;
  for (const char* p = text; *p != '\0' && n < 253; ++p)
    wide[n++] = static_cast<CHAR16>(static_cast<unsigned char>(*p));
  wide[n++] = '\r';
  wide[n++] = '\n';
  wide[n] = 0;
  g_console->OutputString(g_console, wide);
}

void vline(const char* prefix, const char* fmt, va_list args) {
  char text[240];
  int n = arch::format(text, sizeof(text), "payload[%s] %s", g_label, prefix);
  if (n < 0 || n >= static_cast<int>(sizeof(text)))
    n = 0;
  arch::vformat(text + n, sizeof(text) - static_cast<unsigned>(n), fmt, args);
  emit(text);
}

}  // namespace

void set_output(void* console_out, const char* label) {
  g_console = static_cast<SIMPLE_TEXT_OUTPUT_INTERFACE*>(console_out);
  g_label = label;
}

void line(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vline("", fmt, args);
  va_end(args);
}

void check(bool ok, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vline(ok ? "PASS " : "FAIL ", fmt, args);
  va_end(args);
  ++(ok ? g_passes : g_failures);
}

int failures() { return g_failures; }
int passes() { return g_passes; }

}  // namespace payload
