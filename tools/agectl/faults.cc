// agectl faults: a fault the processor delivers itself must reach the guest's handler and
// come back, also when the handler's code was aged away by the pass just before it.
//
// After an aging pass every RAM leaf is tracked (rwx-stash) or has A clear (accessed-bit).
// agectl then uses its IDT, GDT and stack again, so those leaves are restored, and executes
// UD2: the processor delivers the #UD without a VM exit, and only the fetch of the handler's
// first instruction meets the EPT (the handler sits alone in a 2 MiB region nothing else
// uses). That VM exit comes after the delivery completed: the saved RIP must be the
// handler's, with the frame already on the stack. The handler counts, records the RIP it
// was given and steps over the UD2; agectl checks one handler run per UD2, the UD2's own
// address, and RSP unchanged across it.
//
// The IDT is agectl's own for the test (a copy of the firmware's with a new #UD gate),
// loaded with interrupts off, and the firmware's is put back after every round.
#include <cstddef>
#include <cstdint>

#include "agectl_efi.h"
#include "arch/idt_gate.h"
#include "arch/interruptibility_state.h"
#include "arch/target/registers.h"

extern "C" {
// The #UD handler (below), copied into the isolated region: its counter and last RIP sit
// after its code, in the same copy, and are reached RIP-relative.
extern const uint8_t agectl_ud_stub_start[];
extern const uint8_t agectl_ud_stub_count[];
extern const uint8_t agectl_ud_stub_rip[];
extern const uint8_t agectl_ud_stub_end[];
}

asm(R"(
    .text
    .balign 16
    .globl agectl_ud_stub_start, agectl_ud_stub_count, agectl_ud_stub_rip, agectl_ud_stub_end
agectl_ud_stub_start:
    pushq %rax
    movq 8(%rsp), %rax
    movq %rax, agectl_ud_stub_rip(%rip)
    addq $2, 8(%rsp)
    lock incq agectl_ud_stub_count(%rip)
    popq %rax
    iretq
    .balign 8
agectl_ud_stub_count:
    .quad 0
agectl_ud_stub_rip:
    .quad 0
agectl_ud_stub_end:
)");

namespace agectl {
namespace {

using arch::target::DescriptorTableRegister;

constexpr unsigned kUdVector = 6;
constexpr unsigned kFaultsPerRound = 20;
constexpr uint64_t kRegion = uint64_t{2} << 20;  // one 2 MiB leaf

volatile uint64_t sink = 0;

// After the pass: the IDT gate and the GDT are read again (their leaves restored), so the
// delivery itself needs nothing from the EPT; the stack is in use anyway.
void touch_tables(const DescriptorTableRegister& idtr) {
  const DescriptorTableRegister gdtr = arch::target::sgdt();
  const auto* gate = reinterpret_cast<const volatile uint64_t*>(idtr.base + kUdVector * 16);
  const auto* gdt = reinterpret_cast<const volatile uint64_t*>(gdtr.base);
  uint64_t sum = gate[0] + gate[1];
  for (uint64_t i = 0; i < (gdtr.limit + 1u) / 8; ++i)
    sum += gdt[i];
  sink = sum;
}

struct UdResult {
  uint64_t rip;        // the UD2's address
  uint64_t rsp_delta;  // RSP after it minus RSP before it: 0
};

UdResult raise_ud() {
  uint64_t rip = 0;
  uint64_t before = 0;
  uint64_t after = 0;
  asm volatile(
      "lea 1f(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "1: ud2\n\t"
      "mov %%rsp, %2\n\t"
      : "=&r"(rip), "=&r"(before), "=&r"(after)
      :
      : "memory");
  return {rip, after - before};
}

}  // namespace

EFI_STATUS run_faults(const Args& args) {
  auto* bs = g_system->BootServices;
  // Two regions' worth, so that one whole 2 MiB-aligned region lies inside: the stub's.
  // Loader code: the firmware keeps it executable.
  constexpr UINTN kPages = 2 * kRegion / 4096;
  EFI_PHYSICAL_ADDRESS block = 0;
  EFI_PHYSICAL_ADDRESS idt_page = 0;
  if (EFI_ERROR(bs->AllocatePages(AllocateAnyPages, EfiLoaderCode, kPages, &block)) ||
      EFI_ERROR(bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 1, &idt_page))) {
    say("agectl: faults: cannot allocate the handler's region and an IDT");
    if (block != 0)
      bs->FreePages(block, kPages);
    return EFI_OUT_OF_RESOURCES;
  }
  const uint64_t region = (block + kRegion - 1) & ~(kRegion - 1);
  auto* stub = reinterpret_cast<uint8_t*>(region);
  __builtin_memcpy(stub, agectl_ud_stub_start,
                   static_cast<size_t>(agectl_ud_stub_end - agectl_ud_stub_start));
  auto* count =
      reinterpret_cast<volatile uint64_t*>(stub + (agectl_ud_stub_count - agectl_ud_stub_start));
  auto* last_rip =
      reinterpret_cast<volatile uint64_t*>(stub + (agectl_ud_stub_rip - agectl_ud_stub_start));

  const DescriptorTableRegister firmware_idtr = arch::target::sidt();
  auto* idt = reinterpret_cast<arch::InterruptGate64*>(idt_page);
  const size_t idt_bytes = firmware_idtr.limit + 1u < 4096u ? firmware_idtr.limit + 1u : 4096u;
  __builtin_memcpy(idt, reinterpret_cast<const void*>(firmware_idtr.base), idt_bytes);
  idt[kUdVector] = arch::InterruptGate64::interrupt(region, arch::target::read_cs(), 0);
  const DescriptorTableRegister our_idtr{static_cast<uint16_t>(idt_bytes - 1), idt_page};
  say("agectl: faults: #UD handler alone at %#lx (a 2 MiB region), IDT at %#lx, agectl at %#lx",
      region, idt_page, reinterpret_cast<uint64_t>(&run_faults));

  unsigned failures = 0;
  for (unsigned round = 1; round <= args.rounds; ++round) {
    unsigned wrong = 0;
    const uint64_t before = *count;
    const bool interrupts = (arch::target::read_rflags() & arch::rflags::kIf) != 0;
    arch::target::cli();
    arch::target::lidt(our_idtr);
    uint64_t first_runs = 0, first_rip = 0, first_ud2 = 0, first_delta = 0;
    for (unsigned i = 0; i < kFaultsPerRound; ++i) {
      const uint64_t expected = *count + 1;
      if (vmcall(hv::Hypercall::kAge).rax != 0) {
        ++wrong;
        break;
      }
      touch_tables(our_idtr);
      const UdResult r = raise_ud();
      if (*count != expected || *last_rip != r.rip || r.rsp_delta != 0) {
        if (wrong++ == 0) {
          first_runs = *count - expected + 1;
          first_rip = *last_rip;
          first_ud2 = r.rip;
          first_delta = r.rsp_delta;
        }
      }
    }
    arch::target::lidt(firmware_idtr);
    if (interrupts)
      asm volatile("sti" : : : "memory");
    if (wrong != 0)
      say("agectl: faults: first wrong #UD: %lu handler runs (expected 1), it saw RIP %#lx (UD2 "
          "at %#lx), RSP moved by %ld",
          first_runs, first_rip, first_ud2, static_cast<int64_t>(first_delta));
    say("agectl: faults: round %u: %lu #UD handled, each after an aging pass, %u wrong", round,
        *count - before, wrong);
    if (wrong != 0) {
      say("agectl: FAIL faults: round %u: %u of %u faults delivered wrongly", round, wrong,
          kFaultsPerRound);
      ++failures;
    }
  }
  bs->FreePages(idt_page, 1);
  bs->FreePages(block, kPages);
  if (failures != 0)
    return EFI_ABORTED;
  say("agectl: faults: done: every #UD after an aging pass reached its aged handler once and "
      "came back");
  return EFI_SUCCESS;
}

}  // namespace agectl
