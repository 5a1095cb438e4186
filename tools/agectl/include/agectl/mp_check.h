// What `agectl mp` checks after each round on every processor (tools/agectl/README.md).
// Pure, so host tests check the checks.
//
// Each round, every enabled processor runs one procedure (the BSP directly, the APs through
// EFI_MP_SERVICES_PROTOCOL.StartupAllAPs) that fills the slot of its processor number: its
// initial APIC ID from CPUID.1:EBX[31:24] and, when agevisor runs, what the cpu hypercall
// answers there (APIC ID and exit count). Then the BSP asks for a flush on every CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace agectl {

// What one processor's procedure wrote in one round.
struct MpAnswer {
  bool answered = false;
  bool agevisor = false;  // agevisor's CPUID signature, seen on this processor
  uint32_t apic_id = 0;   // CPUID.1:EBX[31:24]
  uint64_t status = 0;    // the cpu hypercall's status (RAX), when it was made
  uint64_t hv_apic_id = 0;
  uint64_t exits = 0;
};

// The flush hypercall's answer: RAX, RBX, RCX.
struct MpFlush {
  uint64_t status = 0;
  uint64_t cpus = 0;
  uint64_t generation = 0;
};

enum class MpFault {
  kNoAnswer,             // an enabled processor did not run the procedure
  kStrayAnswer,          // a processor number outside the slots (got = how many)
  kNotUnderAgevisor,     // no agevisor signature on a processor, while the BSP has it
  kCpuHypercallFailed,   // got = status
  kApicIdMismatch,       // got = the hypercall's APIC ID, expected = CPUID's
  kDuplicateApicId,      // got = the APIC ID, expected = the other processor with it
  kExitsNotRising,       // got = this round's count, expected = above the last round's
  kFlushFailed,          // got = status
  kFlushIncomplete,      // got = CPUs that flushed, expected = enabled processors
  kGenerationNotRising,  // got = this round's generation, expected = above the last one's
};

struct MpFailure {
  MpFault fault = MpFault::kNoAnswer;
  size_t cpu = 0;  // processor number (unused for the flush faults)
  uint64_t got = 0;
  uint64_t expected = 0;
};

// The failures of one check: all are counted, the first few are kept for the report.
struct MpReport {
  static constexpr size_t kKept = 8;
  size_t failures = 0;
  MpFailure kept[kKept] = {};

  constexpr void add(MpFault fault, size_t cpu, uint64_t got, uint64_t expected) {
    if (failures < kKept)
      kept[failures] = MpFailure{fault, cpu, got, expected};
    ++failures;
  }
  constexpr bool ok() const { return failures == 0; }
  constexpr bool has(MpFault fault) const {
    for (size_t i = 0; i < failures && i < kKept; ++i) {
      if (kept[i].fault == fault)
        return true;
    }
    return false;
  }
};

constexpr const char* mp_fault_text(MpFault fault) {
  switch (fault) {
    case MpFault::kNoAnswer:
      return "did not answer";
    case MpFault::kStrayAnswer:
      return "answers came from processor numbers outside the slots";
    case MpFault::kNotUnderAgevisor:
      return "does not run under agevisor (no CPUID signature there)";
    case MpFault::kCpuHypercallFailed:
      return "cpu hypercall failed";
    case MpFault::kApicIdMismatch:
      return "cpu hypercall's APIC ID differs from CPUID's";
    case MpFault::kDuplicateApicId:
      return "APIC ID already answered by another processor";
    case MpFault::kExitsNotRising:
      return "exit count did not rise since the last round";
    case MpFault::kFlushFailed:
      return "flush hypercall failed";
    case MpFault::kFlushIncomplete:
      return "flush did not reach every processor";
    case MpFault::kGenerationNotRising:
      return "flush generation did not rise since the last round";
  }
  return "unknown fault";
}

// One round's answers, slot i for processor number i. `enabled[i]`: processor i must have
// answered. `before`: the previous round's answers, or null in the first round.
// `hypercalls`: agevisor runs (the BSP found its signature), so every answer must carry
// the cpu hypercall's. `strays`: procedures that found their number outside the slots.
constexpr MpReport check_mp_round(const MpAnswer* now, const MpAnswer* before, const bool* enabled,
                                  size_t slots, bool hypercalls, uint64_t strays) {
  MpReport report;
  if (strays != 0)
    report.add(MpFault::kStrayAnswer, 0, strays, 0);
  for (size_t i = 0; i < slots; ++i) {
    const MpAnswer& a = now[i];
    if (!a.answered) {
      if (enabled[i])
        report.add(MpFault::kNoAnswer, i, 0, 0);
      continue;
    }
    for (size_t j = 0; j < i; ++j) {
      if (now[j].answered && now[j].apic_id == a.apic_id) {
        report.add(MpFault::kDuplicateApicId, i, a.apic_id, j);
        break;
      }
    }
    if (!hypercalls)
      continue;
    if (!a.agevisor) {
      report.add(MpFault::kNotUnderAgevisor, i, 0, 0);
      continue;
    }
    if (a.status != 0) {
      report.add(MpFault::kCpuHypercallFailed, i, a.status, 0);
      continue;
    }
    if (a.hv_apic_id != a.apic_id)
      report.add(MpFault::kApicIdMismatch, i, a.hv_apic_id, a.apic_id);
    const bool counted_before =
        before != nullptr && before[i].answered && before[i].agevisor && before[i].status == 0;
    if (counted_before && a.exits <= before[i].exits)
      report.add(MpFault::kExitsNotRising, i, a.exits, before[i].exits);
  }
  return report;
}

// The flush after a round: ok, on all `cpus` enabled processors, at a generation above the
// previous round's (`before`, null in the first round).
constexpr MpReport check_mp_flush(const MpFlush& now, const MpFlush* before, uint64_t cpus) {
  MpReport report;
  if (now.status != 0) {
    report.add(MpFault::kFlushFailed, 0, now.status, 0);
    return report;
  }
  if (now.cpus != cpus)
    report.add(MpFault::kFlushIncomplete, 0, now.cpus, cpus);
  if (before != nullptr && before->status == 0 && now.generation <= before->generation)
    report.add(MpFault::kGenerationNotRising, 0, now.generation, before->generation);
  return report;
}

}  // namespace agectl
