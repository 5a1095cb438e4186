// The VM-exit path as pure code over its seams (hv/exits/exit_seams.h): one dispatcher that
// only routes, short handlers that return what to do, RIP advanced in one place, events
// whose delivery the exit interrupted re-injected, and NMIs that hit the host handed to the
// guest. The target instantiates it with VMREAD/VMWRITE and the real instructions; host
// tests with a FakeVmcs. What needs the machine itself (dumps, halting, reset, undoing a
// failed entry) is returned as an ExitAction for the target to carry out.
// [SDM 3C "VM Exits", "VM-Exit Information Fields"; SimpleVisor ShvVmxHandleExit]
#pragma once

#include <cstdint>

#include "arch/cr_access_qualification.h"
#include "arch/exit_reason.h"
#include "arch/guest_gprs.h"
#include "arch/interruptibility_state.h"
#include "arch/interruption_info.h"
#include "arch/io_qualification.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_cr_fixed.h"
#include "hv/control_register_write.h"
#include "hv/event_redelivery.h"
#include "hv/exits/exit_seams.h"
#include "hv/guest_cpuid.h"
#include "hv/hypercall.h"
#include "hv/init_sipi.h"
#include "hv/msr_bitmap.h"
#include "hv/rip_advance.h"
#include "hv/vcpu_state.h"
#include "hv/xsetbv_check.h"

namespace hv {

enum class ExitAction : uint8_t {
  kResume,       // re-enter the guest as it is
  kAdvance,      // the instruction was emulated: move RIP past it
  kInjected,     // an exception replaces the instruction: RIP stays
  kHalt,         // agevisor cannot continue this guest: dump its state and halt
  kReset,        // the guest triple-faulted: reset the platform
  kEntryFailed,  // the VM entry failed (exit reason bit 31): report and undo
  kLeave,        // agevisor's start-up asked to leave VMX on this CPU: back to native
};

inline constexpr uint8_t kVectorUd = 6;
inline constexpr uint8_t kVectorGp = 13;
inline constexpr uint8_t kVectorNmi = 2;
inline constexpr uint32_t kNoErrorCode = ~0u;

namespace exits {

using arch::VmcsField16;
using arch::VmcsField32;
using arch::VmcsField64;
using arch::VmcsFieldNatural;

template <VmcsAccess V>
ExitAction inject_exception(V& vmcs, uint8_t vector, uint32_t error_code) {
  const bool has_error = error_code != kNoErrorCode;
  const auto info =
      arch::InterruptionInfo::make(arch::InterruptionType::kHardwareException, vector, has_error);
  vmcs.write(VmcsField32::kEntryInterruptionInfo, info.raw());
  if (has_error)
    vmcs.write(VmcsField32::kEntryExceptionErrorCode, error_code);
  return ExitAction::kInjected;
}

template <VmcsAccess V>
unsigned guest_cpl(V& vmcs) {
  return (vmcs.read(VmcsField32::kGuestSsAccessRights) >> 5) & 3;
}

// CPUID runs here under the host's CR4: the bits that mirror CR4 follow the guest's instead.
template <VmcsAccess V, ExitCpu C>
ExitAction handle_cpuid(VcpuState& vcpu, V& vmcs, C& cpu, arch::GuestGprs& r) {
  const auto leaf = static_cast<uint32_t>(r.rax);
  const auto subleaf = static_cast<uint32_t>(r.rcx);
  const auto native = reflect_guest_cr4(leaf, subleaf, cpu.cpuid(leaf, subleaf),
                                        vmcs.read(VmcsFieldNatural::kGuestCr4));
  const auto result = filter_guest_cpuid(leaf, subleaf, native, vcpu.cpuid_policy);
  r.rax = result.eax;
  r.rbx = result.ebx;
  r.rcx = result.ecx;
  r.rdx = result.edx;
  return ExitAction::kAdvance;
}

template <VmcsAccess V, EptService E>
ExitAction handle_vmcall(VcpuState& vcpu, V& vmcs, E& ept, arch::GuestGprs& r) {
  // agevisor's own start-up code; handle_hypercall denies both once start-up is over.
  const bool startup_call = r.rax == static_cast<uint64_t>(Hypercall::kStartupDone) ||
                            r.rax == static_cast<uint64_t>(Hypercall::kLeave);
  if (startup_call && guest_cpl(vmcs) == 0 && ept.leave_allowed()) {
    HypercallStatus status = HypercallStatus::kOk;
    if (r.rax == static_cast<uint64_t>(Hypercall::kStartupDone))
      ept.close_startup();
    else if (!ept.request_leave())  // on success this CPU leaves at the end of the exit
      status = HypercallStatus::kTimedOut;
    r.rax = static_cast<uint64_t>(status);
    return ExitAction::kAdvance;
  }
  HypercallRegisters regs{r.rax, r.rbx, r.rcx, r.rdx};
  HypercallContext context;
  context.guest_cpl = guest_cpl(vmcs);
  context.apic_id = vcpu.apic_id;
  context.exit_count = vcpu.exit_count;
  context.services = &ept;
  context.copy_log = [](void* self, uint64_t gpa, uint64_t size, uint64_t* copied) {
    return static_cast<E*>(self)->copy_log(gpa, size, copied);
  };
  context.age = [](void* self, AgeCounts* counts) { return static_cast<E*>(self)->age(counts); };
  context.copy_working_set = [](void* self, uint64_t gpa, uint64_t size, uint64_t* written) {
    return static_cast<E*>(self)->copy_working_set(gpa, size, written);
  };
  context.copy_frame_ages = [](void* self, uint64_t gpa, uint64_t frames, uint64_t first,
                               uint64_t* written) {
    return static_cast<E*>(self)->copy_frame_ages(gpa, frames, first, written);
  };
  context.flush = [](void* self, uint64_t* cpus, uint64_t* generation) {
    return static_cast<E*>(self)->flush_all(cpus, generation);
  };
  handle_hypercall(regs, context);
  r.rax = regs.rax;
  r.rbx = regs.rbx;
  r.rcx = regs.rcx;
  r.rdx = regs.rdx;
  return ExitAction::kAdvance;
}

template <VmcsAccess V, ExitCpu C>
ExitAction handle_xsetbv(VcpuState& vcpu, V& vmcs, C& cpu, arch::GuestGprs& r) {
  const uint64_t value = (r.rdx << 32) | (r.rax & 0xFFFF'FFFF);
  const auto xcr = static_cast<uint32_t>(r.rcx);
  if (!xsetbv_is_valid(guest_cpl(vmcs), xcr, value, vcpu.supported_xcr0)) {
    return inject_exception(vmcs, kVectorGp, 0);
  }
  cpu.xsetbv(xcr, value);
  return ExitAction::kAdvance;
}

// RDMSR exits for MSRs outside the bitmap's ranges and for the ones agevisor intercepts.
// VMX is hidden from the guest, so its capability MSRs do not exist for it; any other MSR is
// read for the guest, and a #GP the host takes becomes the guest's.
template <VmcsAccess V, ExitCpu C>
ExitAction handle_rdmsr(V& vmcs, C& cpu, arch::GuestGprs& r) {
  const auto msr = static_cast<uint32_t>(r.rcx);
  uint64_t value = 0;
  if (is_vmx_capability_msr(msr) || !cpu.rdmsr_safe(msr, &value)) {
    return inject_exception(vmcs, kVectorGp, 0);
  }
  r.rax = value & 0xFFFF'FFFF;
  r.rdx = value >> 32;
  return ExitAction::kAdvance;
}

template <VmcsAccess V, ExitCpu C, EptService E>
ExitAction handle_wrmsr(VcpuState& vcpu, V& vmcs, C& cpu, E& ept, arch::GuestGprs& r) {
  const auto msr = static_cast<uint32_t>(r.rcx);
  const uint64_t value = (r.rdx << 32) | (r.rax & 0xFFFF'FFFF);
  if (is_vmx_capability_msr(msr) || !cpu.wrmsr_safe(msr, value)) {
    return inject_exception(vmcs, kVectorGp, 0);
  }
  // EPT leaves carry the MTRR type (ignore-PAT clear), so a new MTRR value retypes the map.
  if (is_mtrr_msr(msr, vcpu.msr_policy)) {
    ++vcpu.mtrr_writes;
    if (!ept.mtrrs_written())
      return ExitAction::kHalt;
  }
  return ExitAction::kAdvance;
}

// CR0 and CR4 as the guest sees them: the read shadow holds the bits agevisor owns (the
// guest/host mask), the guest's register the rest. A bit outside the mask changes without
// an exit (CR4.PAE before paging is turned on, CLTS), so the shadow alone goes stale.
template <VmcsAccess V>
uint64_t guest_cr0_view(V& vmcs) {
  const uint64_t mask = vmcs.read(VmcsFieldNatural::kCr0GuestHostMask);
  return (vmcs.read(VmcsFieldNatural::kGuestCr0) & ~mask) |
         (vmcs.read(VmcsFieldNatural::kCr0ReadShadow) & mask);
}

template <VmcsAccess V>
uint64_t guest_cr4_view(V& vmcs) {
  const uint64_t mask = vmcs.read(VmcsFieldNatural::kCr4GuestHostMask);
  return (vmcs.read(VmcsFieldNatural::kGuestCr4) & ~mask) |
         (vmcs.read(VmcsFieldNatural::kCr4ReadShadow) & mask);
}

template <VmcsAccess V>
ControlRegisterState control_register_state(V& vmcs) {
  ControlRegisterState state;
  state.cr0_shadow = guest_cr0_view(vmcs);
  state.cr4_shadow = guest_cr4_view(vmcs);
  state.cr3 = vmcs.read(VmcsFieldNatural::kGuestCr3);
  state.efer = vmcs.read(VmcsField64::kGuestEfer);
  state.entry_controls = vmcs.read(VmcsField32::kEntryControls);
  state.cs_long = (vmcs.read(VmcsField32::kGuestCsAccessRights) & arch::bit(13)) != 0;
  return state;
}

// Applies a decision of hv::write_cr0 / write_cr4.
template <VmcsAccess V, ExitCpu C>
ExitAction apply_cr_write(V& vmcs, C& cpu, const ControlRegisterWrite& w, VmcsFieldNatural guest,
                          VmcsFieldNatural shadow) {
  if (w.inject_gp)
    return inject_exception(vmcs, kVectorGp, 0);
  vmcs.write(guest, w.guest_value);
  vmcs.write(shadow, w.read_shadow);
  vmcs.write(VmcsField64::kGuestEfer, w.efer);
  vmcs.write(VmcsField32::kEntryControls, w.entry_controls);
  const bool vpid =
      (vmcs.read(VmcsField32::kSecondaryProcbasedControls) & arch::proc_based2::kVpid) != 0;
  if (w.flush_guest_tlb && vpid)
    cpu.invvpid_single_context(vmcs.read(VmcsField16::kVpid));
  return ExitAction::kAdvance;
}

// The general register a MOV CR names [SDM 3C "Exit Qualification for Control-Register
// Accesses"]; 4 is RSP, which the VMCS holds.
template <VmcsAccess V>
uint64_t read_gpr(V& vmcs, const arch::GuestGprs& r, unsigned index) {
  switch (index) {
    case 0:
      return r.rax;
    case 1:
      return r.rcx;
    case 2:
      return r.rdx;
    case 3:
      return r.rbx;
    case 4:
      return vmcs.read(VmcsFieldNatural::kGuestRsp);
    case 5:
      return r.rbp;
    case 6:
      return r.rsi;
    case 7:
      return r.rdi;
    case 8:
      return r.r8;
    case 9:
      return r.r9;
    case 10:
      return r.r10;
    case 11:
      return r.r11;
    case 12:
      return r.r12;
    case 13:
      return r.r13;
    case 14:
      return r.r14;
    default:
      return r.r15;
  }
}

// MOV to CR0/CR4 and LMSW that touched a bit in the guest/host masks. MOV from CR0/CR4
// read the shadows without exiting; CLTS, CR3 and CR8 accesses are not intercepted.
template <VmcsAccess V, ExitCpu C>
ExitAction handle_cr_access(VcpuState& vcpu, V& vmcs, C& cpu, arch::GuestGprs& r) {
  using Access = arch::CrAccessQualification::Access;
  const auto q =
      arch::CrAccessQualification::from_raw(vmcs.read(VmcsFieldNatural::kExitQualification));
  const auto cr0_rules = arch::CrFixedBits::guest_cr0(vcpu.cr0_fixed0, vcpu.cr0_fixed1, true);
  const arch::CrFixedBits cr4_rules{vcpu.cr4_fixed0, vcpu.cr4_fixed1};
  uint64_t cr0_value = 0;
  if (q.access == Access::kMovToCr && q.cr == 4) {
    return apply_cr_write(
        vmcs, cpu, write_cr4(control_register_state(vmcs), read_gpr(vmcs, r, q.gpr), cr4_rules),
        VmcsFieldNatural::kGuestCr4, VmcsFieldNatural::kCr4ReadShadow);
  }
  if (q.access == Access::kMovToCr && q.cr == 0) {
    cr0_value = read_gpr(vmcs, r, q.gpr);
  } else if (q.access == Access::kLmsw) {
    cr0_value = lmsw_cr0_value(guest_cr0_view(vmcs), q.lmsw_source);
  } else {
    return ExitAction::kHalt;
  }
  return apply_cr_write(vmcs, cpu, write_cr0(control_register_state(vmcs), cr0_value, cr0_rules),
                        VmcsFieldNatural::kGuestCr0, VmcsFieldNatural::kCr0ReadShadow);
}

// The one place RIP moves forward [hv/rip_advance.h].
template <VmcsAccess V>
void advance_guest_rip(V& vmcs) {
  GuestStep s;
  s.rip = vmcs.read(VmcsFieldNatural::kGuestRip);
  s.rflags = vmcs.read(VmcsFieldNatural::kGuestRflags);
  s.interruptibility = vmcs.read(VmcsField32::kGuestInterruptibilityState);
  s.pending_debug_exceptions = vmcs.read(VmcsFieldNatural::kGuestPendingDebugExceptions);
  const bool long_mode =
      (vmcs.read(VmcsField32::kEntryControls) & arch::entry_ctls::kIa32eModeGuest) != 0;
  s.code64 = long_mode && (vmcs.read(VmcsField32::kGuestCsAccessRights) & arch::bit(13)) != 0;
  s = advance_rip(s, vmcs.read(VmcsField32::kExitInstructionLength));
  vmcs.write(VmcsFieldNatural::kGuestRip, s.rip);
  vmcs.write(VmcsField32::kGuestInterruptibilityState, s.interruptibility);
  vmcs.write(VmcsFieldNatural::kGuestPendingDebugExceptions, s.pending_debug_exceptions);
}

// An exit that interrupted the delivery of an event must deliver it again, or the guest loses
// an interrupt or exception. [hv/event_redelivery.h]
template <VmcsAccess V>
void redeliver_interrupted_event(V& vmcs, const arch::ExitReason& reason) {
  const auto vectoring =
      arch::InterruptionInfo::from_raw(vmcs.read(VmcsField32::kIdtVectoringInfo));
  const bool nmi_unblocking =
      reason.basic == arch::BasicExitReason::kEptViolation &&
      (vmcs.read(VmcsFieldNatural::kExitQualification) & arch::bit(12)) != 0;
  const EventRedelivery plan =
      plan_event_redelivery(vectoring, vmcs.read(VmcsField32::kIdtVectoringErrorCode),
                            vmcs.read(VmcsField32::kExitInstructionLength), nmi_unblocking);
  // Blocking by SMI is never set outside SMM on hardware; Bochs 2.7 reports it on every exit
  // of a CPU that once waited for a SIPI, and then refuses the entry with it. Always cleared.
  uint32_t interruptibility =
      vmcs.read(VmcsField32::kGuestInterruptibilityState) & ~arch::interruptibility::kBlockingBySmi;
  if (plan.set_nmi_blocking)
    interruptibility |= arch::interruptibility::kBlockingByNmi;
  if (plan.clear_nmi_blocking)
    interruptibility &= ~arch::interruptibility::kBlockingByNmi;
  vmcs.write(VmcsField32::kGuestInterruptibilityState, interruptibility);
  if (!plan.inject)
    return;
  vmcs.write(VmcsField32::kEntryInterruptionInfo, plan.entry_info.raw());
  vmcs.write(VmcsField32::kEntryExceptionErrorCode, plan.error_code);
  vmcs.write(VmcsField32::kEntryInstructionLength, plan.instruction_length);
}

// An NMI that hit the host belongs to the guest. It is injected when no other event is being
// injected and the guest does not block NMIs (or an STI/MOV SS shadow is open); otherwise it
// waits: with virtual NMIs (more than one CPU) NMI-window exiting brings the exit at which it
// can go in; with one CPU, where guest NMIs do not exit and only an NMI that hit VMX root is
// pending, it waits for a later exit.
template <VmcsAccess V>
void inject_pending_nmi(VcpuState& vcpu, V& vmcs) {
  if (!vcpu.nmi_pending)
    return;
  const auto pending =
      arch::InterruptionInfo::from_raw(vmcs.read(VmcsField32::kEntryInterruptionInfo));
  const uint32_t blocking = arch::interruptibility::kBlockingByNmi |
                            arch::interruptibility::kBlockingBySti |
                            arch::interruptibility::kBlockingByMovSs;
  const uint32_t proc = vmcs.read(VmcsField32::kProcbasedControls);
  if (pending.valid() || (vmcs.read(VmcsField32::kGuestInterruptibilityState) & blocking) != 0) {
    if (vcpu.virtual_nmis && (proc & arch::proc_based::kNmiWindowExiting) == 0)
      vmcs.write(VmcsField32::kProcbasedControls, proc | arch::proc_based::kNmiWindowExiting);
    return;
  }
  vmcs.write(VmcsField32::kEntryInterruptionInfo,
             arch::InterruptionInfo::make(arch::InterruptionType::kNmi, kVectorNmi, false).raw());
  vcpu.nmi_pending = false;
  if ((proc & arch::proc_based::kNmiWindowExiting) != 0)
    vmcs.write(VmcsField32::kProcbasedControls, proc & ~arch::proc_based::kNmiWindowExiting);
}

// An EPT violation goes to the EPT (access tracking, on-demand mapping); the guest then
// retries the access. Denied or failed: agevisor cannot let this guest go on.
template <VmcsAccess V, EptService E>
ExitAction handle_ept_violation(V& vmcs, E& ept) {
  const auto result = ept.resolve_violation(vmcs.read(VmcsField64::kGuestPhysicalAddress),
                                            vmcs.read(VmcsFieldNatural::kExitQualification));
  return result == EptFaultResult::kResolved ? ExitAction::kResume : ExitAction::kHalt;
}

// I/O to the ports agevisor intercepts (the ACPI PM1 control registers): done for the guest,
// and a write of SLP_EN reported first, because from S3 the machine resumes without
// agevisor. INS/OUTS never target these ports: halt with a dump rather than guess.
template <VmcsAccess V, ExitCpu C>
ExitAction handle_io(VcpuState& vcpu, V& vmcs, C& cpu, arch::GuestGprs& r) {
  const auto q =
      arch::IoQualification::from_raw(vmcs.read(arch::VmcsFieldNatural::kExitQualification));
  if (q.string)
    return ExitAction::kHalt;
  const uint64_t mask = q.size >= 4 ? 0xFFFF'FFFF : (uint64_t{1} << (8 * q.size)) - 1;
  if (q.in) {
    const uint64_t value = cpu.io_in(q.port, q.size) & mask;
    // A 32-bit IN writes EAX, which clears RAX[63:32]; narrower ones keep the rest.
    r.rax = q.size >= 4 ? value : (r.rax & ~mask) | value;
    return ExitAction::kAdvance;
  }
  const auto value = static_cast<uint32_t>(r.rax & mask);
  const bool control = q.port == vcpu.sleep_ports.pm1a ||
                       (vcpu.sleep_ports.pm1b != 0 && q.port == vcpu.sleep_ports.pm1b);
  if (control && q.size >= 2 && is_sleep_entry(value))
    cpu.sleep_entry(sleep_type(value));
  cpu.io_out(q.port, q.size, value);
  return ExitAction::kAdvance;
}

// Periodic aging: the VMX-preemption timer expired. A slice of the aging pass runs (the
// EPT service flushes what it aged) and the timer is loaded for the next period.
template <VmcsAccess V, EptService E>
ExitAction handle_preemption_timer(V& vmcs, E& ept) {
  vmcs.write(arch::VmcsField32::kPreemptionTimerValue, ept.timer_tick());
  return ExitAction::kResume;
}

// INIT: the guest-state area gets the processor state that follows INIT [hv/init_sipi.h],
// the guest leaves IA-32e mode, its VPID's translations go, and it waits for a SIPI. An INIT
// while already waiting for a SIPI changes nothing (a processor in that state blocks INIT).
// CR2, DR0-3 and DR6 are not in the VMCS: they are reset on the processor itself. What INIT
// keeps (x87/SSE state, XCR0, MTRRs, PAT, the other MSRs) stays. The local APIC is not
// reset: agevisor does not virtualize it.
template <VmcsAccess V, ExitCpu C, EptService E>
ExitAction handle_init(VcpuState& vcpu, V& vmcs, C& cpu, E& ept, arch::GuestGprs& r) {
  using F16 = VmcsField16;
  using F32 = VmcsField32;
  using FN = VmcsFieldNatural;
  if (vcpu.waiting_for_sipi) {
    vmcs.write(F32::kGuestInterruptibilityState, 0);
    return ExitAction::kResume;
  }
  vcpu.waiting_for_sipi = true;
  ept.set_online(false);
  const InitState s = state_after_init(
      guest_cr0_view(vmcs), arch::CrFixedBits::guest_cr0(vcpu.cr0_fixed0, vcpu.cr0_fixed1, true),
      arch::CrFixedBits{vcpu.cr4_fixed0, vcpu.cr4_fixed1});
  const GuestState& g = s.guest;
  vmcs.write(FN::kGuestCr0, g.cr0);
  vmcs.write(FN::kCr0ReadShadow, s.cr0_shadow);
  vmcs.write(FN::kGuestCr3, g.cr3);
  vmcs.write(FN::kGuestCr4, g.cr4);
  vmcs.write(FN::kCr4ReadShadow, s.cr4_shadow);
  vmcs.write(FN::kGuestDr7, g.dr7);
  vmcs.write(FN::kGuestRsp, g.rsp);
  vmcs.write(FN::kGuestRip, g.rip);
  vmcs.write(FN::kGuestRflags, g.rflags);
  write_segments_and_tables(g, [&vmcs](auto field, auto value) { vmcs.write(field, value); });
  vmcs.write(VmcsField64::kGuestEfer, g.efer);
  vmcs.write(F32::kEntryControls,
             vmcs.read(F32::kEntryControls) & ~arch::entry_ctls::kIa32eModeGuest);
  vmcs.write(F32::kGuestActivityState, static_cast<uint32_t>(g.activity));
  vmcs.write(F32::kGuestInterruptibilityState, g.interruptibility);
  vmcs.write(FN::kGuestPendingDebugExceptions, g.pending_debug_exceptions);
  vmcs.write(F32::kEntryInterruptionInfo, 0);
  const uint64_t signature = cpu.cpuid(1, 0).eax;
  r = arch::GuestGprs{};
  r.rdx = signature;  // EDX after INIT: the processor's family, model and stepping
  cpu.reset_init_registers();
  if ((vmcs.read(F32::kSecondaryProcbasedControls) & arch::proc_based2::kVpid) != 0)
    cpu.invvpid_single_context(vmcs.read(F16::kVpid));
  return ExitAction::kResume;
}

// SIPI (only in wait-for-SIPI): real mode at vector * 4096, CS = vector << 8, IP = 0.
template <VmcsAccess V, EptService E>
ExitAction handle_sipi(VcpuState& vcpu, V& vmcs, E& ept) {
  using F32 = VmcsField32;
  if (!vcpu.waiting_for_sipi)
    return ExitAction::kResume;
  vcpu.waiting_for_sipi = false;
  const auto vector = static_cast<uint8_t>(vmcs.read(VmcsFieldNatural::kExitQualification));
  const Segment cs = code_segment_after_sipi(vector);
  vmcs.write(VmcsField16::kGuestCsSelector, cs.selector);
  vmcs.write(VmcsFieldNatural::kGuestCsBase, cs.base);
  vmcs.write(F32::kGuestCsLimit, cs.limit);
  vmcs.write(F32::kGuestCsAccessRights, cs.access_rights);
  vmcs.write(VmcsFieldNatural::kGuestRip, 0);
  vmcs.write(VmcsFieldNatural::kGuestPendingDebugExceptions, 0);
  vmcs.write(F32::kEntryInterruptionInfo, 0);
  vmcs.write(F32::kGuestInterruptibilityState, 0);
  vmcs.write(F32::kGuestActivityState, static_cast<uint32_t>(ActivityState::kActive));
  ept.set_online(true);
  return ExitAction::kResume;
}

// NMI exiting is on when agevisor runs on more than one CPU: an NMI is either agevisor's own
// (another CPU's flush or leave request: consumed, and acted on at the end of the exit) or
// the guest's, which is injected back as soon as the guest can take it (virtual NMIs track
// the guest's blocking; NMI-window exiting says when). The exception bitmap is empty, so no
// other exception exits.
template <VmcsAccess V, ExitCpu C, EptService E>
ExitAction handle_exception_or_nmi(VcpuState& vcpu, V& vmcs, C& cpu, E& ept) {
  const auto info = arch::InterruptionInfo::from_raw(vmcs.read(VmcsField32::kExitInterruptionInfo));
  if (!info.valid() || info.type() != arch::InterruptionType::kNmi)
    return ExitAction::kHalt;
  cpu.unblock_nmis();
  // Without virtual NMIs, NMIs were not blocked in the guest, or this NMI would not have
  // arrived: a saved blocking-by-NMI bit is the exit's own (Bochs 2.7 saves it), and entering
  // with it would block every later NMI to this CPU. With virtual NMIs the bit is the guest's
  // own virtual blocking (its NMI handler runs) and stays.
  if (!vcpu.virtual_nmis)
    vmcs.write(VmcsField32::kGuestInterruptibilityState,
               vmcs.read(VmcsField32::kGuestInterruptibilityState) &
                   ~arch::interruptibility::kBlockingByNmi);
  if (!ept.take_own_nmi())
    vcpu.nmi_pending = true;
  return ExitAction::kResume;
}

template <VmcsAccess V, ExitCpu C, EptService E>
ExitAction dispatch(VcpuState& vcpu, V& vmcs, C& cpu, E& ept, arch::GuestGprs& r,
                    const arch::ExitReason& reason) {
  using R = arch::BasicExitReason;
  switch (reason.basic) {
    case R::kCpuid:
      return handle_cpuid(vcpu, vmcs, cpu, r);
    case R::kExceptionOrNmi:
      return handle_exception_or_nmi(vcpu, vmcs, cpu, ept);
    case R::kNmiWindow:  // the pending NMI goes in at the end of this exit
      vmcs.write(VmcsField32::kProcbasedControls,
                 vmcs.read(VmcsField32::kProcbasedControls) & ~arch::proc_based::kNmiWindowExiting);
      return ExitAction::kResume;
    case R::kInitSignal:
      return handle_init(vcpu, vmcs, cpu, ept, r);
    case R::kStartupIpi:
      return handle_sipi(vcpu, vmcs, ept);
    case R::kVmcall:
      return handle_vmcall(vcpu, vmcs, ept, r);
    case R::kXsetbv:
      return handle_xsetbv(vcpu, vmcs, cpu, r);
    case R::kRdmsr:
      return handle_rdmsr(vmcs, cpu, r);
    case R::kWrmsr:
      return handle_wrmsr(vcpu, vmcs, cpu, ept, r);
    case R::kEptViolation:
      return handle_ept_violation(vmcs, ept);
    case R::kPreemptionTimer:
      return handle_preemption_timer(vmcs, ept);
    case R::kIoInstruction:
      return handle_io(vcpu, vmcs, cpu, r);
    case R::kCrAccess:
      return handle_cr_access(vcpu, vmcs, cpu, r);
    case R::kInvd:
      cpu.wbinvd();  // INVD would drop dirty lines the host may own: write them back instead
      return ExitAction::kAdvance;
    // The guest sees a processor without VMX or SMX.
    case R::kGetsec:
    case R::kVmclear:
    case R::kVmlaunch:
    case R::kVmptrld:
    case R::kVmptrst:
    case R::kVmread:
    case R::kVmresume:
    case R::kVmwrite:
    case R::kVmxoff:
    case R::kVmxon:
    case R::kInvept:
    case R::kInvvpid:
    case R::kVmfunc:
      return inject_exception(vmcs, kVectorUd, kNoErrorCode);
    case R::kTripleFault:
      return ExitAction::kReset;
    default:
      return ExitAction::kHalt;
  }
}

}  // namespace exits

// Handles one VM exit. kResume/kAdvance/kInjected have been fully carried out (RIP moved,
// events queued, the INVEPT this CPU owed done); kHalt, kReset and kEntryFailed are for the
// caller, and so is kLeave: the exit was handled in full, and this CPU is to leave VMX and
// continue natively from the guest state as it now is.
template <VmcsAccess V, ExitCpu C, EptService E>
ExitAction handle_exit(VcpuState& vcpu, V& vmcs, C& cpu, E& ept, arch::GuestGprs& r) {
  using arch::VmcsField32;
  ++vcpu.exit_count;
  const auto reason = arch::ExitReason::from_raw(vmcs.read(VmcsField32::kExitReason));
  if (reason.entry_failure)
    return ExitAction::kEntryFailed;
  vmcs.write(VmcsField32::kEntryInterruptionInfo, 0);
  const ExitAction action = exits::dispatch(vcpu, vmcs, cpu, ept, r, reason);
  if (action == ExitAction::kHalt || action == ExitAction::kReset)
    return action;
  // INIT and SIPI replace the whole context: nothing of the old one is delivered, and an
  // entry into wait-for-SIPI must not inject anything. A pending NMI waits for a later exit.
  const bool restarted = reason.basic == arch::BasicExitReason::kInitSignal ||
                         reason.basic == arch::BasicExitReason::kStartupIpi ||
                         vcpu.waiting_for_sipi;
  if (!restarted) {
    if (action == ExitAction::kAdvance)
      exits::advance_guest_rip(vmcs);
    if (action != ExitAction::kInjected) {
      exits::redeliver_interrupted_event(vmcs, reason);
    } else {
      vmcs.write(VmcsField32::kGuestInterruptibilityState,
                 vmcs.read(VmcsField32::kGuestInterruptibilityState) &
                     ~arch::interruptibility::kBlockingBySmi);
    }
    exits::inject_pending_nmi(vcpu, vmcs);
  }
  ept.sync_flushes();
  if (ept.leave_requested())
    return ExitAction::kLeave;
  return action;
}

}  // namespace hv
