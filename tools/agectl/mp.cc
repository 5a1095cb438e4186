// agectl mp: every processor, through the firmware's EFI_MP_SERVICES_PROTOCOL (see
// tools/agectl/README.md). Each round runs one procedure on the BSP and on every enabled AP:
// it reads the processor's initial APIC ID with CPUID and, when agevisor runs, asks
// agevisor (the cpu hypercall) which APIC ID and how many exits it has for that processor.
// After each round the BSP asks for a flush on every CPU. The checks are in mp_check.h.
#include <cstddef>
#include <cstdint>

#include "agectl/mp_check.h"
#include "agectl_efi.h"
#include "boot/mp_services.h"

namespace agectl {
namespace {

// EFI_MP_SERVICES_PROTOCOL: boot/'s declaration, which agevisor uses to take every CPU.
using boot::kMpServicesGuid;
using boot::kProcessorEnabled;
using boot::MpServices;
using boot::ProcessorInformation;

// Long enough for any emulator; a processor that takes longer has hung.
constexpr UINTN kApTimeoutUs = 10'000'000;

// What the BSP gives every processor's procedure in one round.
struct RoundShared {
  MpServices* mp;
  MpAnswer* answers;  // one slot per processor number
  size_t slots;
  bool hypercalls;  // agevisor runs: make the cpu hypercall where its signature shows
  uint64_t strays;  // procedures whose processor number had no slot
};

// Runs on each processor in turn (StartupAllAPs, single-threaded): MP services allow an AP
// WhoAmI and nothing of boot services, and the console is the BSP's, so it only writes its
// slot.
VOID EFIAPI answer_round(VOID* argument) {
  auto* shared = static_cast<RoundShared*>(argument);
  UINTN number = 0;
  if (EFI_ERROR(shared->mp->WhoAmI(shared->mp, &number)) || number >= shared->slots) {
    __atomic_add_fetch(&shared->strays, 1, __ATOMIC_RELAXED);
    return;
  }
  MpAnswer a;
  a.apic_id = arch::target::cpuid(1, 0).ebx >> 24;
  a.agevisor = agevisor_present();
  if (shared->hypercalls && a.agevisor) {
    const Regs r = vmcall(hv::Hypercall::kCpu);
    a.status = r.rax;
    a.hv_apic_id = r.rbx;
    a.exits = r.rcx;
  }
  a.answered = true;
  shared->answers[number] = a;
}

void say_failure(unsigned round, const MpFailure& f) {
  const char* what = mp_fault_text(f.fault);
  switch (f.fault) {
    case MpFault::kNoAnswer:
    case MpFault::kNotUnderAgevisor:
      say("agectl: FAIL mp: round %u cpu %zu %s", round, f.cpu, what);
      return;
    case MpFault::kStrayAnswer:
      say("agectl: FAIL mp: round %u: %lu %s", round, f.got, what);
      return;
    case MpFault::kCpuHypercallFailed:
      say("agectl: FAIL mp: round %u cpu %zu: %s: %s", round, f.cpu, what, status_name(f.got));
      return;
    case MpFault::kApicIdMismatch:
      say("agectl: FAIL mp: round %u cpu %zu: %s (hypercall %lu, CPUID %lu)", round, f.cpu, what,
          f.got, f.expected);
      return;
    case MpFault::kDuplicateApicId:
      say("agectl: FAIL mp: round %u cpu %zu: %s (APIC ID %lu, cpu %lu)", round, f.cpu, what, f.got,
          f.expected);
      return;
    case MpFault::kExitsNotRising:
      say("agectl: FAIL mp: round %u cpu %zu: %s (%lu, then %lu)", round, f.cpu, what, f.expected,
          f.got);
      return;
    case MpFault::kFlushFailed:
      say("agectl: FAIL mp: round %u: %s: %s", round, what, status_name(f.got));
      return;
    case MpFault::kFlushIncomplete:
      say("agectl: FAIL mp: round %u: %s (%lu of %lu CPUs)", round, what, f.got, f.expected);
      return;
    case MpFault::kGenerationNotRising:
      say("agectl: FAIL mp: round %u: %s (%lu, then %lu)", round, what, f.expected, f.got);
      return;
  }
}

size_t say_failures(unsigned round, const MpReport& report) {
  for (size_t i = 0; i < report.failures && i < MpReport::kKept; ++i)
    say_failure(round, report.kept[i]);
  if (report.failures > MpReport::kKept)
    say("agectl: FAIL mp: round %u: %zu more failures", round, report.failures - MpReport::kKept);
  return report.failures;
}

// Pool memory freed with the object.
class Pool {
 public:
  explicit Pool(UINTN bytes) {
    if (EFI_ERROR(g_system->BootServices->AllocatePool(EfiBootServicesData, bytes, &memory_)))
      memory_ = nullptr;
  }
  ~Pool() {
    if (memory_ != nullptr)
      g_system->BootServices->FreePool(memory_);
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  void* get() const { return memory_; }

 private:
  void* memory_ = nullptr;
};

}  // namespace

EFI_STATUS run_mp(const Args& args, bool agevisor, bool wake_aps) {
  EFI_BOOT_SERVICES* bs = g_system->BootServices;
  EFI_GUID guid = kMpServicesGuid;
  MpServices* mp = nullptr;
  if (EFI_ERROR(bs->LocateProtocol(&guid, nullptr, reinterpret_cast<void**>(&mp))) ||
      mp == nullptr) {
    say("agectl: mp: the firmware has no EFI_MP_SERVICES_PROTOCOL");
    return EFI_UNSUPPORTED;
  }
  UINTN total = 0;
  UINTN enabled = 0;
  EFI_STATUS status = mp->GetNumberOfProcessors(mp, &total, &enabled);
  if (EFI_ERROR(status) || total == 0 || enabled == 0) {
    say("agectl: mp: GetNumberOfProcessors failed: status %#lx", status);
    return EFI_UNSUPPORTED;
  }
  UINTN bsp = 0;
  if (!wake_aps && EFI_ERROR(mp->WhoAmI(mp, &bsp))) {
    say("agectl: mp: WhoAmI failed");
    return EFI_UNSUPPORTED;
  }
  say("agectl: mp: %lu processors, %lu enabled, %u rounds%s%s", total, enabled, args.rounds,
      agevisor ? "" : " (agevisor is not running: CPUID only)",
      wake_aps ? "" : ", the boot processor alone (flush)");

  // Two rounds of answers (this one and the last) and which processors must answer.
  const Pool pool(total * (2 * sizeof(MpAnswer) + sizeof(bool)));
  if (pool.get() == nullptr) {
    say("agectl: mp: out of memory");
    return EFI_OUT_OF_RESOURCES;
  }
  auto* now = static_cast<MpAnswer*>(pool.get());
  MpAnswer* before = now + total;
  auto* must_answer = reinterpret_cast<bool*>(before + total);
  for (UINTN i = 0; i < total; ++i) {
    ProcessorInformation info{};
    status = mp->GetProcessorInfo(mp, i, &info);
    if (EFI_ERROR(status)) {
      say("agectl: mp: GetProcessorInfo(%lu) failed: status %#lx", i, status);
      return EFI_UNSUPPORTED;
    }
    must_answer[i] = (info.StatusFlag & kProcessorEnabled) != 0 && (wake_aps || i == bsp);
  }

  size_t failures = 0;
  MpFlush last_flush{};
  for (unsigned round = 1; round <= args.rounds; ++round) {
    for (UINTN i = 0; i < total; ++i)
      now[i] = MpAnswer{};
    RoundShared shared{mp, now, total, agevisor, 0};
    answer_round(&shared);  // the BSP
    if (enabled > 1 && wake_aps) {
      status = mp->StartupAllAPs(mp, answer_round, TRUE, nullptr, kApTimeoutUs, &shared, nullptr);
      if (EFI_ERROR(status)) {
        say("agectl: FAIL mp: round %u: StartupAllAPs failed: status %#lx", round, status);
        ++failures;
      }
    }
    MpFlush flush{};
    if (agevisor) {
      const Regs r = vmcall(hv::Hypercall::kFlush);
      flush = MpFlush{r.rax, r.rbx, r.rcx};
    }

    for (UINTN i = 0; i < total; ++i) {
      const MpAnswer& a = now[i];
      if (!a.answered)
        continue;
      if (agevisor && a.agevisor && a.status == 0)
        say("agectl: mp: round %u cpu %lu apic %u exits %lu", round, i, a.apic_id, a.exits);
      else
        say("agectl: mp: round %u cpu %lu apic %u", round, i, a.apic_id);
    }
    failures += say_failures(round, check_mp_round(now, round == 1 ? nullptr : before, must_answer,
                                                   total, agevisor, shared.strays));
    if (agevisor) {
      if (flush.status == 0)
        say("agectl: mp: round %u flush reached %lu of %lu CPUs (generation %lu)", round,
            flush.cpus, enabled, flush.generation);
      failures +=
          say_failures(round, check_mp_flush(flush, round == 1 ? nullptr : &last_flush, enabled));
      last_flush = flush;
    }
    MpAnswer* const swap = before;
    before = now;
    now = swap;
  }

  if (failures != 0) {
    say("agectl: FAIL mp: %zu failed checks in %u rounds", failures, args.rounds);
    return EFI_ABORTED;
  }
  if (!agevisor) {
    say("agectl: mp: %lu CPUs answered; agevisor is not running", enabled);
    return EFI_NOT_FOUND;
  }
  say("agectl: mp: done: %lu CPUs, %u rounds, exit counts rising, flushes complete", enabled,
      args.rounds);
  return EFI_SUCCESS;
}

}  // namespace agectl
