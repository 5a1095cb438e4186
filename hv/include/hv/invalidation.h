// Which INVEPT/INVVPID type to issue, from what the processor supports. The narrowest
// supported type that covers the request is used; an unsupported request widens to
// all-context, which invalidates more but never less. [SDM 3C "Guidelines for Use of the
// INVEPT Instruction"; SDM 3D "VPID and EPT Capabilities" bits 20, 25, 26, 32, 40-43]
#pragma once

#include "arch/ept_capabilities.h"
#include "arch/invalidation_type.h"
#include "arch/result.h"

namespace hv {

// Error::kUnsupported when INVEPT is absent or supports neither type (assess_vmx refuses
// such processors, so on a running agevisor this cannot fail).
constexpr arch::Result<arch::InveptType> choose_invept_type(const arch::EptCapabilities& caps,
                                                            bool all_contexts_needed) {
  if (!caps.invept)
    return arch::Error::kUnsupported;
  if (!all_contexts_needed && caps.invept_single)
    return arch::InveptType::kSingleContext;
  if (caps.invept_all)
    return arch::InveptType::kAllContexts;
  if (caps.invept_single)  // all contexts asked for: agevisor has one EPT, single covers it
    return arch::InveptType::kSingleContext;
  return arch::Error::kUnsupported;
}

// For one VPID: single-context if supported, else all-context.
constexpr arch::Result<arch::InvvpidType> choose_invvpid_type(const arch::EptCapabilities& caps) {
  if (!caps.invvpid)
    return arch::Error::kUnsupported;
  if (caps.invvpid_single)
    return arch::InvvpidType::kSingleContext;
  if (caps.invvpid_all)
    return arch::InvvpidType::kAllContexts;
  return arch::Error::kUnsupported;
}

}  // namespace hv
