// Processor profiles for FakeMsrIo.
//
// Recorded under Bochs 2.7 + OVMF (shared/reference/platform.md): IA32_FEATURE_CONTROL = 0,
// IA32_VMX_BASIC, IA32_VMX_PROCBASED_CTLS2 (Ivy Bridge), IA32_VMX_EPT_VPID_CAP and
// IA32_VMX_MISC. Everything else here is synthesized: plausible values consistent with the
// recorded ones (default-1 bits per the SDM, CPUID of the named models), not measurements.
#pragma once

#include "arch/cpu_vendor.h"
#include "arch/ept_capabilities.h"
#include "arch/msr.h"
#include "arch/vmx_allowed_controls.h"
#include "arch/vmx_basic.h"
#include "arch/vmx_misc.h"
#include "fakes/fake_msr_io.h"

namespace fakes {

namespace profile_detail {

inline void intel_cpuid(FakeMsrIo& io, uint32_t signature, uint32_t leaf7_ebx, uint32_t ext1_edx) {
  io.set_cpuid(0, 0, arch::kGenuineIntelLeaf0)
      // ECX: SSE3 PCLMUL VMX SSSE3 CX16 PCID SSE4.1/4.2 x2APIC POPCNT TSC-deadline AES XSAVE AVX
      // F16C RDRAND. EDX: the usual 0xBFEBFBFF (MSR, PAE, APIC, MTRR, PAT, ...).
      .set_cpuid(1, 0, {signature, 0x00010800, 0x77BA2223, 0xBFEBFBFF})
      .set_cpuid(7, 0, {0, leaf7_ebx, 0, 0})
      .set_cpuid(0xD, 1, {0x1, 0, 0, 0})
      .set_cpuid(0x80000000, 0, {0x80000008, 0, 0, 0})
      .set_cpuid(0x80000001, 0, {0, 0, 0x1, ext1_edx})
      .set_cpuid(0x80000008, 0, {0x00003028, 0, 0, 0});  // MAXPHYADDR 40, linear 48
}

inline void intel_vmx_msrs(FakeMsrIo& io, uint64_t procbased2, uint64_t ept_vpid_cap,
                           uint64_t misc) {
  namespace msr = arch::msr;
  io.set_msr(msr::kIa32FeatureControl, 0)
      .set_msr(msr::kIa32VmxBasic, arch::kBochsIvyBridgeVmxBasic)
      .set_msr(msr::kIa32VmxPinbasedCtls, 0x0000007F'00000016)
      .set_msr(msr::kIa32VmxProcbasedCtls, 0xFFF9FFFE'0401E172)
      .set_msr(msr::kIa32VmxExitCtls, 0x007FFFFF'00036DFF)
      .set_msr(msr::kIa32VmxEntryCtls, 0x0000FFFF'000011FF)
      .set_msr(msr::kIa32VmxMisc, misc)
      .set_msr(msr::kIa32VmxCr0Fixed0, 0x80000021)
      .set_msr(msr::kIa32VmxCr0Fixed1, 0xFFFFFFFF)
      .set_msr(msr::kIa32VmxCr4Fixed0, 0x00002000)
      .set_msr(msr::kIa32VmxCr4Fixed1, 0x003767FF)
      .set_msr(msr::kIa32VmxVmcsEnum, 0x2E)
      .set_msr(msr::kIa32VmxProcbasedCtls2, procbased2)
      .set_msr(msr::kIa32VmxEptVpidCap, ept_vpid_cap)
      .set_msr(msr::kIa32VmxTruePinbasedCtls, 0x0000007F'00000016)
      .set_msr(msr::kIa32VmxTrueProcbasedCtls, 0xFFF9FFFE'04006172)
      .set_msr(msr::kIa32VmxTrueExitCtls, 0x007FFFFF'00036DFB)
      .set_msr(msr::kIa32VmxTrueEntryCtls, 0x0000FFFF'000011FB)
      .set_msr(msr::kIa32MtrrCap, 0x508)
      .set_msr(msr::kIa32MtrrDefType, 0xC06);
}

}  // namespace profile_detail

// Bochs `corei7_ivy_bridge_3770k`: EPT without A/D, no 1 GiB pages.
inline FakeMsrIo bochs_ivy_bridge() {
  FakeMsrIo io;
  profile_detail::intel_cpuid(io, 0x000306A9, 0x00000281, 0x28100800);
  profile_detail::intel_vmx_msrs(io, arch::kBochsIvyBridgeProcbasedCtls2,
                                 arch::kBochsIvyBridgeEptVpidCap, arch::kBochsIvyBridgeVmxMisc);
  return io;
}

// Bochs `corei7_haswell_4770`: EPT A/D and 1 GiB pages. Secondary controls synthesized
// (Ivy Bridge's plus INVPCID and VM functions), hence IA32_VMX_VMFUNC exists.
inline FakeMsrIo bochs_haswell() {
  FakeMsrIo io;
  profile_detail::intel_cpuid(io, 0x000306C3, 0x000027AB, 0x2C100800);
  profile_detail::intel_vmx_msrs(io, 0x000037FF'00000000, arch::kBochsHaswellEptVpidCap,
                                 arch::kBochsHaswellVmxMisc);
  io.set_msr(arch::msr::kIa32VmxVmfunc, 0x1);
  return io;
}

// Firmware locked IA32_FEATURE_CONTROL with VMX off (a BIOS "VT-x disabled" setting).
inline FakeMsrIo locked_vmx_off() {
  FakeMsrIo io = bochs_ivy_bridge();
  io.set_msr(arch::msr::kIa32FeatureControl, 0x1);
  return io;
}

// QEMU/KVM nested with OVMF: feature control locked with VMX on, a hypervisor present.
inline FakeMsrIo kvm_nested() {
  FakeMsrIo io = bochs_haswell();
  io.set_msr(arch::msr::kIa32FeatureControl, 0x40005)
      .set_cpuid(1, 0, {0x000306C3, 0x00010800, 0xF7BA2223, 0xBFEBFBFF})  // + ECX[31]
      .set_cpuid(0x40000000, 0, {0x40000001, 0x4B4D564B, 0x564B4D56, 0x0000004D});
  return io;
}

// An AMD processor (as this machine, or QEMU TCG's default): no VMX, no VMX MSRs at all.
inline FakeMsrIo amd_no_vmx() {
  FakeMsrIo io;
  io.set_cpuid(0, 0, arch::kAuthenticAmdLeaf0)
      .set_cpuid(1, 0, {0x00A20F12, 0x00020800, 0x7EF8320B, 0x178BFBFF})
      .set_cpuid(7, 0, {0, 0x219C97A9, 0x0040068C, 0})
      .set_cpuid(0xD, 1, {0xF, 0, 0, 0})
      .set_cpuid(0x80000000, 0, {0x80000023, 0, 0, 0})
      .set_cpuid(0x80000001, 0, {0, 0, 0x75C237FF, 0x2FD3FBFF})
      .set_cpuid(0x80000008, 0, {0x00003030, 0, 0, 0})
      .set_msr(arch::msr::kIa32MtrrCap, 0x508)
      .set_msr(arch::msr::kIa32MtrrDefType, 0xC00);
  return io;
}

}  // namespace fakes
