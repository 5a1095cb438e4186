// The CPUID feature flags agevisor decides anything on. Leaves the processor does not have
// are passed as all-zero results, so their features read as absent. [SDM 2A "CPUID"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/cpu_io.h"

namespace arch {

struct CpuFeatures {
  // CPUID.1:ECX
  bool vmx = false;           // bit 5
  bool smx = false;           // bit 6
  bool pcid = false;          // bit 17
  bool x2apic = false;        // bit 21
  bool tsc_deadline = false;  // bit 24
  bool xsave = false;         // bit 26
  bool osxsave = false;       // bit 27
  bool hypervisor = false;    // bit 31: set by hypervisors for their guests
  // CPUID.1:EDX
  bool msr = false;   // bit 5
  bool pae = false;   // bit 6
  bool apic = false;  // bit 9
  bool mtrr = false;  // bit 12
  bool pat = false;   // bit 16
  // CPUID.(EAX=7,ECX=0)
  bool invpcid = false;  // EBX bit 10
  bool waitpkg = false;  // ECX bit 5: TPAUSE/UMONITOR/UMWAIT
  bool rdpid = false;    // ECX bit 22
  // CPUID.(EAX=0DH,ECX=1):EAX
  bool xsaves = false;  // bit 3
  // CPUID.80000001H:EDX
  bool nx = false;         // bit 20
  bool pages_1g = false;   // bit 26
  bool rdtscp = false;     // bit 27
  bool long_mode = false;  // bit 29

  static constexpr CpuFeatures from_cpuid(const CpuidResult& leaf1, const CpuidResult& leaf7,
                                          const CpuidResult& leaf_d_1,
                                          const CpuidResult& ext_leaf1) {
    CpuFeatures f;
    f.vmx = test_bit(leaf1.ecx, 5);
    f.smx = test_bit(leaf1.ecx, 6);
    f.pcid = test_bit(leaf1.ecx, 17);
    f.x2apic = test_bit(leaf1.ecx, 21);
    f.tsc_deadline = test_bit(leaf1.ecx, 24);
    f.xsave = test_bit(leaf1.ecx, 26);
    f.osxsave = test_bit(leaf1.ecx, 27);
    f.hypervisor = test_bit(leaf1.ecx, 31);
    f.msr = test_bit(leaf1.edx, 5);
    f.pae = test_bit(leaf1.edx, 6);
    f.apic = test_bit(leaf1.edx, 9);
    f.mtrr = test_bit(leaf1.edx, 12);
    f.pat = test_bit(leaf1.edx, 16);
    f.invpcid = test_bit(leaf7.ebx, 10);
    f.waitpkg = test_bit(leaf7.ecx, 5);
    f.rdpid = test_bit(leaf7.ecx, 22);
    f.xsaves = test_bit(leaf_d_1.eax, 3);
    f.nx = test_bit(ext_leaf1.edx, 20);
    f.pages_1g = test_bit(ext_leaf1.edx, 26);
    f.rdtscp = test_bit(ext_leaf1.edx, 27);
    f.long_mode = test_bit(ext_leaf1.edx, 29);
    return f;
  }
};

// CPUID.1:ECX bits the hypervisor edits in its guests' view.
inline constexpr uint32_t kCpuid1EcxVmx = 1u << 5;
inline constexpr uint32_t kCpuid1EcxHypervisor = 1u << 31;

}  // namespace arch
