#include "hv/cpuid_policy.h"

#include "arch/bits.h"

namespace hv {
namespace {

using arch::bit;

// Bits named as in [SDM 2A "CPUID"].
constexpr uint32_t kLeaf1EcxVmx = bit(5);
constexpr uint32_t kLeaf1EcxSmx = bit(6);
constexpr uint32_t kLeaf1EcxHypervisor = bit(31);
constexpr uint32_t kLeaf7EbxInvpcid = bit(10);
constexpr uint32_t kLeaf7EcxWaitpkg = bit(5);
constexpr uint32_t kLeaf7EcxRdpid = bit(22);
constexpr uint32_t kLeafD1EaxXsaves = bit(3);
constexpr uint32_t kExt1EdxRdtscp = bit(27);

arch::CpuidResult hypervisor_leaf(uint32_t leaf, const CpuidPolicy& policy) {
  switch (leaf) {
    case kHypervisorLeafBase:
      return {kHypervisorLeafMax, kSignatureEbx, kSignatureEcx, kSignatureEdx};
    case kHypervisorLeafBase + 1:
      return {policy.abi_version, 0, 0, 0};
    default:
      return {};  // reserved hypervisor leaves read as zero
  }
}

}  // namespace

arch::CpuidResult apply_cpuid_policy(uint32_t leaf, uint32_t subleaf, arch::CpuidResult hw,
                                     const CpuidPolicy& policy) {
  if (is_hypervisor_leaf(leaf) && !policy.hide_presence)
    return hypervisor_leaf(leaf, policy);

  arch::CpuidResult r = hw;
  switch (leaf) {
    case 1:
      r.ecx &= ~(kLeaf1EcxVmx | kLeaf1EcxSmx);
      if (!policy.hide_presence)
        r.ecx |= kLeaf1EcxHypervisor;
      break;
    case 7:
      if (subleaf == 0) {
        if (!policy.invpcid_enabled)
          r.ebx &= ~kLeaf7EbxInvpcid;
        if (!policy.user_wait_enabled)
          r.ecx &= ~kLeaf7EcxWaitpkg;
        if (!policy.rdtscp_enabled)
          r.ecx &= ~kLeaf7EcxRdpid;
      }
      break;
    case 0xD:
      if (subleaf == 1 && !policy.xsaves_enabled)
        r.eax &= ~kLeafD1EaxXsaves;
      break;
    case 0x8000'0001:
      if (!policy.rdtscp_enabled)
        r.edx &= ~kExt1EdxRdtscp;
      break;
    default:
      break;
  }
  return r;
}

}  // namespace hv
