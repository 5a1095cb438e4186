// The VM-exit handlers of hv/target, shared between its source files.
#pragma once

#include <cstdint>

#include "arch/exit_reason.h"
#include "arch/guest_gprs.h"
#include "hv/target/vcpu.h"

namespace hv::target {

enum class ExitAction : uint8_t {
  kResume,    // re-enter the guest as it is
  kAdvance,   // the instruction was emulated: move RIP past it
  kInjected,  // an exception was injected instead of completing the instruction
};

inline constexpr uint8_t kVectorUd = 6;
inline constexpr uint8_t kVectorGp = 13;
inline constexpr uint32_t kNoErrorCode = ~0u;

// Sets up a hardware exception for the next VM entry (error_code kNoErrorCode: none).
ExitAction inject_exception(uint8_t vector, uint32_t error_code);

ExitAction handle_cr_access(Vcpu& v, arch::GuestGprs& r);
ExitAction handle_ept_violation(Vcpu& v, arch::GuestGprs& r);
ExitAction handle_ept_misconfiguration(Vcpu& v, arch::GuestGprs& r);
ExitAction handle_triple_fault(Vcpu& v, arch::GuestGprs& r);
ExitAction handle_unexpected_exit(Vcpu& v, arch::GuestGprs& r, const arch::ExitReason& reason);

// The first VM entry failed (exit reason bit 31): report it decoded, leave VMX and resume the
// firmware where agevisor_vmlaunch was called, which then returns 3.
[[noreturn]] void handle_entry_failure(Vcpu& v, const arch::ExitReason& reason);

// Logs the exit reason, qualification and guest state.
void dump_guest(const Vcpu& v, const arch::GuestGprs& r, const arch::ExitReason& reason);

}  // namespace hv::target
