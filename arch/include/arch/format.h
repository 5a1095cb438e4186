// A freestanding printf subset for logs and reports (no libc on target). The format
// attribute makes the compiler check every call like printf.
//
// Conversions: %s %c %d %i %u %x %X %o %p %%.
// Length modifiers: hh h l ll z j t.
// Flags: '-' (left-justify), '0' (zero-pad), '+', ' ', '#' (0x/0 prefix for %x/%X/%o).
// Width and precision, either given inline or as '*' (taken from an int argument).
// Precision limits %s to that many bytes (the string need not be NUL-terminated past it) and
// sets the minimum digit count for integers, as in C.
//
// Differences from C's snprintf, on purpose:
// - %p prints "0x" and lowercase hex; a null pointer prints "0x0" (glibc: "(nil)").
// - %s of a null pointer prints "(null)".
// - An unsupported conversion (e.g. %f) cannot safely consume its argument, so it and the
//   rest of the format string are copied verbatim without consuming further arguments.
//
// Like snprintf: the output is always NUL-terminated when size > 0, never writes more than
// `size` bytes, and the return value is the length the full output would have had.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace arch {

int vformat(char* buf, size_t size, const char* fmt, va_list args);

__attribute__((format(printf, 3, 4))) int format(char* buf, size_t size, const char* fmt, ...);

}  // namespace arch
