// Everything agevisor keeps for one virtualized processor. Lives in memory that outlives
// the UEFI application (boot/ allocates it); the host finds it through GS base (`self` is at
// GS:0), and the VM-exit stub through the word at HOST_RSP.
#pragma once

#include <cstdint>

#include "arch/native_context.h"
#include "hv/target/target_ept.h"
#include "hv/vcpu_state.h"
#include "hv/vmx_control_negotiation.h"

namespace hv::target {

struct Vcpu {
  Vcpu* self = nullptr;  // must stay the first member: the NMI handler reads GS:0
  VcpuState state;       // what the (pure) exit handlers use
  VmxControls controls;
  EptState* ept = nullptr;  // shared by every processor
  uint64_t eptp = 0;
  uint64_t vmxon_phys = 0;
  uint64_t vmcs_phys = 0;
  // The firmware context before launch: where a failed first VM entry returns to.
  arch::NativeContext* native = nullptr;
};

}  // namespace hv::target
