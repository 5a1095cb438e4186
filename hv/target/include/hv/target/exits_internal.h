// What the target exit path does beyond the pure handlers (hv/target/src/exits_system.cc).
#pragma once

#include "arch/guest_gprs.h"
#include "hv/target/vcpu.h"

namespace hv::target {

// Logs the exit reason, qualification and guest state.
void dump_guest(const Vcpu& v, const arch::GuestGprs& r);

// An exit agevisor cannot handle: dump, then halt this processor.
[[noreturn]] void halt_after_dump(const Vcpu& v, const arch::GuestGprs& r);

// The guest triple-faulted: dump, then reset the platform (port 0xCF9, then the keyboard
// controller), never a silent hang.
[[noreturn]] void reset_platform(const Vcpu& v, const arch::GuestGprs& r);

// The first VM entry failed (exit reason bit 31): report it decoded, leave VMX and resume the
// firmware where agevisor_vmlaunch was called, which then returns 3.
[[noreturn]] void handle_entry_failure(Vcpu& v);

// Start-up asked this CPU to leave VMX: VMXOFF, and the guest continues natively from its
// state as the VMCS and `r` hold it now (registers, control registers, descriptor tables).
[[noreturn]] void leave_to_native(Vcpu& v, const arch::GuestGprs& r);

}  // namespace hv::target
