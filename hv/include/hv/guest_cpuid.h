// What the guest sees from CPUID: the host's answer, minus what agevisor cannot give it,
// plus agevisor's own presence.
// - VMX and SMX are hidden: the guest's VMX instructions and GETSEC get #UD.
// - Instructions whose VM-execution control could not be enabled are hidden, so the guest
//   never gets #UD for an instruction CPUID advertises: RDTSCP and RDPID (both gated by
//   "enable RDTSCP"), INVPCID, XSAVES/XRSTORS, and TPAUSE/UMONITOR/UMWAIT.
// - CPUID.1:ECX[31] ("hypervisor present") is set and leaf 40000000H returns the maximum
//   hypervisor leaf in EAX and "agevisor" + four zero bytes in EBX, ECX, EDX. The hide
//   option clears bit 31 and passes the 400000xxH leaves through instead: Linux skips
//   microcode loading when bit 31 is set.
// - CPUID.1:ECX[27] (OSXSAVE) and CPUID.7.0:ECX[4] (OSPKE) mirror CR4.OSXSAVE and CR4.PKE of
//   the processor that executes CPUID. agevisor executes it in VMX root, under the host's CR4,
//   so both bits are recomputed from the guest's CR4 (reflect_guest_cr4).
#pragma once

#include <cstdint>

#include "arch/cpu_io.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_cr_fixed.h"

namespace hv {

inline constexpr uint32_t kHypervisorLeafBase = 0x40000000;
inline constexpr uint32_t kHypervisorLeafMax = kHypervisorLeafBase;  // agevisor has one leaf
// "agev", "isor", "\0\0\0\0" as little-endian dwords.
inline constexpr uint32_t kSignatureEbx = 0x76656761;
inline constexpr uint32_t kSignatureEcx = 0x726F7369;
inline constexpr uint32_t kSignatureEdx = 0x00000000;

struct GuestCpuidPolicy {
  uint32_t proc2 = 0;            // the negotiated secondary processor-based controls
  bool hide_hypervisor = false;  // load option: no bit 31, no signature leaf
};

// True if leaf 40000000H carries agevisor's signature: agevisor already runs (CPUID.1:ECX[31]
// alone proves nothing; every L0 hypervisor sets it).
constexpr bool is_agevisor_signature(const arch::CpuidResult& leaf) {
  return leaf.ebx == kSignatureEbx && leaf.ecx == kSignatureEcx && leaf.edx == kSignatureEdx;
}

constexpr arch::CpuidResult filter_guest_cpuid(uint32_t leaf, uint32_t subleaf, arch::CpuidResult r,
                                               const GuestCpuidPolicy& policy) {
  namespace p2 = arch::proc_based2;
  bool rdtscp = (policy.proc2 & p2::kRdtscp) != 0;
  if (leaf == 1) {
    r.ecx &= ~((1u << 5) | (1u << 6));  // VMX, SMX
    r.ecx = policy.hide_hypervisor ? (r.ecx & ~(1u << 31)) : (r.ecx | (1u << 31));
  } else if (leaf == 7 && subleaf == 0) {
    if ((policy.proc2 & p2::kInvpcid) == 0)
      r.ebx &= ~(1u << 10);
    if (!rdtscp)
      r.ecx &= ~(1u << 22);  // RDPID
    if ((policy.proc2 & p2::kUserWaitPause) == 0)
      r.ecx &= ~(1u << 5);  // WAITPKG
  } else if (leaf == 0xD && subleaf == 1) {
    if ((policy.proc2 & p2::kXsaves) == 0) {
      r.eax &= ~(1u << 3);
      r.ecx = 0;  // IA32_XSS-managed state components: meaningless without XSAVES
      r.edx = 0;
    }
  } else if (leaf == 0x80000001) {
    if (!rdtscp)
      r.edx &= ~(1u << 27);
  } else if (!policy.hide_hypervisor && leaf >= kHypervisorLeafBase && leaf <= 0x400000FF) {
    if (leaf == kHypervisorLeafBase)
      return {kHypervisorLeafMax, kSignatureEbx, kSignatureEcx, kSignatureEdx};
    return {};
  }
  return r;
}

inline constexpr uint32_t kCpuid1EcxOsxsave = 1u << 27;
inline constexpr uint32_t kCpuid7EcxOspke = 1u << 4;

// The CR4-derived CPUID bits as the guest's CR4 makes them [SDM 2A "CPUID", OSXSAVE and
// OSPKE]. The bits stay clear when the processor lacks the feature (XSAVE, PKU): CR4 cannot
// set them then.
constexpr arch::CpuidResult reflect_guest_cr4(uint32_t leaf, uint32_t subleaf, arch::CpuidResult r,
                                              uint64_t guest_cr4) {
  if (leaf == 1) {
    const bool xsave = (r.ecx & (1u << 26)) != 0;
    r.ecx &= ~kCpuid1EcxOsxsave;
    if (xsave && (guest_cr4 & arch::kCr4Osxsave) != 0)
      r.ecx |= kCpuid1EcxOsxsave;
  } else if (leaf == 7 && subleaf == 0) {
    const bool pku = (r.ecx & (1u << 3)) != 0;
    r.ecx &= ~kCpuid7EcxOspke;
    if (pku && (guest_cr4 & arch::kCr4Pke) != 0)
      r.ecx |= kCpuid7EcxOspke;
  }
  return r;
}

}  // namespace hv
