// Decoding and answering VMCALL. Pure: the per-CPU facts and the log copy come in through
// the context, so host tests drive every path.
#pragma once

#include <cstdint>

#include "hv/hypercall_abi.h"

namespace hv {

struct HypercallRegisters {
  uint64_t rax = 0;
  uint64_t rbx = 0;
  uint64_t rcx = 0;
  uint64_t rdx = 0;
};

struct HypercallContext {
  unsigned guest_cpl = 0;
  uint32_t apic_id = 0;
  uint64_t exit_count = 0;
  // The services below get `services` as their `self`; each is null when not wired up (the
  // function then answers kUnknownFunction).
  void* services = nullptr;
  // Copies up to `size` bytes of the log ring to guest-physical `gpa`; returns the bytes
  // copied, or a status when the buffer is refused.
  HypercallStatus (*copy_log)(void* self, uint64_t gpa, uint64_t size, uint64_t* copied) = nullptr;
  // Access tracking: run one aging pass and count it; write a WorkingSetReport to
  // guest-physical `gpa` (refused unless the buffer lies in guest RAM).
  HypercallStatus (*age)(void* self, AgeCounts* counts) = nullptr;
  HypercallStatus (*copy_working_set)(void* self, uint64_t gpa, uint64_t size,
                                      uint64_t* written) = nullptr;
  // Idle ages of `frames` frames from guest-physical `first`, one byte each, to `gpa`.
  HypercallStatus (*copy_frame_ages)(void* self, uint64_t gpa, uint64_t frames, uint64_t first,
                                     uint64_t* written) = nullptr;
  // A synchronous EPT flush on every CPU: how many CPUs flushed and the generation reached.
  HypercallStatus (*flush)(void* self, uint64_t* cpus, uint64_t* generation) = nullptr;
};

// Answers one VMCALL in place. The caller advances RIP afterwards in every case: a refused
// or unknown call is an error status, never an exception in the guest.
void handle_hypercall(HypercallRegisters& regs, const HypercallContext& context);

}  // namespace hv
