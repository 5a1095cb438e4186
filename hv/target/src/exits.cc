// The VM-exit path: one dispatcher that only routes, handlers that return what to do, RIP
// advanced in one place, and events whose delivery the exit interrupted re-injected.
// Built -mgeneral-regs-only (a VM exit does not save the guest's SSE/AVX state).
#include "arch/exit_reason.h"
#include "arch/interruption_info.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/target/safe_msr.h"
#include "arch/vm_instruction_error.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_cr_fixed.h"
#include "hv/event_redelivery.h"
#include "hv/hypercall.h"
#include "hv/rip_advance.h"
#include "hv/target/exits_internal.h"
#include "hv/target/log.h"
#include "hv/target/vmcs.h"
#include "hv/xsetbv_check.h"

namespace hv::target {
namespace {

using arch::BasicExitReason;
using arch::VmcsField32;
using arch::VmcsFieldNatural;

unsigned guest_cpl() { return (vmread(VmcsField32::kGuestSsAccessRights) >> 5) & 3; }

ExitAction handle_cpuid(Vcpu& v, arch::GuestGprs& r) {
  const auto leaf = static_cast<uint32_t>(r.rax);
  const auto subleaf = static_cast<uint32_t>(r.rcx);
  const auto result =
      filter_guest_cpuid(leaf, subleaf, arch::target::cpuid(leaf, subleaf), v.cpuid_policy);
  r.rax = result.eax;
  r.rbx = result.ebx;
  r.rcx = result.ecx;
  r.rdx = result.edx;
  return ExitAction::kAdvance;
}

ExitAction handle_vmcall(Vcpu& v, arch::GuestGprs& r) {
  HypercallRegisters regs{r.rax, r.rbx, r.rcx, r.rdx};
  HypercallContext context;
  context.guest_cpl = guest_cpl();
  context.apic_id = v.apic_id;
  context.exit_count = v.exit_count;
  handle_hypercall(regs, context);
  r.rax = regs.rax;
  r.rbx = regs.rbx;
  r.rcx = regs.rcx;
  r.rdx = regs.rdx;
  return ExitAction::kAdvance;
}

ExitAction handle_xsetbv(Vcpu& v, arch::GuestGprs& r) {
  const uint64_t value = (r.rdx << 32) | (r.rax & 0xFFFF'FFFF);
  const auto xcr = static_cast<uint32_t>(r.rcx);
  if (!xsetbv_is_valid(guest_cpl(), xcr, value, v.supported_xcr0)) {
    return inject_exception(kVectorGp, 0);
  }
  arch::target::xsetbv(xcr, value);
  return ExitAction::kAdvance;
}

ExitAction handle_rdmsr(Vcpu& v, arch::GuestGprs& r) {
  const auto msr = static_cast<uint32_t>(r.rcx);
  uint64_t value = 0;
  // VMX is hidden from the guest, so its capability MSRs do not exist for it.
  if (is_vmx_capability_msr(msr) || agevisor_safe_rdmsr(msr, &value) != 0) {
    return inject_exception(kVectorGp, 0);
  }
  (void)v;
  r.rax = value & 0xFFFF'FFFF;
  r.rdx = value >> 32;
  return ExitAction::kAdvance;
}

ExitAction handle_wrmsr(Vcpu& v, arch::GuestGprs& r) {
  const auto msr = static_cast<uint32_t>(r.rcx);
  const uint64_t value = (r.rdx << 32) | (r.rax & 0xFFFF'FFFF);
  if (is_vmx_capability_msr(msr) || agevisor_safe_wrmsr(msr, value) != 0) {
    return inject_exception(kVectorGp, 0);
  }
  if (is_mtrr_msr(msr, v.msr_policy)) {
    // The stand-in EPT is write-back everywhere and carries no MTRR types yet; the
    // MTRR-typed map (mm part 2) retypes the range here and flushes.
    ++v.mtrr_writes;
  }
  return ExitAction::kAdvance;
}

// VMX instructions and GETSEC: the guest sees a processor without VMX or SMX.
ExitAction handle_undefined_instruction() { return inject_exception(kVectorUd, kNoErrorCode); }

ExitAction handle_invd() {
  // INVD would drop dirty lines the host may own; write them back instead.
  arch::target::wbinvd();
  return ExitAction::kAdvance;
}

}  // namespace

ExitAction inject_exception(uint8_t vector, uint32_t error_code) {
  const bool has_error = error_code != kNoErrorCode;
  const auto info =
      arch::InterruptionInfo::make(arch::InterruptionType::kHardwareException, vector, has_error);
  vmwrite(VmcsField32::kEntryInterruptionInfo, info.raw());
  if (has_error)
    vmwrite(VmcsField32::kEntryExceptionErrorCode, error_code);
  return ExitAction::kInjected;
}

ExitAction dispatch(Vcpu& v, arch::GuestGprs& r, const arch::ExitReason& reason) {
  switch (reason.basic) {
    case BasicExitReason::kCpuid:
      return handle_cpuid(v, r);
    case BasicExitReason::kVmcall:
      return handle_vmcall(v, r);
    case BasicExitReason::kXsetbv:
      return handle_xsetbv(v, r);
    case BasicExitReason::kRdmsr:
      return handle_rdmsr(v, r);
    case BasicExitReason::kWrmsr:
      return handle_wrmsr(v, r);
    case BasicExitReason::kCrAccess:
      return handle_cr_access(v, r);
    case BasicExitReason::kInvd:
      return handle_invd();
    case BasicExitReason::kGetsec:
    case BasicExitReason::kVmclear:
    case BasicExitReason::kVmlaunch:
    case BasicExitReason::kVmptrld:
    case BasicExitReason::kVmptrst:
    case BasicExitReason::kVmread:
    case BasicExitReason::kVmresume:
    case BasicExitReason::kVmwrite:
    case BasicExitReason::kVmxoff:
    case BasicExitReason::kVmxon:
    case BasicExitReason::kInvept:
    case BasicExitReason::kInvvpid:
    case BasicExitReason::kVmfunc:
      return handle_undefined_instruction();
    case BasicExitReason::kEptViolation:
      return handle_ept_violation(v, r);
    case BasicExitReason::kEptMisconfiguration:
      return handle_ept_misconfiguration(v, r);
    case BasicExitReason::kTripleFault:
      return handle_triple_fault(v, r);
    default:
      return handle_unexpected_exit(v, r, reason);
  }
}

// The one place RIP moves forward [hv/rip_advance.h].
void advance_guest_rip() {
  GuestStep s;
  s.rip = vmread(VmcsFieldNatural::kGuestRip);
  s.rflags = vmread(VmcsFieldNatural::kGuestRflags);
  s.interruptibility = vmread(VmcsField32::kGuestInterruptibilityState);
  s.pending_debug_exceptions = vmread(VmcsFieldNatural::kGuestPendingDebugExceptions);
  const bool long_mode =
      (vmread(VmcsField32::kEntryControls) & arch::entry_ctls::kIa32eModeGuest) != 0;
  s.code64 = long_mode && (vmread(VmcsField32::kGuestCsAccessRights) & arch::bit(13)) != 0;
  s = advance_rip(s, vmread(VmcsField32::kExitInstructionLength));
  vmwrite(VmcsFieldNatural::kGuestRip, s.rip);
  vmwrite(VmcsField32::kGuestInterruptibilityState, s.interruptibility);
  vmwrite(VmcsFieldNatural::kGuestPendingDebugExceptions, s.pending_debug_exceptions);
}

// An exit that interrupted the delivery of an event must deliver it again, or the guest
// loses an interrupt or exception. [hv/event_redelivery.h]
void redeliver_interrupted_event(const arch::ExitReason& reason) {
  const auto vectoring = arch::InterruptionInfo::from_raw(vmread(VmcsField32::kIdtVectoringInfo));
  bool nmi_unblocking = false;
  if (reason.basic == BasicExitReason::kEptViolation) {
    nmi_unblocking = (vmread(VmcsFieldNatural::kExitQualification) & arch::bit(12)) != 0;
  }
  const EventRedelivery plan =
      plan_event_redelivery(vectoring, vmread(VmcsField32::kIdtVectoringErrorCode),
                            vmread(VmcsField32::kExitInstructionLength), nmi_unblocking);
  uint32_t interruptibility = vmread(VmcsField32::kGuestInterruptibilityState);
  if (plan.set_nmi_blocking)
    interruptibility |= arch::interruptibility::kBlockingByNmi;
  if (plan.clear_nmi_blocking)
    interruptibility &= ~arch::interruptibility::kBlockingByNmi;
  vmwrite(VmcsField32::kGuestInterruptibilityState, interruptibility);
  if (!plan.inject)
    return;
  vmwrite(VmcsField32::kEntryInterruptionInfo, plan.entry_info.raw());
  vmwrite(VmcsField32::kEntryExceptionErrorCode, plan.error_code);
  vmwrite(VmcsField32::kEntryInstructionLength, plan.instruction_length);
}

// An NMI that hit the host belongs to the guest. Injected when nothing else is being
// injected and the guest is not blocking NMIs; otherwise it waits for a later exit.
void inject_pending_nmi(Vcpu& v) {
  if (!v.nmi_pending)
    return;
  const auto pending =
      arch::InterruptionInfo::from_raw(vmread(VmcsField32::kEntryInterruptionInfo));
  const uint32_t interruptibility = vmread(VmcsField32::kGuestInterruptibilityState);
  const uint32_t blocking = arch::interruptibility::kBlockingByNmi |
                            arch::interruptibility::kBlockingBySti |
                            arch::interruptibility::kBlockingByMovSs;
  if (pending.valid() || (interruptibility & blocking) != 0)
    return;
  vmwrite(VmcsField32::kEntryInterruptionInfo,
          arch::InterruptionInfo::make(arch::InterruptionType::kNmi, 2, false).raw());
  v.nmi_pending = false;
}

}  // namespace hv::target

extern "C" bool hv_vmexit_handler(arch::GuestGprs* gprs, void* opaque) {
  using namespace hv::target;
  Vcpu& v = *static_cast<Vcpu*>(opaque);
  ++v.exit_count;
  const auto reason = arch::ExitReason::from_raw(vmread(VmcsField32::kExitReason));
  if (reason.entry_failure)
    handle_entry_failure(v, reason);  // does not return
  vmwrite(VmcsField32::kEntryInterruptionInfo, 0);
  const ExitAction action = dispatch(v, *gprs, reason);
  if (action == ExitAction::kAdvance)
    advance_guest_rip();
  if (action != ExitAction::kInjected)
    redeliver_interrupted_event(reason);
  inject_pending_nmi(v);
  return true;
}
