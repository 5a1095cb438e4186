// Everything agevisor needs to know about the processor, read once through the arch::CpuIo
// seam and then passed by value: nothing downstream re-reads hardware.
//
// take_cpu_snapshot reads only what architecturally exists, decided from CPUID and from MSRs
// read before (an absent MSR raises #GP, which under UEFI firmware halts the machine):
// - CPUID leaves up to the maximum basic/extended leaf only.
// - IA32_FEATURE_CONTROL if CPUID.1:ECX.VMX or .SMX.
// - IA32_VMX_* if CPUID.1:ECX.VMX; the TRUE_* controls only if IA32_VMX_BASIC[55];
//   PROCBASED_CTLS2 only if primary processor-based allowed-1 bit 31; EPT_VPID_CAP only if
//   secondary allowed-1 has EPT (bit 1) or VPID (bit 5); VMFUNC only if it has bit 13.
// - IA32_MTRRCAP and IA32_MTRR_DEF_TYPE if CPUID.1:EDX.MTRR.
// [SDM 3D "VMX Capability Reporting Facility"; SDM 4 "Model-Specific Registers"]
#pragma once

#include <cstdint>

#include "arch/address_widths.h"
#include "arch/cpu_features.h"
#include "arch/cpu_io.h"
#include "arch/cpu_signature.h"
#include "arch/cpu_vendor.h"
#include "arch/ept_capabilities.h"
#include "arch/feature_control.h"
#include "arch/msr.h"
#include "arch/vmx_allowed_controls.h"
#include "arch/vmx_basic.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_misc.h"

namespace hv {

struct MsrValue {
  uint64_t value = 0;
  bool valid = false;  // read and returned a value; false: not read, or the read failed
};

struct CpuSnapshot {
  // CPUID. Leaves beyond the processor's maximum stay all-zero.
  arch::CpuidResult leaf0;       // vendor, max basic leaf
  arch::CpuidResult leaf1;       // signature, features
  arch::CpuidResult leaf7;       // (7, 0): structured extended features
  arch::CpuidResult leaf_d_1;    // (0DH, 1): XSAVE extensions
  arch::CpuidResult ext_leaf0;   // 80000000H: max extended leaf
  arch::CpuidResult ext_leaf1;   // 80000001H: extended features
  arch::CpuidResult ext_leaf8;   // 80000008H: address widths
  arch::CpuidResult hypervisor;  // 40000000H, only if CPUID.1:ECX[31]
  bool hypervisor_leaf_read = false;

  MsrValue feature_control;
  MsrValue vmx_basic;
  MsrValue pinbased_ctls;
  MsrValue procbased_ctls;
  MsrValue exit_ctls;
  MsrValue entry_ctls;
  MsrValue vmx_misc;
  MsrValue cr0_fixed0;
  MsrValue cr0_fixed1;
  MsrValue cr4_fixed0;
  MsrValue cr4_fixed1;
  MsrValue vmcs_enum;
  MsrValue procbased_ctls2;
  MsrValue ept_vpid_cap;
  MsrValue vmfunc;
  MsrValue true_pinbased_ctls;
  MsrValue true_procbased_ctls;
  MsrValue true_exit_ctls;
  MsrValue true_entry_ctls;
  MsrValue mtrr_cap;
  MsrValue mtrr_def_type;

  // --- decoded views ---
  constexpr arch::CpuVendor vendor() const { return arch::CpuVendor::from_cpuid(leaf0); }
  constexpr arch::CpuSignature signature() const {
    return arch::CpuSignature::from_cpuid_eax(leaf1.eax);
  }
  constexpr arch::CpuFeatures features() const {
    return arch::CpuFeatures::from_cpuid(leaf1, leaf7, leaf_d_1, ext_leaf1);
  }
  constexpr arch::AddressWidths address_widths() const {
    return arch::AddressWidths::from_cpuid(ext_leaf0.eax, ext_leaf8);
  }
  constexpr arch::FeatureControl feature_control_msr() const {
    return arch::FeatureControl(feature_control.value);
  }
  constexpr arch::VmxBasic basic() const { return arch::VmxBasic(vmx_basic.value); }
  constexpr arch::VmxMisc misc() const { return arch::VmxMisc(vmx_misc.value); }
  // All false when IA32_VMX_EPT_VPID_CAP was not read.
  constexpr arch::EptCapabilities ept_capabilities() const {
    return arch::EptCapabilities::from_msr(ept_vpid_cap.valid ? ept_vpid_cap.value : 0,
                                           address_widths().physical);
  }

  // The control capabilities to negotiate against: the TRUE_* MSR when IA32_VMX_BASIC[55]
  // says it exists (some default-1 controls may then be 0), else the original MSR.
  // [SDM 3D "VMX Capability Reporting Facility"]
  constexpr arch::VmxAllowedControls pinbased() const {
    return controls(pinbased_ctls, true_pinbased_ctls);
  }
  constexpr arch::VmxAllowedControls procbased() const {
    return controls(procbased_ctls, true_procbased_ctls);
  }
  constexpr arch::VmxAllowedControls exit() const { return controls(exit_ctls, true_exit_ctls); }
  constexpr arch::VmxAllowedControls entry() const { return controls(entry_ctls, true_entry_ctls); }
  // All-zero (nothing may be 1) when the secondary controls do not exist.
  constexpr arch::VmxAllowedControls procbased2() const {
    return arch::VmxAllowedControls::from_msr(procbased_ctls2.valid ? procbased_ctls2.value : 0);
  }

 private:
  constexpr arch::VmxAllowedControls controls(const MsrValue& plain,
                                              const MsrValue& true_msr) const {
    const MsrValue& chosen =
        (vmx_basic.valid && basic().true_controls() && true_msr.valid) ? true_msr : plain;
    return arch::VmxAllowedControls::from_msr(chosen.valid ? chosen.value : 0);
  }
};

namespace snapshot_detail {

template <arch::CpuIo Io>
MsrValue read(Io& io, uint32_t msr) {
  arch::Result<uint64_t> r = io.rdmsr(msr);
  return r.ok() ? MsrValue{r.value(), true} : MsrValue{};
}

template <arch::CpuIo Io>
void read_cpuid(Io& io, CpuSnapshot& s) {
  s.leaf0 = io.cpuid(0, 0);
  uint32_t max_basic = s.leaf0.eax;
  if (max_basic >= 1)
    s.leaf1 = io.cpuid(1, 0);
  if (max_basic >= 7)
    s.leaf7 = io.cpuid(7, 0);
  if (max_basic >= 0xD)
    s.leaf_d_1 = io.cpuid(0xD, 1);
  s.ext_leaf0 = io.cpuid(0x80000000, 0);
  uint32_t max_ext = s.ext_leaf0.eax;
  // Below 80000000H the value is not an extended maximum (older processors echo data).
  if (max_ext < 0x80000000)
    s.ext_leaf0 = {};
  if (s.ext_leaf0.eax >= 0x80000001)
    s.ext_leaf1 = io.cpuid(0x80000001, 0);
  if (s.ext_leaf0.eax >= arch::kCpuidAddressWidthLeaf)
    s.ext_leaf8 = io.cpuid(arch::kCpuidAddressWidthLeaf, 0);
  if (arch::test_bit(s.leaf1.ecx, 31)) {
    s.hypervisor = io.cpuid(0x40000000, 0);
    s.hypervisor_leaf_read = true;
  }
}

template <arch::CpuIo Io>
void read_vmx_msrs(Io& io, CpuSnapshot& s) {
  namespace msr = arch::msr;
  s.vmx_basic = read(io, msr::kIa32VmxBasic);
  s.pinbased_ctls = read(io, msr::kIa32VmxPinbasedCtls);
  s.procbased_ctls = read(io, msr::kIa32VmxProcbasedCtls);
  s.exit_ctls = read(io, msr::kIa32VmxExitCtls);
  s.entry_ctls = read(io, msr::kIa32VmxEntryCtls);
  s.vmx_misc = read(io, msr::kIa32VmxMisc);
  s.cr0_fixed0 = read(io, msr::kIa32VmxCr0Fixed0);
  s.cr0_fixed1 = read(io, msr::kIa32VmxCr0Fixed1);
  s.cr4_fixed0 = read(io, msr::kIa32VmxCr4Fixed0);
  s.cr4_fixed1 = read(io, msr::kIa32VmxCr4Fixed1);
  s.vmcs_enum = read(io, msr::kIa32VmxVmcsEnum);
  if (s.vmx_basic.valid && s.basic().true_controls()) {
    s.true_pinbased_ctls = read(io, msr::kIa32VmxTruePinbasedCtls);
    s.true_procbased_ctls = read(io, msr::kIa32VmxTrueProcbasedCtls);
    s.true_exit_ctls = read(io, msr::kIa32VmxTrueExitCtls);
    s.true_entry_ctls = read(io, msr::kIa32VmxTrueEntryCtls);
  }
  if (s.procbased_ctls.valid && arch::VmxAllowedControls::from_msr(s.procbased_ctls.value)
                                    .can_be_one(arch::proc_based::kSecondaryControls))
    s.procbased_ctls2 = read(io, msr::kIa32VmxProcbasedCtls2);
  arch::VmxAllowedControls secondary = s.procbased2();
  if (secondary.can_be_one(arch::proc_based2::kEpt) ||
      secondary.can_be_one(arch::proc_based2::kVpid))
    s.ept_vpid_cap = read(io, msr::kIa32VmxEptVpidCap);
  if (secondary.can_be_one(arch::proc_based2::kVmFunctions))
    s.vmfunc = read(io, msr::kIa32VmxVmfunc);
}

}  // namespace snapshot_detail

template <arch::CpuIo Io>
CpuSnapshot take_cpu_snapshot(Io& io) {
  CpuSnapshot s;
  snapshot_detail::read_cpuid(io, s);
  arch::CpuFeatures features = s.features();
  if (features.vmx || features.smx)
    s.feature_control = snapshot_detail::read(io, arch::msr::kIa32FeatureControl);
  if (features.vmx)
    snapshot_detail::read_vmx_msrs(io, s);
  if (features.mtrr) {
    s.mtrr_cap = snapshot_detail::read(io, arch::msr::kIa32MtrrCap);
    s.mtrr_def_type = snapshot_detail::read(io, arch::msr::kIa32MtrrDefType);
  }
  return s;
}

}  // namespace hv
