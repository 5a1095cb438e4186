// Target definition of arch_panic: log the location and message, then halt this CPU with
// interrupts off. (Halting the other CPUs with an NMI IPI comes with the SMP issue.)
#include "arch/assert.h"
#include "arch/target/cpu.h"
#include "hv/target/log.h"

namespace arch {

void arch_panic(const char* file, int line, const char* message) {
  hv::log::printf("HV_PANIC at %s:%d: %s", file, line, message);
  arch::target::halt_forever();
}

}  // namespace arch
