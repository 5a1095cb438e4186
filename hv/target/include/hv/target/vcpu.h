// Everything agevisor keeps for one virtualized processor. Lives in memory that outlives
// the UEFI application (boot/ allocates it); the host finds it through GS base (`self` is at
// GS:0), and the VM-exit stub through the word at HOST_RSP.
#pragma once

#include <atomic>
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
  uint32_t index = 0;  // 0 for the boot CPU; the slot in EptState::vcpus and the flushes
  // Set by another CPU before it sends this one an NMI (a flush or leave request), so the
  // NMI is not taken for the guest's; consumed by whichever NMI path (VM exit or host
  // handler) sees it first.
  std::atomic<bool> own_nmi{false};
  std::atomic<bool> in_vmx{false};  // launched and not left
  std::atomic<bool> leave{false};   // asked to leave VMX (start-up undoing a failed launch)
  std::atomic<bool> left{false};    // left VMX after such a request
};

// On every VM exit: inline, so the common case (nothing owed, nobody leaving) costs two
// loads and a compare each.
inline void TargetEpt::sync_flushes() {
  if (state->flushes.pending(vcpu->index) != 0)
    target::sync_flushes(*state, *vcpu);
}

inline bool TargetEpt::leave_requested() const {
  return vcpu->leave.load(std::memory_order_acquire);
}

}  // namespace hv::target
