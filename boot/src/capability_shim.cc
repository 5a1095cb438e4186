#include "boot/capability_shim.h"

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/msr.h"
#include "arch/target/target_cpu_io.h"
#include "hv/target/log.h"
#include "mm/tracking_mode.h"

namespace boot {

ShimVerdict print_capabilities_shim() {
  arch::target::TargetCpuIo io;
  arch::CpuidResult vendor = io.cpuid(0, 0);
  char name[13];
  for (int i = 0; i < 4; ++i) {
    name[i] = static_cast<char>(vendor.ebx >> (8 * i));
    name[4 + i] = static_cast<char>(vendor.edx >> (8 * i));
    name[8 + i] = static_cast<char>(vendor.ecx >> (8 * i));
  }
  name[12] = '\0';
  arch::CpuidResult leaf1 = io.cpuid(1, 0);
  uint32_t family = static_cast<uint32_t>(arch::extract(leaf1.eax, 11, 8));
  uint32_t model = static_cast<uint32_t>(arch::extract(leaf1.eax, 7, 4));
  if (family == 6 || family == 15) {
    model |= static_cast<uint32_t>(arch::extract(leaf1.eax, 19, 16)) << 4;
  }
  if (family == 15) {
    family += static_cast<uint32_t>(arch::extract(leaf1.eax, 27, 20));
  }
  hv::log::printf("cpu: %s family %u model %u", name, family, model);
  bool vmx = arch::test_bit(leaf1.ecx, 5);  // [SDM 3C "Discovering Support for VMX"]
  hv::log::printf("VMX: %s", vmx ? "yes" : "no");
  if (!vmx) {
    return {false, "the processor does not offer VMX (CPUID.1:ECX.VMX = 0)"};
  }
  // Present whenever CPUID reports VMX; the secondary controls and EPT capability MSRs
  // only when the allowed-1 bits of the control MSRs below them say so.
  uint64_t feature_control = io.rdmsr(arch::msr::kIa32FeatureControl).value_or(0);
  uint64_t basic = io.rdmsr(arch::msr::kIa32VmxBasic).value_or(0);
  uint64_t procbased = io.rdmsr(arch::msr::kIa32VmxProcbasedCtls).value_or(0);
  hv::log::printf("IA32_FEATURE_CONTROL: 0x%llx", static_cast<unsigned long long>(feature_control));
  hv::log::printf("IA32_VMX_BASIC: 0x%llx", static_cast<unsigned long long>(basic));
  uint64_t procbased2 = 0;
  if (arch::test_bit(procbased, 63)) {
    procbased2 = io.rdmsr(arch::msr::kIa32VmxProcbasedCtls2).value_or(0);
  }
  hv::log::printf("IA32_VMX_PROCBASED_CTLS2: 0x%llx", static_cast<unsigned long long>(procbased2));
  bool ept = arch::test_bit(procbased2, 32 + 1);
  if (!ept) {
    return {false, "the processor offers no EPT"};
  }
  uint64_t ept_vpid_cap = io.rdmsr(arch::msr::kIa32VmxEptVpidCap).value_or(0);
  hv::log::printf("IA32_VMX_EPT_VPID_CAP: 0x%llx", static_cast<unsigned long long>(ept_vpid_cap));
  auto caps = arch::EptCapabilities::from_msr(ept_vpid_cap, 36);
  hv::log::printf("EPT A/D: %s", caps.accessed_dirty ? "yes" : "no");
  mm::TrackingMode mode =
      caps.accessed_dirty ? mm::TrackingMode::kAccessedBit : mm::TrackingMode::kRwxStash;
  hv::log::printf("access tracking mode: %s", mm::tracking_mode_name(mode));
  if ((feature_control & 1) != 0 && (feature_control & 4) == 0) {
    return {false, "IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled"};
  }
  return {true, ""};
}

}  // namespace boot
