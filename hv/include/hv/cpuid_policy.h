// What the guest sees when it executes CPUID. CPUID always exits; the handler runs the real
// instruction and passes the result through this policy. [SDM 3C "Instructions That Cause VM
// Exits Unconditionally"]
//
// - CPUID.1:ECX[31] (hypervisor present) is set, and leaf 0x40000000 answers with
//   agevisor's signature, unless the `hide=cpuid` option asks for a bare-metal look. Linux
//   skips late microcode loading when bit 31 is set, which is why hiding is offered.
// - VMX and SMX are always hidden: agevisor does not nest, and VMX instructions and GETSEC
//   raise #UD in the guest.
// - Instructions the guest could only run if a VMX control were enabled are hidden when that
//   control could not be enabled, so CPUID never advertises an instruction that would #UD.
#pragma once

#include <cstdint>

#include "arch/cpu_io.h"

namespace hv {

// Leaf 0x40000000: EAX = highest hypervisor leaf, EBX/ECX/EDX = "agevisor" + 4 zero bytes.
inline constexpr uint32_t kHypervisorLeafBase = 0x4000'0000;
inline constexpr uint32_t kHypervisorLeafMax = 0x4000'0001;  // 0x40000001: EAX = ABI version
inline constexpr uint32_t kSignatureEbx = 0x76656761;        // "agev"
inline constexpr uint32_t kSignatureEcx = 0x726F7369;        // "isor"
inline constexpr uint32_t kSignatureEdx = 0;

struct CpuidPolicy {
  bool hide_presence = false;  // load option hide=cpuid
  // Secondary controls agevisor managed to enable (hv::negotiate decides).
  bool rdtscp_enabled = false;  // also gates RDPID
  bool invpcid_enabled = false;
  bool xsaves_enabled = false;
  bool user_wait_enabled = false;  // TPAUSE / UMONITOR / UMWAIT
  uint32_t abi_version = 1;
};

constexpr bool is_hypervisor_leaf(uint32_t leaf) {
  return (leaf & 0xFFFF'FF00u) == kHypervisorLeafBase;
}

// The guest's view of CPUID(leaf, subleaf), given what the processor returned.
arch::CpuidResult apply_cpuid_policy(uint32_t leaf, uint32_t subleaf, arch::CpuidResult hw,
                                     const CpuidPolicy& policy);

// True when the signature of a running agevisor is present (used by a second agevisor.efi
// to refuse: CPUID.1:ECX[31] alone would also match any L0 hypervisor).
constexpr bool is_agevisor_signature(const arch::CpuidResult& leaf) {
  return leaf.ebx == kSignatureEbx && leaf.ecx == kSignatureEcx && leaf.edx == kSignatureEdx &&
         leaf.eax >= kHypervisorLeafBase && leaf.eax <= kHypervisorLeafBase + 0xFF;
}

}  // namespace hv
