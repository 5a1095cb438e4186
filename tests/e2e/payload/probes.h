// The probes: instructions whose outcome (the exception they raise, or none, and sometimes a
// value) the payload reports as "probe <name> <result> [<value>]" lines, and the facts the
// checks need. tools/payload_check.py compares the lines of a run without agevisor with
// those of a run under it.
#pragma once

#include <cstdint>

namespace payload {

struct ProbeFacts {
  // CPUID as the payload sees it
  bool hypervisor_bit = false;
  bool agevisor = false;  // bit 31 and agevisor's signature
  bool qemu_tcg = false;  // bit 31 and TCG's signature
  bool vmx = false;
  bool xsave = false;
  bool rdtscp = false;
  bool rdpid = false;
  bool invpcid = false;
  bool xsaves = false;
  bool pku = false;
  uint32_t hypervisor_leaf[4] = {};
  uint32_t apic_id = 0;
  // outcomes (vectors, -1 = none)
  int rdtscp_vector = -1;
  int rdpid_vector = -1;
  int invpcid_vector = -1;
  int xsaves_vector = -1;
  int xsetbv_bad_vector = -1;
  int xsetbv_same_vector = -1;
  int cr4_vmxe_vector = -1;
  int vmxon_vector = -1;
  bool osxsave_follows_cr4 = true;
  bool ospke_follows_cr4 = true;
};

// Runs every probe, prints its line, fills `facts`.
void run_probes(ProbeFacts& facts);

// CR0/LMSW, MOV SS + single-step, XSETBV rules, MTRR and x2APIC MSRs (system_probes.cc).
void run_system_probes(const ProbeFacts& facts);

// VMCALL with RAX..RDX; -1 or the vector it raised.
struct VmcallRegs {
  uint64_t rax, rbx, rcx, rdx;
};
int vmcall(VmcallRegs& regs);

// RDMSR / WRMSR with exceptions caught: -1 or the vector.
int read_msr(uint32_t msr, uint64_t* value);
int write_msr(uint32_t msr, uint64_t value);

}  // namespace payload
