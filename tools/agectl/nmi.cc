// agectl nmi: the guest's own NMIs must reach it. With more than one CPU agevisor has NMI
// exiting on (its flush and leave requests are NMIs), so every NMI the guest receives is a
// VM exit first, and agevisor must inject the guest's back (docs/smp.md). agectl installs an
// NMI handler through the firmware's CPU architecture protocol, sends NMIs to its own
// processor through the local APIC, one at a time, and counts what its handler sees; with
// agevisor it asks for synchronous flushes in between, so agevisor's own NMIs to the other
// CPUs go out at the same time.
#include <cstdint>

#include "agectl_efi.h"
#include "arch/target/local_apic.h"

namespace agectl {
namespace {

// EFI_CPU_ARCH_PROTOCOL (PI specification, volume 2): the members up to the one used here.
constexpr EFI_GUID kCpuArchGuid = {
    0x26baccb1, 0x6f42, 0x11d4, {0xbc, 0xe7, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81}};
using InterruptHandler = VOID(EFIAPI*)(INTN type, VOID* context);
struct CpuArch {
  VOID* FlushDataCache;
  VOID* EnableInterrupt;
  VOID* DisableInterrupt;
  VOID* GetInterruptState;
  VOID* Init;
  EFI_STATUS(EFIAPI* RegisterInterruptHandler)(CpuArch* self, INTN type, InterruptHandler handler);
};

constexpr INTN kNmiVector = 2;
constexpr unsigned kNmisPerRound = 50;
constexpr uint64_t kWaitSpins = uint64_t{1} << 24;

volatile uint64_t nmis_seen = 0;

VOID EFIAPI on_nmi(INTN, VOID*) { nmis_seen = nmis_seen + 1; }

// An NMI to this processor through its local APIC.
void send_nmi_to_self() {
  const uint32_t apic_id = arch::target::x2apic_enabled() ? arch::target::cpuid(0xB, 0).edx
                                                          : arch::target::cpuid(1, 0).ebx >> 24;
  arch::target::send_nmi(apic_id, kWaitSpins);
}

}  // namespace

EFI_STATUS run_nmi(const Args& args, bool agevisor) {
  CpuArch* cpu = nullptr;
  EFI_GUID guid = kCpuArchGuid;
  if (EFI_ERROR(
          g_system->BootServices->LocateProtocol(&guid, nullptr, reinterpret_cast<void**>(&cpu))) ||
      cpu == nullptr) {
    say("agectl: nmi: the firmware has no EFI_CPU_ARCH_PROTOCOL");
    return EFI_UNSUPPORTED;
  }
  EFI_STATUS status = cpu->RegisterInterruptHandler(cpu, kNmiVector, on_nmi);
  if (status == EFI_ALREADY_STARTED) {  // someone else's: ours for the test, then none
    cpu->RegisterInterruptHandler(cpu, kNmiVector, nullptr);
    status = cpu->RegisterInterruptHandler(cpu, kNmiVector, on_nmi);
  }
  if (EFI_ERROR(status)) {
    say("agectl: nmi: cannot install an NMI handler: status %#lx", status);
    return EFI_UNSUPPORTED;
  }
  unsigned failures = 0;
  uint64_t flushes = 0;
  for (unsigned round = 1; round <= args.rounds; ++round) {
    const uint64_t before = nmis_seen;
    unsigned lost = 0;
    for (unsigned i = 0; i < kNmisPerRound; ++i) {
      const uint64_t expected = nmis_seen + 1;
      send_nmi_to_self();
      uint64_t spins = 0;
      while (nmis_seen < expected && spins++ < kWaitSpins)
        arch::target::pause();
      lost += nmis_seen < expected ? 1u : 0u;
      if (agevisor && vmcall(hv::Hypercall::kFlush).rax == 0)
        ++flushes;
    }
    const uint64_t seen = nmis_seen - before;
    say("agectl: nmi: round %u: %lu of %u NMIs reached the guest's handler%s", round, seen,
        kNmisPerRound, agevisor ? " (a synchronous flush after each)" : "");
    if (seen != kNmisPerRound || lost != 0) {
      say("agectl: FAIL nmi: round %u: %u NMIs lost or late", round, lost);
      ++failures;
    }
  }
  cpu->RegisterInterruptHandler(cpu, kNmiVector, nullptr);
  if (failures != 0)
    return EFI_ABORTED;
  if (!agevisor) {
    say("agectl: nmi: done, agevisor is not running");
    return EFI_NOT_FOUND;
  }
  say("agectl: nmi: done: every NMI reached the guest, %lu flushes in between", flushes);
  return EFI_SUCCESS;
}

}  // namespace agectl
