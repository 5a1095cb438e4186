// Choosing VMX control values from the capability MSRs: every control the processor forces
// to 1 (allowed-0 bits) is set, every required control must be allowed to be 1, optional
// controls are set where allowed. With IA32_VMX_BASIC[55] the snapshot hands out the TRUE_*
// MSRs, so default-1 controls the processor lets us clear stay clear unless requested.
// [SDM 3D "VMX Capability Reporting Facility" - "Algorithms for Determining VMX Capabilities"]
#pragma once

#include <cstdint>

#include "arch/result.h"
#include "arch/vmx_allowed_controls.h"
#include "hv/cpu_snapshot.h"

namespace hv {

// Error::kUnsupported when a required bit cannot be 1; `missing` (optional) gets those bits.
constexpr arch::Result<uint32_t> negotiate(uint32_t required, uint32_t optional,
                                           arch::VmxAllowedControls allowed,
                                           uint32_t* missing = nullptr) {
  uint32_t unavailable = required & ~allowed.allowed1;
  if (missing != nullptr)
    *missing = unavailable;
  if (unavailable != 0)
    return arch::Error::kUnsupported;
  return (allowed.allowed0 | required | (optional & allowed.allowed1)) & allowed.allowed1;
}

struct ControlRequest {
  uint32_t required = 0;
  uint32_t optional = 0;
};

struct VmxControlsRequest {
  ControlRequest pin;
  ControlRequest proc;
  ControlRequest proc2;  // negotiated only if proc ends up with "activate secondary controls"
  ControlRequest exit;
  ControlRequest entry;
};

struct VmxControls {
  uint32_t pin = 0;
  uint32_t proc = 0;
  uint32_t proc2 = 0;
  uint32_t exit = 0;
  uint32_t entry = 0;
};

// Which control set failed and the required bits it cannot set.
struct NegotiationError {
  const char* control_set = "";  // "pin-based", "primary processor-based", ...
  uint32_t missing = 0;
};

arch::Result<VmxControls> negotiate_controls(const CpuSnapshot& snapshot,
                                             const VmxControlsRequest& request,
                                             NegotiationError* error = nullptr);

// What agevisor asks for. Required: MSR bitmaps, secondary controls, EPT, unrestricted
// guest, a 64-bit host, EFER and PAT switched on entry and exit (the guest's values differ
// from the host's). Optional, enabled whenever allowed so the guest never gets #UD for what
// CPUID advertises: VPID, RDTSCP (also gates RDPID), INVPCID, XSAVES/XRSTORS, user wait and
// pause; the preemption timer drives aging when present. "IA-32e mode guest" is not requested:
// it follows the guest's EFER.LMA at launch.
VmxControlsRequest agevisor_controls_request();

}  // namespace hv
