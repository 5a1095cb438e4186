// Probes of the exits agevisor emulates with care: CR0 writes and LMSW (CR0.PE and PG always
// exit), MOV SS followed by an emulated instruction under single-step, XSETBV's #GP rules,
// MSRs whose writes agevisor forwards (MTRRs) or whose reads fault (x2APIC off).
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/vmx_cr_fixed.h"
#include "probe_runner.h"
#include "probes.h"

namespace payload {
namespace {

constexpr uint64_t kCr0Pe = uint64_t{1} << 0;
constexpr uint64_t kCr0Pg = uint64_t{1} << 31;

void do_write_cr0(Io& io) { arch::target::write_cr0(io.a); }
void do_lmsw(Io& io) {
  const auto msw = static_cast<uint16_t>(io.a);
  asm volatile("lmsw %0" : : "r"(msw) : "memory");
  io.b = arch::target::read_cr0();
}
void do_xsetbv(Io& io) {
  asm volatile("xsetbv"
               :
               : "c"(0u), "a"(static_cast<uint32_t>(io.a)), "d"(static_cast<uint32_t>(io.a >> 32))
               : "memory");
}
void do_xgetbv(Io& io) { io.a = arch::target::xgetbv(0); }
// MOV SS holds back the single-step trap for one instruction: it arrives after CPUID, which
// agevisor emulates with blocking by MOV SS in effect.
void do_tf_mov_ss_cpuid(Io& io) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\tmov %%ss, %%esi\n\txor %%eax, %%eax\n\t"
      "pushfq\n\torq %1, (%%rsp)\n\tpopfq\n\tmov %%esi, %%ss\n\tcpuid\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf)
      : "rax", "rbx", "rcx", "rdx", "rsi", "memory");
}

// VMCALL (version) under single-step: #UD without a hypervisor; under agevisor it completes
// and the trap must follow it.
void do_tf_vmcall(Io& io) {
  asm volatile(
      "lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\tmov $0x61670000, %%eax\n\tpushfq\n\t"
      "orq %1, (%%rsp)\n\tpopfq\n\tvmcall\n1:\tnop\n\tnop"
      : "=m"(io.expected_rip)
      : "i"(kRflagsTf)
      : "rax", "rbx", "rcx", "rdx", "memory");
}

int write_cr0_probe(uint64_t value) {
  g_io.a = value;
  return caught_with_cr4<do_write_cr0>(0, 0);
}

void xsetbv_probes(const ProbeFacts& f) {
  if (!f.xsave)
    return;
  const auto leaf = arch::target::cpuid(0xD, 0);
  const uint64_t supported = (uint64_t{leaf.edx} << 32) | leaf.eax;
  caught_with_cr4<do_xgetbv>(arch::kCr4Osxsave, 0);
  const uint64_t xcr0 = g_io.a;
  g_io.a = xcr0 | (uint64_t{1} << 63);
  report("xsetbv_reserved_bit63", caught_with_cr4<do_xsetbv>(arch::kCr4Osxsave, 0));
  if ((supported & 0x7) == 0x7) {
    g_io.a = 0x5;
    report("xsetbv_avx_without_sse", caught_with_cr4<do_xsetbv>(arch::kCr4Osxsave, 0));
    g_io.a = 0x7;
    report("xsetbv_x87_sse_avx", caught_with_cr4<do_xsetbv>(arch::kCr4Osxsave, 0));
    caught_with_cr4<do_xgetbv>(arch::kCr4Osxsave, 0);
    const uint64_t now = g_io.a;
    g_io.a = xcr0;
    const int restored = caught_with_cr4<do_xsetbv>(arch::kCr4Osxsave, 0);
    line("probe xsetbv_x87_sse_avx_reads_back none %#lx restored %s", now, vector_name(restored));
  }
}

}  // namespace

void run_system_probes(const ProbeFacts& f) {
  const uint64_t cr0 = arch::target::read_cr0();
  if (!f.qemu_tcg) {  // TCG lets these through and then aborts (translator_access assertion)
    report("mov_cr0_clear_pe", write_cr0_probe(cr0 & ~kCr0Pe));
    report("mov_cr0_clear_pg", write_cr0_probe(cr0 & ~kCr0Pg));
    report("mov_cr0_bit63", write_cr0_probe(cr0 | (uint64_t{1} << 63)));
  }
  report("mov_cr0_same", write_cr0_probe(cr0));
  g_io.a = cr0 & 0xFFFE;  // LMSW cannot clear PE
  g_io.b = 0;
  const int lmsw = caught_with_cr4<do_lmsw>(0, 0);
  report_value("lmsw_without_pe", lmsw, g_io.b);

  report_single_step_at("mov_ss_cpuid_single_step", caught<do_tf_mov_ss_cpuid>());
  report_single_step_at("vmcall_single_step", caught<do_tf_vmcall>());

  g_io.c = 0x802;  // x2APIC ID: #GP while the local APIC is in xAPIC mode
  report("rdmsr_x2apic_id", caught<do_rdmsr>());
  g_io.c = 0x2FF;
  caught<do_rdmsr>();
  const uint64_t def_type = g_io.a;
  g_io.a = (def_type & ~uint64_t{0xFF}) | 2;  // memory type 2 is reserved
  g_io.c = 0x2FF;
  const int reserved_type = caught<do_wrmsr>();
  report("wrmsr_mtrr_def_type_reserved_type", reserved_type);
  if (reserved_type < 0) {  // QEMU's TCG takes it: put the real value back
    g_io.a = def_type;
    g_io.c = 0x2FF;
    caught<do_wrmsr>();
  }

  xsetbv_probes(f);
}

}  // namespace payload
