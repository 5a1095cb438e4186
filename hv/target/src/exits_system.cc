// What only the machine can do on the exit path: dumps and halts for exits agevisor cannot
// handle, platform reset after a triple fault, undoing a failed first entry; plus the host's
// own exceptions and a failed VMRESUME. Built -mgeneral-regs-only.
#include "arch/ept_violation_qualification.h"
#include "arch/exit_reason.h"
#include "arch/host_exception_frame.h"
#include "arch/msr.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/target/safe_msr.h"
#include "arch/target/vmx.h"
#include "arch/vm_instruction_error.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_cr_fixed.h"
#include "arch/vmx_status.h"
#include "hv/control_register_write.h"
#include "hv/failed_entry_undo.h"
#include "hv/guest_state_checker.h"
#include "hv/target/exits_internal.h"
#include "hv/target/launch_internal.h"
#include "hv/target/log.h"
#include "hv/target/vmcs.h"

extern "C" {
__attribute__((visibility("hidden"))) extern char agevisor_vmlaunch_guest_resume[];
__attribute__((visibility("hidden"))) extern char agevisor_vmlaunch_entry_failed[];
__attribute__((visibility("hidden"))) [[noreturn]] void agevisor_resume_native(
    const arch::NativeContext* context);
__attribute__((visibility("hidden"))) [[noreturn]] void agevisor_resume_native_gprs(
    const arch::NativeContext* context, const arch::GuestGprs* gprs, std::atomic<bool>* left);
}

namespace hv::target {
namespace {

using arch::VmcsField16;
using arch::VmcsField32;
using arch::VmcsField64;
using arch::VmcsFieldNatural;

// The guest state as the VMCS holds it now, for the checker after a failed entry.
GuestState read_guest_state() {
  auto segment = [](VmcsField16 sel, VmcsFieldNatural base, VmcsField32 limit, VmcsField32 ar) {
    return Segment{vmread(sel), vmread(base), vmread(limit), vmread(ar)};
  };
  using F16 = VmcsField16;
  using F32 = VmcsField32;
  using FN = VmcsFieldNatural;
  GuestState g;
  g.cr0 = vmread(FN::kGuestCr0);
  g.cr3 = vmread(FN::kGuestCr3);
  g.cr4 = vmread(FN::kGuestCr4);
  g.dr7 = vmread(FN::kGuestDr7);
  g.rsp = vmread(FN::kGuestRsp);
  g.rip = vmread(FN::kGuestRip);
  g.rflags = vmread(FN::kGuestRflags);
  g.es = segment(F16::kGuestEsSelector, FN::kGuestEsBase, F32::kGuestEsLimit,
                 F32::kGuestEsAccessRights);
  g.cs = segment(F16::kGuestCsSelector, FN::kGuestCsBase, F32::kGuestCsLimit,
                 F32::kGuestCsAccessRights);
  g.ss = segment(F16::kGuestSsSelector, FN::kGuestSsBase, F32::kGuestSsLimit,
                 F32::kGuestSsAccessRights);
  g.ds = segment(F16::kGuestDsSelector, FN::kGuestDsBase, F32::kGuestDsLimit,
                 F32::kGuestDsAccessRights);
  g.fs = segment(F16::kGuestFsSelector, FN::kGuestFsBase, F32::kGuestFsLimit,
                 F32::kGuestFsAccessRights);
  g.gs = segment(F16::kGuestGsSelector, FN::kGuestGsBase, F32::kGuestGsLimit,
                 F32::kGuestGsAccessRights);
  g.ldtr = segment(F16::kGuestLdtrSelector, FN::kGuestLdtrBase, F32::kGuestLdtrLimit,
                   F32::kGuestLdtrAccessRights);
  g.tr = segment(F16::kGuestTrSelector, FN::kGuestTrBase, F32::kGuestTrLimit,
                 F32::kGuestTrAccessRights);
  g.gdtr = {vmread(FN::kGuestGdtrBase), vmread(F32::kGuestGdtrLimit)};
  g.idtr = {vmread(FN::kGuestIdtrBase), vmread(F32::kGuestIdtrLimit)};
  g.debugctl = vmread(VmcsField64::kGuestDebugctl);
  g.sysenter_cs = vmread(F32::kGuestSysenterCs);
  g.sysenter_esp = vmread(FN::kGuestSysenterEsp);
  g.sysenter_eip = vmread(FN::kGuestSysenterEip);
  g.efer = vmread(VmcsField64::kGuestEfer);
  g.pat = vmread(VmcsField64::kGuestPat);
  g.activity = static_cast<ActivityState>(vmread(F32::kGuestActivityState));
  g.interruptibility = vmread(F32::kGuestInterruptibilityState);
  g.pending_debug_exceptions = vmread(FN::kGuestPendingDebugExceptions);
  g.vmcs_link_pointer = vmread(VmcsField64::kVmcsLinkPointer);
  return g;
}

// VMXOFF, then the registers a VM exit replaced with the host's get the guest's values.
void leave_vmx_restoring(const FirmwareRegisters& f) {
  leave_vmx();
  arch::target::write_cr0(f.cr0);
  arch::target::write_cr4(f.cr4);
  arch::target::write_dr7(f.dr7);
  arch::target::wrmsr(arch::msr::kIa32DebugCtl, f.debugctl);
  arch::target::wrmsr(arch::msr::kIa32SysenterCs, f.sysenter_cs);
  arch::target::wrmsr(arch::msr::kIa32SysenterEsp, f.sysenter_esp);
  arch::target::wrmsr(arch::msr::kIa32SysenterEip, f.sysenter_eip);
}

GuestCheckContext context_from_vmcs(const Vcpu& v) {
  GuestCheckContext c;
  const uint32_t entry = vmread(VmcsField32::kEntryControls);
  c.cr0_fixed0 = v.state.cr0_fixed0;
  c.cr0_fixed1 = v.state.cr0_fixed1;
  c.cr4_fixed0 = v.state.cr4_fixed0;
  c.cr4_fixed1 = v.state.cr4_fixed1;
  c.max_phys_addr = static_cast<uint8_t>(arch::target::cpuid(0x8000'0008, 0).eax & 0xFF);
  c.unrestricted_guest = (vmread(VmcsField32::kSecondaryProcbasedControls) &
                          arch::proc_based2::kUnrestrictedGuest) != 0;
  c.ia32e_mode_guest = (entry & arch::entry_ctls::kIa32eModeGuest) != 0;
  c.load_debug_controls = (entry & arch::entry_ctls::kLoadDebugControls) != 0;
  c.load_pat = (entry & arch::entry_ctls::kLoadPat) != 0;
  c.load_efer = (entry & arch::entry_ctls::kLoadEfer) != 0;
  return c;
}

}  // namespace

void halt_after_dump(const Vcpu& v, const arch::GuestGprs& r) {
  const auto reason = arch::ExitReason::from_raw(vmread(VmcsField32::kExitReason));
  if (reason.basic == arch::BasicExitReason::kEptViolation) {
    const auto q = arch::EptViolationQualification::from_raw(
        vmread(VmcsFieldNatural::kExitQualification), false, v.state.advanced_exit_info);
    log::printf("ept: violation at GPA %#lx (%s%s%s), entries allowed %c%c%c",
                vmread(VmcsField64::kGuestPhysicalAddress), q.read ? "read " : "",
                q.write ? "write " : "", q.fetch ? "fetch" : "", q.readable ? 'r' : '-',
                q.writable ? 'w' : '-', q.executable ? 'x' : '-');
  } else if (reason.basic == arch::BasicExitReason::kEptMisconfiguration) {
    log::printf("ept: misconfiguration at GPA %#lx (EPTP %#lx)",
                vmread(VmcsField64::kGuestPhysicalAddress), v.eptp);
  } else {
    log::printf("agevisor: unexpected VM exit %u (%s)", reason.basic_number, reason.name());
  }
  dump_guest(v, r);
  log::write_line("agevisor: halting this processor");
  arch::target::halt_forever();
}

void reset_platform(const Vcpu& v, const arch::GuestGprs& r) {
  dump_guest(v, r);
  log::write_line("agevisor: the guest triple-faulted; resetting the platform");
  arch::target::outb(0xCF9, 0x02);  // reset control register: system reset
  arch::target::outb(0xCF9, 0x06);
  arch::target::outb(0x64, 0xFE);  // keyboard controller: pulse the reset line
  arch::target::halt_forever();
}

void dump_guest(const Vcpu& v, const arch::GuestGprs& r) {
  const auto reason = arch::ExitReason::from_raw(vmread(VmcsField32::kExitReason));
  log::printf("exit %u (%s) qualification %#lx, exit #%lu on APIC %u", reason.basic_number,
              reason.name(), vmread(VmcsFieldNatural::kExitQualification), v.state.exit_count,
              v.state.apic_id);
  log::printf("guest rip %#lx rsp %#lx rflags %#lx cs %#x", vmread(VmcsFieldNatural::kGuestRip),
              vmread(VmcsFieldNatural::kGuestRsp), vmread(VmcsFieldNatural::kGuestRflags),
              vmread(VmcsField16::kGuestCsSelector));
  log::printf("guest cr0 %#lx cr3 %#lx cr4 %#lx efer %#lx", vmread(VmcsFieldNatural::kGuestCr0),
              vmread(VmcsFieldNatural::kGuestCr3), vmread(VmcsFieldNatural::kGuestCr4),
              vmread(VmcsField64::kGuestEfer));
  log::printf("rax %#lx rbx %#lx rcx %#lx rdx %#lx", r.rax, r.rbx, r.rcx, r.rdx);
  log::printf("rsi %#lx rdi %#lx rbp %#lx r8 %#lx", r.rsi, r.rdi, r.rbp, r.r8);
  log::printf(
      "idt-vectoring %#x interruptibility %#x activity %u", vmread(VmcsField32::kIdtVectoringInfo),
      vmread(VmcsField32::kGuestInterruptibilityState), vmread(VmcsField32::kGuestActivityState));
}

void leave_to_native(Vcpu& v, const arch::GuestGprs& r) {
  const GuestState g = read_guest_state();
  // The guest's CR0/CR4: the read shadows for the bits agevisor owns, the rest as they are.
  const uint64_t cr0_mask = vmread(VmcsFieldNatural::kCr0GuestHostMask);
  const uint64_t cr4_mask = vmread(VmcsFieldNatural::kCr4GuestHostMask);
  const FirmwareRegisters native = firmware_registers_after_failed_entry(
      g, (g.cr0 & ~cr0_mask) | (vmread(VmcsFieldNatural::kCr0ReadShadow) & cr0_mask),
      (g.cr4 & ~cr4_mask) | (vmread(VmcsFieldNatural::kCr4ReadShadow) & cr4_mask));
  arch::NativeContext n;
  n.cr3 = g.cr3;
  n.gdtr = {static_cast<uint16_t>(g.gdtr.limit), g.gdtr.base, {}};
  n.idtr = {static_cast<uint16_t>(g.idtr.limit), g.idtr.base, {}};
  n.cs = g.cs.selector;
  n.ss = g.ss.selector;
  n.ds = g.ds.selector;
  n.es = g.es.selector;
  n.fs = g.fs.selector;
  n.gs = g.gs.selector;
  n.fs_base = g.fs.base;
  n.gs_base = g.gs.base;
  n.tr = g.tr.selector;  // 0 when agevisor's stand-in TSS was the guest's
  n.rsp = g.rsp;
  n.rflags = g.rflags;
  n.rip = g.rip;
  v.ept->flushes.set_online(v.index, false);
  v.in_vmx.store(false, std::memory_order_release);
  (void)arch::target::vmclear(v.vmcs_phys);
  leave_vmx_restoring(native);
  if (arch::target::rdmsr(arch::msr::kIa32Pat) != g.pat)
    arch::target::wrmsr(arch::msr::kIa32Pat, g.pat);
  // The host runs with the firmware's EFER of launch time; the guest may have changed NXE
  // or SCE since. (LMA is read-only and the same: both are in IA-32e mode here.)
  if (arch::target::rdmsr(arch::msr::kIa32Efer) != g.efer)
    arch::target::wrmsr(arch::msr::kIa32Efer, g.efer);
  agevisor_resume_native_gprs(&n, &r, &v.left);
}

// The CPU stops counting for flushes and leave requests in finish_failed_launch(), which
// follows on every failed launch.
void handle_entry_failure(Vcpu& v) {
  const auto reason = arch::ExitReason::from_raw(vmread(VmcsField32::kExitReason));
  log::printf("vmx: VM entry failed: exit reason %u (%s), qualification %#lx", reason.basic_number,
              reason.name(), vmread(VmcsFieldNatural::kExitQualification));
  const GuestState g = read_guest_state();
  const GuestStateReport report = check_guest_state(g, context_from_vmcs(v));
  for (int i = 0; i < report.count && i < GuestStateReport::kMaxRecorded; ++i) {
    log::printf("vmx: guest state: %s: %s", report.violations[i].field, report.violations[i].rule);
  }
  if (report.ok())
    log::write_line("vmx: the guest-state checker finds nothing wrong");

  // Undo: leave VMX, put back the registers the failed entry replaced with the host's, and
  // continue the firmware where it called agevisor_vmlaunch, at the stub's entry-failed path
  // (same offset from the resume label in every image copy).
  const FirmwareRegisters firmware = firmware_registers_after_failed_entry(
      g, vmread(VmcsFieldNatural::kCr0ReadShadow), vmread(VmcsFieldNatural::kCr4ReadShadow));
  arch::NativeContext& n = *v.native;
  n.rsp = g.rsp;
  n.rflags = g.rflags;
  n.rip = g.rip + (reinterpret_cast<uint64_t>(agevisor_vmlaunch_entry_failed) -
                   reinterpret_cast<uint64_t>(agevisor_vmlaunch_guest_resume));
  leave_vmx_restoring(firmware);
  agevisor_resume_native(&n);
}

}  // namespace hv::target

extern "C" void hv_host_exception(arch::HostExceptionFrame* frame) {
  if (frame->vector == 2) {
    // An NMI in VMX root is agevisor's own (a flush is done at once; a leave request is
    // acted on at the end of this exit) or belongs to the guest: remembered for the exit
    // path, which injects it.
    hv::target::Vcpu* v = nullptr;
    asm volatile("mov %%gs:0, %0" : "=r"(v));
    if (v == nullptr)
      return;
    if (v->own_nmi.exchange(false, std::memory_order_acq_rel))
      hv::target::sync_flushes(*v->ept, *v);
    else
      v->state.nmi_pending = true;
    return;
  }
  const uint64_t fixup = arch::target::fault_fixup_for(frame->rip);
  if (frame->vector == 13 && fixup != 0) {
    frame->rip = fixup;
    return;
  }
  hv::log::printf("agevisor: host exception %lu (error %#lx) at rip %#lx rsp %#lx", frame->vector,
                  frame->error_code, frame->rip, frame->rsp);
  if (frame->vector == 8)
    hv::log::write_line("agevisor: double fault (on its own IST stack)");
  if (frame->vector == 18)
    hv::log::write_line("agevisor: machine check (on its own IST stack)");
  arch::target::halt_forever();
}

extern "C" [[noreturn]] void hv_vmexit_stop(arch::GuestGprs* gprs, void* opaque) {
  hv::target::halt_after_dump(*static_cast<hv::target::Vcpu*>(opaque), *gprs);
}

extern "C" [[noreturn]] void hv_vmresume_failed(uint64_t rflags, void* opaque) {
  (void)opaque;
  const auto status = arch::vmx_status_from_rflags(rflags);
  if (status == arch::VmxStatus::kFailValid) {
    const uint32_t error = hv::target::vmread(arch::VmcsField32::kVmInstructionError);
    hv::log::printf("vmx: VMRESUME failed: VM-instruction error %u (%s)", error,
                    arch::vm_instruction_error_name(error));
  } else {
    hv::log::printf("vmx: VMRESUME failed: %s", arch::vmx_status_name(status));
  }
  arch::target::halt_forever();
}
