#include "probes.h"

#include "arch/cpu_io.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/vmx_cr_fixed.h"
#include "fault_catcher.h"
#include "hv/guest_cpuid.h"
#include "output.h"
#include "probe_runner.h"

namespace payload {
namespace {

using arch::target::cpuid;

// --- the probed instructions; each reads and writes g_io ---
void do_xgetbv(Io& io) {
  uint32_t lo = 0, hi = 0;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(static_cast<uint32_t>(io.c)));
  io.a = (uint64_t{hi} << 32) | lo;
}
void do_xsetbv(Io& io) {
  asm volatile("xsetbv"
               :
               : "c"(static_cast<uint32_t>(io.c)), "a"(static_cast<uint32_t>(io.a)),
                 "d"(static_cast<uint32_t>(io.a >> 32))
               : "memory");
}
void do_rdtscp(Io& io) {
  uint32_t lo = 0, hi = 0, aux = 0;
  asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
  io.c = aux;
}
void do_rdpid(Io& io) {
  asm volatile(".byte 0xF3, 0x48, 0x0F, 0xC7, 0xF8" : "=a"(io.a));
}  // rdpid rax
void do_invpcid(Io& io) {
  const uint64_t type = 2;  // all contexts, globals included: needs no PCID support
  asm volatile("invpcid %0, %1" : : "m"(*io.area), "r"(type) : "memory");
}
void do_xsaves(Io& io) {
  asm volatile("xsaves64 %0" : "=m"(*io.area) : "a"(1u), "d"(0u) : "memory");  // x87 only
}
void do_vmxon(Io& io) { asm volatile("vmxon %0" : : "m"(io.a) : "memory", "cc"); }
void do_vmptrst(Io& io) { asm volatile("vmptrst %0" : "=m"(io.a) : : "memory", "cc"); }
void do_invept(Io& io) {
  const uint64_t type = 2;
  asm volatile("invept %0, %1" : : "m"(*io.area), "r"(type) : "memory", "cc");
}
void do_getsec(Io& io) {
  uint32_t leaf = 0;  // CAPABILITIES
  asm volatile("getsec" : "+a"(leaf) : : "ebx", "ecx", "edx", "memory");
  io.a = leaf;
}
void do_vmcall(Io& io) {
  asm volatile("vmcall" : "+a"(io.a), "+b"(io.b), "+c"(io.c), "+d"(io.d) : : "memory");
}
void do_cr4_vmxe(Io&) {
  const uint64_t cr4 = arch::target::read_cr4();
  arch::target::write_cr4(cr4 | arch::kCr4Vmxe);
  arch::target::write_cr4(cr4);
}
void do_cr4_bit63(Io&) { arch::target::write_cr4(arch::target::read_cr4() | (uint64_t{1} << 63)); }
void do_cr0_nw_without_cd(Io&) {
  const uint64_t cr0 = arch::target::read_cr0();
  arch::target::write_cr0((cr0 | (uint64_t{1} << 29)) & ~(uint64_t{1} << 30));
  arch::target::write_cr0(cr0);
}
void do_ud2(Io&) { asm volatile("ud2"); }
void do_int3(Io&) { asm volatile("int3"); }
void do_cpuid_1_osxsave(Io& io) { io.a = (cpuid(1, 0).ecx >> 27) & 1; }
void do_cpuid_7_ospke(Io& io) { io.a = (cpuid(7, 0).ecx >> 4) & 1; }
// Single step: POPF sets TF, the next instruction runs, then #DB must point just past it.
// agevisor emulates CPUID, RDMSR and XSETBV, so it must pend that trap itself.
void do_tf_nop(Io& io) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\tpushfq\n\torq %1, (%%rsp)\n\tpopfq\n\t"
      "nop\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf)
      : "rax", "memory");
}
void do_tf_cpuid(Io& io) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\txor %%eax, %%eax\n\tpushfq\n\t"
      "orq %1, (%%rsp)\n\tpopfq\n\tcpuid\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf)
      : "rax", "rbx", "rcx", "rdx", "memory");
}
void do_tf_rdmsr(Io& io) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\tmov %2, %%ecx\n\tpushfq\n\t"
      "orq %1, (%%rsp)\n\tpopfq\n\trdmsr\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf), "i"(kUnknownMsr)
      : "rax", "rcx", "rdx", "memory");
}
void do_tf_xsetbv(Io& io) {  // writes XCR0 back unchanged (io.a)
  asm volatile(
      "lea 1f(%%rip), %%r8\n\tmov %%r8, %0\n\tpushfq\n\torq %1, (%%rsp)\n\tpopfq\n\t"
      "xsetbv\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf), "a"(static_cast<uint32_t>(io.a)), "d"(static_cast<uint32_t>(io.a >> 32)),
        "c"(0u)
      : "r8", "memory");
}

int msr_probe(const char* name, uint32_t msr) {
  g_io.c = msr;
  g_io.a = 0;
  const int v = caught<do_rdmsr>();
  report_value(name, v, v < 0 ? g_io.a : 0);
  return v;
}

void cpuid_probes(ProbeFacts& f) {
  const auto l1 = cpuid(1, 0);
  const auto l7 = cpuid(7, 0);
  const auto ld1 = cpuid(0xD, 1);
  const auto le1 = cpuid(0x8000'0001, 0);
  const auto hv_leaf = cpuid(0x4000'0000, 0);
  f.hypervisor_bit = (l1.ecx >> 31) & 1;
  f.vmx = (l1.ecx >> 5) & 1;
  f.xsave = (l1.ecx >> 26) & 1;
  f.rdtscp = (le1.edx >> 27) & 1;
  f.rdpid = (l7.ecx >> 22) & 1;
  f.invpcid = (l7.ebx >> 10) & 1;
  f.xsaves = (ld1.eax >> 3) & 1;
  f.pku = (l7.ecx >> 3) & 1;
  f.apic_id = l1.ebx >> 24;
  f.hypervisor_leaf[0] = hv_leaf.eax;
  f.hypervisor_leaf[1] = hv_leaf.ebx;
  f.hypervisor_leaf[2] = hv_leaf.ecx;
  f.hypervisor_leaf[3] = hv_leaf.edx;
  f.agevisor = f.hypervisor_bit && hv::is_agevisor_signature(hv_leaf);
  f.qemu_tcg = f.hypervisor_bit && hv_leaf.ebx == 0x5447'4354;  // "TCGT"
  constexpr uint32_t kLeaf1Deliberate = (1u << 5) | (1u << 31);
  line("probe cpuid_1 none %08x %08x %08x %08x", l1.eax, l1.ebx, l1.ecx & ~kLeaf1Deliberate,
       l1.edx);
  line("probe cpuid_1_ecx_vmx none %u", f.vmx ? 1 : 0);
  line("probe cpuid_1_ecx_hypervisor none %u", f.hypervisor_bit ? 1 : 0);
  line("probe cpuid_40000000 none %08x %08x %08x %08x", hv_leaf.eax, hv_leaf.ebx, hv_leaf.ecx,
       hv_leaf.edx);
}

// Every basic leaf up to 20H (with the subleaves that matter) and the extended leaves up to
// 80000008H, as the guest sees them. Leaf 1 is reported above with the deliberate bits apart.
void cpuid_dump() {
  const uint32_t max_basic = cpuid(0, 0).eax < 0x20 ? cpuid(0, 0).eax : 0x20;
  for (uint32_t leaf = 0; leaf <= max_basic; ++leaf) {
    if (leaf == 1)
      continue;
    const uint32_t subleaves = leaf == 4 || leaf == 0xD ? 4 : leaf == 7 || leaf == 0xB ? 2 : 1;
    for (uint32_t sub = 0; sub < subleaves; ++sub) {
      const auto r = cpuid(leaf, sub);
      line("probe cpuid_%x_%x none %08x %08x %08x %08x", leaf, sub, r.eax, r.ebx, r.ecx, r.edx);
    }
  }
  const uint32_t max_ext = cpuid(0x8000'0000, 0).eax;
  for (uint32_t leaf = 0x8000'0000; leaf <= max_ext && leaf <= 0x8000'0008; ++leaf) {
    const auto r = cpuid(leaf, 0);
    line("probe cpuid_%x_0 none %08x %08x %08x %08x", leaf, r.eax, r.ebx, r.ecx, r.edx);
  }
}

struct NamedMsr {
  const char* name;
  uint32_t msr;
};

// MSRs whose values do not drift between two runs a minute apart (no TSC, APERF, MPERF).
constexpr NamedMsr kMsrs[] = {
    {"rdmsr_unknown", kUnknownMsr},     {"rdmsr_hypervisor_range", kHypervisorRangeMsr},
    {"rdmsr_vmx_basic", 0x480},         {"rdmsr_feature_control", 0x3A},
    {"rdmsr_platform_id", 0x17},        {"rdmsr_apic_base", 0x1B},
    {"rdmsr_tsc_adjust", 0x3B},         {"rdmsr_spec_ctrl", 0x48},
    {"rdmsr_bios_sign_id", 0x8B},       {"rdmsr_platform_info", 0xCE},
    {"rdmsr_sysenter_cs", 0x174},       {"rdmsr_sysenter_esp", 0x175},
    {"rdmsr_sysenter_eip", 0x176},      {"rdmsr_misc_enable", 0x1A0},
    {"rdmsr_debugctl", 0x1D9},          {"rdmsr_tsc_deadline", 0x6E0},
    {"rdmsr_efer", 0xC000'0080},        {"rdmsr_star", 0xC000'0081},
    {"rdmsr_lstar", 0xC000'0082},       {"rdmsr_cstar", 0xC000'0083},
    {"rdmsr_fmask", 0xC000'0084},       {"rdmsr_fs_base", 0xC000'0100},
    {"rdmsr_gs_base", 0xC000'0101},     {"rdmsr_kernel_gs_base", 0xC000'0102},
    {"rdmsr_tsc_aux", 0xC000'0103},     {"rdmsr_pat", 0x277},
    {"rdmsr_mtrr_cap", 0xFE},           {"rdmsr_mtrr_def_type", 0x2FF},
    {"rdmsr_mtrr_physbase0", 0x200},    {"rdmsr_mtrr_physmask0", 0x201},
    {"rdmsr_mtrr_fix64k_00000", 0x250}, {"rdmsr_mtrr_fix4k_f8000", 0x26F},
};

}  // namespace

int vmcall(VmcallRegs& r) {
  g_io.a = r.rax;
  g_io.b = r.rbx;
  g_io.c = r.rcx;
  g_io.d = r.rdx;
  const int v = caught<do_vmcall>();
  r = {g_io.a, g_io.b, g_io.c, g_io.d};
  return v;
}

int read_msr(uint32_t msr, uint64_t* value) {
  g_io.c = msr;
  g_io.a = 0;
  const int v = caught<do_rdmsr>();
  *value = g_io.a;
  return v;
}

int write_msr(uint32_t msr, uint64_t value) {
  g_io.c = msr;
  g_io.a = value;
  return caught<do_wrmsr>();
}

void run_probes(ProbeFacts& f) {
  cpuid_probes(f);
  cpuid_dump();
  report("ud2", caught<do_ud2>());
  report("int3", caught<do_int3>());

  // Instructions agevisor must enable (or hide): no #UD where CPUID advertises them.
  g_io.c = 0;
  f.rdtscp_vector = caught<do_rdtscp>();
  report_value("rdtscp", f.rdtscp_vector, g_io.c);  // ECX = IA32_TSC_AUX
  g_io.a = 0;
  f.rdpid_vector = caught<do_rdpid>();
  report_value("rdpid", f.rdpid_vector, g_io.a);
  report("invpcid", f.invpcid_vector = caught<do_invpcid>());
  const uint64_t osxsave = f.xsave ? arch::kCr4Osxsave : 0;
  report("xsaves", f.xsaves_vector = caught_with_cr4<do_xsaves>(osxsave, 0));

  // XSETBV (always exits) and the CR4-derived CPUID bit, with CR4.OSXSAVE set and clear.
  if (f.xsave) {
    g_io.c = 0;
    const int got = caught_with_cr4<do_xgetbv>(osxsave, 0);
    const uint64_t xcr0 = g_io.a;
    report_value("xgetbv_0", got, xcr0);
    g_io.a = xcr0;
    g_io.c = 0;
    report("xsetbv_same", f.xsetbv_same_vector = caught_with_cr4<do_xsetbv>(osxsave, 0));
    g_io.a = 0;  // x87 must stay enabled
    report("xsetbv_zero", f.xsetbv_bad_vector = caught_with_cr4<do_xsetbv>(osxsave, 0));
    g_io.a = 1;
    g_io.c = 1;  // XCR1 cannot be written
    report("xsetbv_xcr1", caught_with_cr4<do_xsetbv>(osxsave, 0));
    g_io.a = xcr0;
    g_io.c = 0;
    report("xsetbv_without_osxsave", caught_with_cr4<do_xsetbv>(0, arch::kCr4Osxsave));
    g_io.a = xcr0;
    report_single_step_at("xsetbv_single_step", caught_with_cr4<do_tf_xsetbv>(osxsave, 0));
    caught_with_cr4<do_cpuid_1_osxsave>(osxsave, 0);
    const uint64_t with = g_io.a;
    caught_with_cr4<do_cpuid_1_osxsave>(0, arch::kCr4Osxsave);
    const uint64_t without = g_io.a;
    line("probe cpuid_1_osxsave_follows_cr4 none %lu%lu", without, with);
    f.osxsave_follows_cr4 = with == 1 && without == 0;
  }
  if (f.pku) {
    caught_with_cr4<do_cpuid_7_ospke>(arch::kCr4Pke, 0);
    const uint64_t with = g_io.a;
    caught_with_cr4<do_cpuid_7_ospke>(0, arch::kCr4Pke);
    const uint64_t without = g_io.a;
    line("probe cpuid_7_ospke_follows_cr4 none %lu%lu", without, with);
    f.ospke_follows_cr4 = with == 1 && without == 0;
  }

  // VMX is hidden: VMX instructions and GETSEC raise #UD, CR4.VMXE cannot be set.
  report("vmxon", f.vmxon_vector = caught<do_vmxon>());
  report("vmptrst", caught<do_vmptrst>());
  report("invept", caught<do_invept>());
  report("getsec", caught<do_getsec>());
  // Control-register writes the processor must reject. QEMU's TCG (it announces itself as
  // "TCGTCGTCGTCG") hangs on a MOV to CR4 with VMXE or bit 63 set, so those two are skipped
  // there (it also lets NW-without-CD through: the same in both runs).
  if (!f.qemu_tcg) {
    report("mov_cr4_vmxe", f.cr4_vmxe_vector = caught_with_cr4<do_cr4_vmxe>(0, 0));
    report("mov_cr4_bit63", caught_with_cr4<do_cr4_bit63>(0, 0));
  }
  report("mov_cr0_nw_without_cd", caught_with_cr4<do_cr0_nw_without_cd>(0, 0));
  VmcallRegs version{0x6167'0000, 0, 0, 0};
  report("vmcall", vmcall(version));

  // Single-stepping over an instruction agevisor emulates still traps right after it.
  report_single_step_at("nop_single_step", caught<do_tf_nop>());
  report_single_step_at("cpuid_single_step", caught<do_tf_cpuid>());
  report_single_step_at("rdmsr_single_step", caught<do_tf_rdmsr>());

  // MSRs: unknown ones read as without agevisor; the VMX capability MSRs are hidden.
  for (const NamedMsr& m : kMsrs)
    msr_probe(m.name, m.msr);
  g_io.c = kUnknownMsr;
  g_io.a = 0;
  report("wrmsr_unknown", caught<do_wrmsr>());
  g_io.c = 0x480;  // read-only everywhere; hidden under agevisor
  g_io.a = 0;
  report("wrmsr_vmx_basic", caught<do_wrmsr>());
  uint64_t efer = 0;
  read_msr(0xC000'0080, &efer);
  g_io.c = 0xC000'0080;
  g_io.a = efer;
  report("wrmsr_efer_same", caught<do_wrmsr>());

  // What the guest sees of its own control and descriptor registers.
  line("probe read_cr0 none %#lx", arch::target::read_cr0());
  line("probe read_cr4 none %#lx", arch::target::read_cr4());
  line("probe read_tr none %#x", arch::target::read_tr());
  line("probe read_ldtr none %#x", arch::target::read_ldtr());
  const auto gdtr = arch::target::sgdt();
  line("probe sgdt none %#lx/%#x", gdtr.base, gdtr.limit);
}

}  // namespace payload
