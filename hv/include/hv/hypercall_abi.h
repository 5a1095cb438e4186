// The hypercall ABI: what a guest puts in registers before VMCALL and what it finds after.
// Shared by agevisor, the end-to-end payloads and guest-side tools; documented in
// docs/hypercall-abi.md. Only CPL 0 may call.
//
//   in:  RAX = function (kHypercallBase + n), RBX, RCX, RDX = arguments
//   out: RAX = status (HypercallStatus), RBX, RCX, RDX = results; other registers preserved
#pragma once

#include <cstdint>

namespace hv {

// "ag" in the upper half keeps agevisor's numbers apart from other paravirtual interfaces
// (KVM's start at 1), so a guest that probes those gets kUnknownFunction, not a surprise.
inline constexpr uint64_t kHypercallBase = 0x6167'0000;
inline constexpr uint32_t kHypercallAbiVersion = 1;

enum class Hypercall : uint64_t {
  kVersion = kHypercallBase + 0,  // out: RBX = ABI version, RCX = "agev", RDX = "isor"
  kCpu = kHypercallBase + 1,      // out: RBX = APIC ID, RCX = VM exits on this CPU so far
  kLog = kHypercallBase + 2,      // in: RBX = guest-physical buffer, RCX = size; out: RBX = bytes
};

enum class HypercallStatus : uint64_t {
  kOk = 0,
  kUnknownFunction = 1,
  kInvalidArgument = 2,
  kDenied = 3,  // called from CPL > 0, or a buffer that overlaps hypervisor memory
};

}  // namespace hv
