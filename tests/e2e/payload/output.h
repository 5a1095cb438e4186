// The payload's lines, to the UEFI console (which OVMF mirrors to COM1) and to port 0xE9.
// Every line starts with "payload[<label>] ", the label given on the command line (before,
// after), so a log holding two runs keeps them apart:
//   payload[after] PASS <check>: <detail>
//   payload[after] FAIL <check>: <detail>
//   payload[after] probe <name> <result> [<value>]   (compared across runs)
#pragma once

#include <cstdint>

namespace payload {

void set_output(void* console_out, const char* label);

__attribute__((format(printf, 1, 2))) void line(const char* fmt, ...);

// A check: prints PASS or FAIL and counts it.
__attribute__((format(printf, 2, 3))) void check(bool ok, const char* fmt, ...);

int failures();
int passes();

}  // namespace payload
