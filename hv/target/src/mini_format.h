// TEMPORARY private formatter until arch/include/arch/format.h (branch caps) is on main;
// same signature as arch::vformat so the switch is a one-line change. Supports what the
// log needs: %s %c %d %i %u %x %X %p %%, flags '-' '0', a width, and hh h l ll z.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace hv::detail {

int vformat(char* buf, size_t size, const char* fmt, va_list args);

}  // namespace hv::detail
