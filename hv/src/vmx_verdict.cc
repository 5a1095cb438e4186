#include "hv/vmx_verdict.h"

#include "hv/feature_control_plan.h"

namespace hv {
namespace {

VmxVerdict refuse(const char* reason) { return {false, reason}; }

bool capability_msrs_valid(const CpuSnapshot& s) {
  return s.vmx_basic.valid && s.pinbased_ctls.valid && s.procbased_ctls.valid &&
         s.exit_ctls.valid && s.entry_ctls.valid && s.vmx_misc.valid && s.cr0_fixed0.valid &&
         s.cr0_fixed1.valid && s.cr4_fixed0.valid && s.cr4_fixed1.valid;
}

// Checks that need the VMX capability MSRs; nullptr when they pass.
const char* missing_vmx_feature(const CpuSnapshot& s) {
  if (!s.exit().can_be_one(arch::exit_ctls::kHostAddressSpaceSize))
    return "no 64-bit host support (VM-exit control \"host address-space size\")";
  if (!s.procbased().can_be_one(arch::proc_based::kSecondaryControls))
    return "no secondary processor-based controls, hence no EPT";
  if (!s.procbased2().can_be_one(arch::proc_based2::kEpt))
    return "no EPT (required: agevisor tracks accesses in its EPT)";
  if (!s.procbased2().can_be_one(arch::proc_based2::kUnrestrictedGuest))
    return "no unrestricted guest (required: the firmware guest runs real-mode code)";
  if (!s.ept_vpid_cap.valid)
    return "IA32_VMX_EPT_VPID_CAP unreadable";
  arch::EptCapabilities ept = s.ept_capabilities();
  if (!ept.page_walk_4)
    return "EPT lacks 4-level page walks";
  if (!ept.memtype_wb)
    return "EPT paging structures cannot be write-back";
  if (!ept.invept || !(ept.invept_single || ept.invept_all))
    return "no INVEPT (required: aging must flush cached EPT entries)";
  return nullptr;
}

}  // namespace

VmxVerdict assess_vmx(const CpuSnapshot& s) {
  if (!s.vendor().is_intel())
    return refuse("not an Intel processor: agevisor needs Intel VMX");
  if (!s.features().vmx)
    return refuse("no VMX: CPUID.1:ECX.VMX[bit 5] is 0 (not offered by the CPU or its hypervisor)");
  if (!s.feature_control.valid)
    return refuse("IA32_FEATURE_CONTROL unreadable");
  if (FeatureControlPlan::from(s.feature_control_msr()).action ==
      FeatureControlPlan::Action::kRefuse)
    return refuse(
        "VMX disabled by firmware: IA32_FEATURE_CONTROL is locked with VMX outside SMX off");
  if (!capability_msrs_valid(s))
    return refuse("VMX capability MSRs unreadable");
  if (const char* missing = missing_vmx_feature(s))
    return refuse(missing);
  return {true, "VMX usable"};
}

}  // namespace hv
