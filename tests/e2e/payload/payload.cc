// agevisor's end-to-end guest payload: an EFI application the UEFI shell runs before and
// after agevisor (tools/harness.py --before/--after). It checks what issue 7 promises a
// guest, prints PASS/FAIL lines, and prints one "probe" line per probed instruction for
// tools/payload_check.py to compare across the two runs. See docs/e2e-payload.md.
extern "C" {
#include <efi.h>
}

#include "fault_catcher.h"
#include "hv/guest_cpuid.h"
#include "hv/hypercall_abi.h"
#include "output.h"
#include "probes.h"

namespace {

using payload::check;
using payload::line;

constexpr uint8_t kUd = 6;
constexpr uint8_t kGp = 13;

// The words after the program name: the run's label ("before", "after") and optionally
// what it must find: "expect-agevisor" or "expect-none".
struct Arguments {
  char label[16] = "run";
  char expect[24] = "";
};

void copy_word(const CHAR16* text, unsigned units, unsigned& i, char* out, unsigned size) {
  while (i < units && text[i] == ' ')
    ++i;
  unsigned n = 0;
  while (i < units && text[i] > ' ' && text[i] < 0x7F) {
    if (n + 1 < size)
      out[n++] = static_cast<char>(text[i]);
    ++i;
  }
  if (n > 0)
    out[n] = '\0';
}

Arguments read_arguments(EFI_HANDLE image, EFI_SYSTEM_TABLE* st) {
  Arguments a;
  EFI_GUID guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* loaded = nullptr;
  if (st->BootServices->HandleProtocol(image, &guid, reinterpret_cast<void**>(&loaded)) !=
          EFI_SUCCESS ||
      loaded->LoadOptions == nullptr) {
    return a;
  }
  const auto* text = static_cast<const CHAR16*>(loaded->LoadOptions);
  const unsigned units = loaded->LoadOptionsSize / sizeof(CHAR16);
  unsigned i = 0;
  char program[2];
  copy_word(text, units, i, program, sizeof(program));
  copy_word(text, units, i, a.label, sizeof(a.label));
  copy_word(text, units, i, a.expect, sizeof(a.expect));
  return a;
}

bool same(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// Instructions CPUID advertises never raise #UD; what it hides may.
void check_advertised(const char* name, bool advertised, int vector) {
  if (advertised)
    check(vector != kUd, "%s: advertised, runs without #UD (%s)", name,
          payload::vector_name(vector));
  else
    line("note %s: not advertised (%s)", name, payload::vector_name(vector));
}

void check_hypercalls(const payload::ProbeFacts& f) {
  using hv::Hypercall;
  payload::VmcallRegs version{static_cast<uint64_t>(Hypercall::kVersion), 0, 0, 0};
  const int v = payload::vmcall(version);
  check(v < 0 && version.rax == 0 && version.rbx == hv::kHypercallAbiVersion &&
            version.rcx == hv::kSignatureEbx && version.rdx == hv::kSignatureEcx,
        "vmcall version: status %lu, ABI %lu, %.4s%.4s", version.rax, version.rbx,
        reinterpret_cast<const char*>(&version.rcx), reinterpret_cast<const char*>(&version.rdx));
  payload::VmcallRegs first{static_cast<uint64_t>(Hypercall::kCpu), 0, 0, 0};
  payload::VmcallRegs second = first;
  const int v1 = payload::vmcall(first);
  const int v2 = payload::vmcall(second);
  check(v1 < 0 && v2 < 0 && first.rax == 0 && first.rbx == f.apic_id && second.rcx > first.rcx,
        "vmcall cpu: APIC ID %lu (CPUID says %u), exits %lu then %lu", first.rbx, f.apic_id,
        first.rcx, second.rcx);
  payload::VmcallRegs unknown{hv::kHypercallBase + 0xFFFF, 0, 0, 0};
  const int vu = payload::vmcall(unknown);
  check(vu < 0 && unknown.rax == static_cast<uint64_t>(hv::HypercallStatus::kUnknownFunction),
        "vmcall unknown function: status %lu (%s)", unknown.rax, payload::vector_name(vu));
}

bool msr_round_trip(uint32_t msr, uint64_t value) {
  uint64_t back = 0;
  return payload::write_msr(msr, value) < 0 && payload::read_msr(msr, &back) < 0 && back == value;
}

// MTRR writes exit to agevisor, which executes them and retypes its EPT.
void check_mtrrs() {
  uint64_t cap = 0;
  if (payload::read_msr(0xFE, &cap) >= 0) {
    line("note MTRRs: IA32_MTRRCAP unreadable");
    return;
  }
  const unsigned count = cap & 0xFF;
  if ((cap & 0x100) != 0) {
    uint64_t fixed = 0;
    payload::read_msr(0x250, &fixed);
    check(msr_round_trip(0x250, fixed), "MTRR fix64K_00000 rewritten with its value %#lx", fixed);
  }
  unsigned spare = count;
  for (unsigned i = 0; i < count; ++i) {
    uint64_t base = 0;
    uint64_t mask = 0;
    payload::read_msr(0x200 + 2 * i, &base);
    payload::read_msr(0x201 + 2 * i, &mask);
    if (i == 0) {
      check(msr_round_trip(0x200, base) && msr_round_trip(0x201, mask),
            "MTRR pair 0 rewritten with its values %#lx %#lx", base, mask);
    }
    if ((mask & 0x800) == 0 && spare == count)
      spare = i;
  }
  if (spare < count) {
    // An unused pair takes another legal value (write-back at 2 GiB, 1 GiB mask, still not
    // valid, so no memory changes type) and gets its own back.
    const uint32_t b = 0x200 + 2 * spare;
    uint64_t old_base = 0;
    uint64_t old_mask = 0;
    payload::read_msr(b, &old_base);
    payload::read_msr(b + 1, &old_mask);
    const bool ok = msr_round_trip(b, 0x8000'0006) && msr_round_trip(b + 1, 0xC000'0000);
    const bool restored = msr_round_trip(b, old_base) && msr_round_trip(b + 1, old_mask);
    check(ok && restored, "MTRR spare pair %u takes another value and is restored", spare);
  }
}

struct FreshCode {
  uint64_t address;
  uint64_t result;
};

void call_fresh_code(void* arg) {
  auto* c = static_cast<FreshCode*>(arg);
  c->result = reinterpret_cast<uint64_t (*)()>(c->address)();
}

// Memory the firmware hands out fresh: under agevisor in rwx-stash mode its EPT leaves start
// access-tracked, so the first write, read and fetch each go through the fault resolver.
void check_memory(EFI_BOOT_SERVICES* bs) {
  constexpr uint64_t kPages = 512;  // 2 MiB
  constexpr uint64_t kWords = kPages * 4096 / 8;
  EFI_PHYSICAL_ADDRESS data = 0;
  if (bs->AllocatePages(AllocateAnyPages, EfiLoaderData, kPages, &data) != EFI_SUCCESS) {
    check(false, "memory: cannot allocate %lu pages", kPages);
    return;
  }
  auto* words = reinterpret_cast<volatile uint64_t*>(data);
  for (uint64_t i = 0; i < kWords; ++i)
    words[i] = i * 0x9E37'79B9'7F4A'7C15;
  uint64_t mismatches = 0;
  for (uint64_t i = 0; i < kWords; ++i)
    mismatches += words[i] != i * 0x9E37'79B9'7F4A'7C15 ? 1u : 0u;
  bs->FreePages(data, kPages);
  line("probe memory_pattern_2mib none %lu", mismatches);
  check(mismatches == 0, "2 MiB of fresh memory written and read back (%lu mismatches)",
        mismatches);

  EFI_PHYSICAL_ADDRESS code = 0;
  if (bs->AllocatePages(AllocateAnyPages, EfiLoaderCode, 1, &code) != EFI_SUCCESS) {
    check(false, "memory: cannot allocate a code page");
    return;
  }
  const uint8_t body[] = {0xB8, 0x78, 0x56, 0x34, 0x12, 0xC3};  // mov eax, 0x12345678; ret
  auto* bytes = reinterpret_cast<volatile uint8_t*>(code);
  for (unsigned i = 0; i < sizeof(body); ++i)
    bytes[i] = body[i];
  FreshCode fresh{code, 0};
  const int vector = payload::run_caught(call_fresh_code, &fresh);
  bs->FreePages(code, 1);
  line("probe execute_fresh_page %s %#lx", payload::vector_name(vector), fresh.result);
  check(vector < 0 && fresh.result == 0x1234'5678, "code written to a fresh page runs (%s, %#lx)",
        payload::vector_name(vector), fresh.result);
}

volatile uint64_t g_ticks = 0;

void EFIAPI on_tick(EFI_EVENT, void*) { g_ticks = g_ticks + 1; }

// A periodic timer event's notify function runs from the timer interrupt: if interrupts are
// delivered to the guest, the count rises while the payload busy-waits in Stall. (Bochs'
// emulated clocks make the 10 ms period uneven: wait for three rises, up to 4 s.)
void check_timer(EFI_BOOT_SERVICES* bs) {
  EFI_EVENT event = nullptr;
  if (bs->CreateEvent(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, on_tick, nullptr, &event) !=
          EFI_SUCCESS ||
      bs->SetTimer(event, TimerPeriodic, 10 * 10000) != EFI_SUCCESS) {
    check(false, "timer: cannot create a periodic timer event");
    return;
  }
  constexpr unsigned kStepMs = 20;
  uint64_t last = g_ticks;
  unsigned rises = 0;
  unsigned waited_ms = 0;
  while (rises < 3 && waited_ms < 4000) {
    bs->Stall(kStepMs * 1000);
    waited_ms += kStepMs;
    const uint64_t now = g_ticks;
    if (now > last)
      ++rises;
    last = now;
  }
  bs->SetTimer(event, TimerCancel, 0);
  bs->CloseEvent(event);
  check(rises == 3, "timer ticks keep rising: %u rises, %lu ticks in %u ms of Stall", rises, last,
        waited_ms);
}

}  // namespace

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* st) {
  static Arguments args;
  args = read_arguments(image, st);
  payload::set_output(st->ConOut, args.label);
  payload::init_fault_catcher();
  line("agevisor e2e payload starting");

  payload::ProbeFacts f;
  payload::run_probes(f);
  payload::run_system_probes(f);
  const bool agevisor = f.agevisor;
  line("agevisor: %s", agevisor ? "present" : "absent");
  if (same(args.expect, "expect-agevisor") || same(args.expect, "expect-none")) {
    const bool expected = same(args.expect, "expect-agevisor");
    check(agevisor == expected, "agevisor %s, as expected", agevisor ? "present" : "absent");
  }

  check_advertised("RDTSCP", f.rdtscp, f.rdtscp_vector);
  check_advertised("RDPID", f.rdpid, f.rdpid_vector);
  check_advertised("INVPCID", f.invpcid, f.invpcid_vector);
  check_advertised("XSAVES", f.xsaves, f.xsaves_vector);
  check(f.vmxon_vector == kUd, "VMXON raises #UD (%s)", payload::vector_name(f.vmxon_vector));
  if (f.xsave) {
    check(f.xsetbv_bad_vector == kGp, "XSETBV of XCR0 = 0 raises #GP (%s)",
          payload::vector_name(f.xsetbv_bad_vector));
    check(f.xsetbv_same_vector < 0, "XSETBV of XCR0's own value runs (%s)",
          payload::vector_name(f.xsetbv_same_vector));
    check(f.osxsave_follows_cr4, "CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE");
  }
  if (f.pku)
    check(f.ospke_follows_cr4, "CPUID.7.0:ECX.OSPKE follows CR4.PKE");
  if (agevisor) {
    // (Found by these very two facts: the lines document what was seen.)
    check(f.hypervisor_bit, "CPUID.1:ECX[31] set");
    check(hv::is_agevisor_signature({f.hypervisor_leaf[0], f.hypervisor_leaf[1],
                                     f.hypervisor_leaf[2], f.hypervisor_leaf[3]}),
          "leaf 0x40000000 spells \"agevisor\" + 4 zero bytes");
    check(f.hypervisor_leaf[0] == hv::kHypervisorLeafMax,
          "leaf 0x40000000 EAX is the max hypervisor leaf (%#x)", f.hypervisor_leaf[0]);
    check(!f.vmx, "VMX hidden: CPUID.1:ECX[5] = 0");
    check(f.cr4_vmxe_vector == kGp, "setting CR4.VMXE raises #GP (%s)",
          payload::vector_name(f.cr4_vmxe_vector));
    check_hypercalls(f);
  }
  check_mtrrs();
  check_memory(st->BootServices);
  check_timer(st->BootServices);
  line("summary: %d passed, %d failed", payload::passes(), payload::failures());
  if (payload::failures() == 0)
    line("all checks passed");
  return payload::failures() == 0 ? EFI_SUCCESS : EFI_ABORTED;
}
