#include "hv/capability_report.h"

#include <cstdarg>

#include "arch/format.h"
#include "arch/memory_type.h"
#include "arch/mtrr_capabilities.h"
#include "arch/mtrr_def_type.h"
#include "hv/feature_control_plan.h"
#include "hv/tracking_choice.h"
#include "hv/vmx_verdict.h"

namespace hv {
namespace {

const char* yes_no(bool b) { return b ? "yes" : "no"; }

class Lines {
 public:
  Lines(ReportLineFn emit, void* context) : emit_(emit), context_(context) {}

  __attribute__((format(printf, 2, 3))) void line(const char* fmt, ...) {
    char text[192];
    va_list args;
    va_start(args, fmt);
    arch::vformat(text, sizeof text, fmt, args);
    va_end(args);
    emit_(context_, text);
  }

 private:
  ReportLineFn emit_;
  void* context_;
};

void report_cpu(const CpuSnapshot& s, Lines& out) {
  arch::CpuVendor vendor = s.vendor();
  arch::CpuSignature sig = s.signature();
  out.line("cpu: %s, family 0x%x, model 0x%x, stepping %u (CPUID.1:EAX 0x%08x)", vendor.name.data(),
           sig.family, sig.model, sig.stepping, s.leaf1.eax);
  if (!s.hypervisor_leaf_read) {
    out.line("hypervisor: none reported (CPUID.1:ECX[31] = 0)");
  } else {
    // Leaf 40000000H spells its signature in EBX, ECX, EDX order.
    char name[13] = {};
    const uint32_t words[3] = {s.hypervisor.ebx, s.hypervisor.ecx, s.hypervisor.edx};
    for (unsigned i = 0; i < 12; ++i) {
      auto c = static_cast<char>((words[i / 4] >> (8 * (i % 4))) & 0xFF);
      name[i] = (c >= 0x20 && c < 0x7F) ? c : (c == 0 ? '\0' : '?');
    }
    out.line("hypervisor: present, signature \"%s\" (CPUID 0x40000000)", name);
  }
  arch::CpuFeatures f = s.features();
  out.line("VMX: %s (CPUID.1:ECX.VMX), SMX: %s", f.vmx ? "supported" : "not supported",
           yes_no(f.smx));
  arch::AddressWidths widths = s.address_widths();
  if (widths.from_leaf)
    out.line("MAXPHYADDR: %u (CPUID 0x80000008)", widths.physical);
  else
    out.line("MAXPHYADDR: %u (default: CPUID 0x80000008 absent)", widths.physical);
}

void report_feature_control(const CpuSnapshot& s, Lines& out) {
  if (!s.feature_control.valid) {
    if (s.features().vmx || s.features().smx)
      out.line("IA32_FEATURE_CONTROL: unreadable");
    return;
  }
  arch::FeatureControl fc = s.feature_control_msr();
  const char* state = fc.locked() ? "locked" : "unlocked";
  const char* vmx = fc.vmx_outside_smx() ? "on" : "off";
  FeatureControlPlan plan = FeatureControlPlan::from(fc);
  switch (plan.action) {
    case FeatureControlPlan::Action::kLockAndEnable:
      out.line(
          "IA32_FEATURE_CONTROL: 0x%llx (%s, VMX outside SMX %s) -> agevisor writes 0x%llx "
          "(lock + VMX outside SMX)",
          static_cast<unsigned long long>(fc.raw()), state, vmx,
          static_cast<unsigned long long>(plan.value_to_write));
      return;
    case FeatureControlPlan::Action::kUseAsIs:
      out.line("IA32_FEATURE_CONTROL: 0x%llx (%s, VMX outside SMX %s) -> used as is",
               static_cast<unsigned long long>(fc.raw()), state, vmx);
      return;
    case FeatureControlPlan::Action::kRefuse:
      out.line(
          "IA32_FEATURE_CONTROL: 0x%llx (%s, VMX outside SMX %s) -> refuse: firmware "
          "disabled VMX until reset",
          static_cast<unsigned long long>(fc.raw()), state, vmx);
      return;
  }
}

void report_vmx_basic(const CpuSnapshot& s, Lines& out) {
  arch::VmxBasic b = s.basic();
  out.line(
      "VMX basic: revision 0x%x, VMCS size %u, memory type %s, TRUE_* controls: %s, "
      "INS/OUTS info: %s, error-code check relaxed: %s",
      b.revision_id(), b.vmcs_size(), arch::memory_type_name(b.memory_type()),
      yes_no(b.true_controls()), yes_no(b.ins_outs_info()), yes_no(b.no_error_code_requirement()));
  arch::VmxAllowedControls proc = s.procbased();
  arch::VmxAllowedControls sec = s.procbased2();
  namespace p2 = arch::proc_based2;
  out.line("VMX controls: secondary %s, EPT %s, VPID %s, unrestricted guest %s, MSR bitmaps %s",
           yes_no(proc.can_be_one(arch::proc_based::kSecondaryControls)),
           yes_no(sec.can_be_one(p2::kEpt)), yes_no(sec.can_be_one(p2::kVpid)),
           yes_no(sec.can_be_one(p2::kUnrestrictedGuest)),
           yes_no(proc.can_be_one(arch::proc_based::kMsrBitmaps)));
  out.line("VMX guest features: RDTSCP %s, INVPCID %s, XSAVES %s, user wait/pause %s",
           yes_no(sec.can_be_one(p2::kRdtscp)), yes_no(sec.can_be_one(p2::kInvpcid)),
           yes_no(sec.can_be_one(p2::kXsaves)), yes_no(sec.can_be_one(p2::kUserWaitPause)));
  arch::VmxMisc m = s.misc();
  out.line(
      "VMX misc: activity HLT %s, shutdown %s, wait-for-SIPI %s, CR3 targets %u, "
      "VMWRITE to exit fields %s",
      yes_no(m.activity_hlt()), yes_no(m.activity_shutdown()), yes_no(m.activity_wait_for_sipi()),
      m.cr3_target_count(), yes_no(m.vmwrite_exit_fields()));
  if (s.pinbased().can_be_one(arch::pin_based::kPreemptionTimer))
    out.line("preemption timer: yes, rate %u (one tick per 2^%u TSC cycles)",
             m.preemption_timer_rate(), m.preemption_timer_rate());
  else
    out.line("preemption timer: no (rate field %u)", m.preemption_timer_rate());
}

void report_ept(const CpuSnapshot& s, Lines& out) {
  if (!s.ept_vpid_cap.valid) {
    out.line("EPT: not available");
    return;
  }
  arch::EptCapabilities e = s.ept_capabilities();
  out.line(
      "EPT: execute-only %s, 4-level walk %s, 5-level walk %s, WB tables %s, UC tables %s, "
      "2 MiB pages %s, 1 GiB pages %s",
      yes_no(e.execute_only), yes_no(e.page_walk_4), yes_no(e.page_walk_5), yes_no(e.memtype_wb),
      yes_no(e.memtype_uc), yes_no(e.pages_2m), yes_no(e.pages_1g));
  out.line("EPT A/D: %s", yes_no(e.accessed_dirty));
  out.line("INVEPT: %s, single-context %s, all-context %s", yes_no(e.invept),
           yes_no(e.invept_single), yes_no(e.invept_all));
  out.line("EPT advanced exit info: %s", yes_no(e.advanced_exit_info));
  out.line(
      "INVVPID: %s, individual-address %s, single-context %s, all-context %s, "
      "single-context-retaining-globals %s",
      yes_no(e.invvpid), yes_no(e.invvpid_address), yes_no(e.invvpid_single), yes_no(e.invvpid_all),
      yes_no(e.invvpid_single_globals));
}

void report_mtrr(const CpuSnapshot& s, Lines& out) {
  if (!s.features().mtrr) {
    out.line("MTRR: not supported (CPUID.1:EDX.MTRR = 0)");
    return;
  }
  if (!s.mtrr_cap.valid || !s.mtrr_def_type.valid) {
    out.line("MTRR: IA32_MTRRCAP or IA32_MTRR_DEF_TYPE unreadable");
    return;
  }
  arch::MtrrCapabilities cap(s.mtrr_cap.value);
  arch::MtrrDefType def(s.mtrr_def_type.value);
  out.line(
      "MTRR: %u variable ranges, fixed ranges %s, WC %s, SMRR %s; enabled %s, fixed "
      "enabled %s, default type %s",
      cap.variable_count(), yes_no(cap.fixed_supported()), yes_no(cap.write_combining()),
      yes_no(cap.smrr()), yes_no(def.enabled()), yes_no(def.fixed_enabled()),
      arch::memory_type_name(def.default_type()));
}

void report_mode_and_verdict(const CpuSnapshot& s, const ReportOptions& options, Lines& out) {
  VmxVerdict verdict = assess_vmx(s);
  if (!verdict.usable) {
    out.line("access tracking mode: none (VMX unusable)");
    out.line("verdict: VMX unusable: %s", verdict.reason);
    return;
  }
  arch::Result<mm::TrackingMode> mode = choose_tracking_mode(s.ept_capabilities(), options.track);
  if (mode.ok())
    out.line("access tracking mode: %s%s", mm::tracking_mode_name(mode.value()),
             options.track == TrackingOverride::kAuto ? "" : " (forced)");
  else
    out.line("access tracking mode: unavailable: %s", kAccessedBitUnsupportedMessage);
  out.line("verdict: %s", verdict.reason);
}

}  // namespace

void write_capability_report_to(const CpuSnapshot& snapshot, const ReportOptions& options,
                                ReportLineFn emit, void* context) {
  Lines out(emit, context);
  out.line("agevisor capability report");
  report_cpu(snapshot, out);
  report_feature_control(snapshot, out);
  if (snapshot.vmx_basic.valid) {
    report_vmx_basic(snapshot, out);
    report_ept(snapshot, out);
  }
  report_mtrr(snapshot, out);
  report_mode_and_verdict(snapshot, options, out);
}

}  // namespace hv
