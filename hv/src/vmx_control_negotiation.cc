#include "hv/vmx_control_negotiation.h"

#include "arch/vmx_controls.h"

namespace hv {
namespace {

arch::Result<uint32_t> negotiate_set(const char* name, const ControlRequest& request,
                                     arch::VmxAllowedControls allowed, NegotiationError* error) {
  uint32_t missing = 0;
  arch::Result<uint32_t> r = negotiate(request.required, request.optional, allowed, &missing);
  if (!r.ok() && error != nullptr)
    *error = {name, missing};
  return r;
}

}  // namespace

arch::Result<VmxControls> negotiate_controls(const CpuSnapshot& s,
                                             const VmxControlsRequest& request,
                                             NegotiationError* error) {
  VmxControls c;
  c.pin = TRY(negotiate_set("pin-based", request.pin, s.pinbased(), error));
  c.proc = TRY(negotiate_set("primary processor-based", request.proc, s.procbased(), error));
  if ((c.proc & arch::proc_based::kSecondaryControls) != 0)
    c.proc2 = TRY(negotiate_set("secondary processor-based", request.proc2, s.procbased2(), error));
  else if (request.proc2.required != 0)
    return negotiate_set("secondary processor-based", request.proc2, {}, error).error();
  c.exit = TRY(negotiate_set("VM-exit", request.exit, s.exit(), error));
  c.entry = TRY(negotiate_set("VM-entry", request.entry, s.entry(), error));
  return c;
}

VmxControlsRequest agevisor_controls_request() {
  namespace pin = arch::pin_based;
  namespace proc = arch::proc_based;
  namespace proc2 = arch::proc_based2;
  namespace exit = arch::exit_ctls;
  namespace entry = arch::entry_ctls;
  VmxControlsRequest r;
  r.pin.optional = pin::kPreemptionTimer;
  r.proc.required = proc::kMsrBitmaps | proc::kSecondaryControls;
  r.proc2.required = proc2::kEpt | proc2::kUnrestrictedGuest;
  r.proc2.optional =
      proc2::kVpid | proc2::kRdtscp | proc2::kInvpcid | proc2::kXsaves | proc2::kUserWaitPause;
  r.exit.required = exit::kHostAddressSpaceSize | exit::kSaveEfer | exit::kLoadEfer |
                    exit::kSavePat | exit::kLoadPat;
  r.entry.required = entry::kLoadEfer | entry::kLoadPat;
  return r;
}

}  // namespace hv
