// Host definition of arch_panic: report and abort, so gtest death tests can observe it.
#include <cstdio>
#include <cstdlib>

#include "arch/assert.h"

namespace arch {

void arch_panic(const char* file, int line, const char* message) {
  std::fprintf(stderr, "HV_PANIC at %s:%d: %s\n", file, line, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace arch
