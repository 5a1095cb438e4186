// agectl: the guest side of agevisor's working-set report, an EFI application run from the
// UEFI shell while agevisor is running (see tools/agectl/README.md).
//
// It touches a buffer in shrinking rounds (all of it, then half, a quarter...), asks
// agevisor for an aging pass after each round, and prints what agevisor saw: the pages the
// pass found accessed and dirty, the machine's idle-age histogram, and a check of the idle
// age agevisor reports for every frame of the buffer against what the rounds did to it.
extern "C" {
#include <efi.h>
#include <efilib.h>
}

#include <cstdarg>
#include <cstdint>

#include "agectl/args.h"
#include "agectl/expected_age.h"
#include "agectl/page_set.h"
#include "agectl_efi.h"
#include "arch/format.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "hv/hypercall_abi.h"

namespace agectl {

constinit EFI_SYSTEM_TABLE* g_system = nullptr;

namespace {

constinit EFI_HANDLE g_image = nullptr;
// Cleared by ExitBootServices: from then on there is no console, only port 0xE9.
constinit bool g_console = true;

void out_port_e9(const char* text) {
  for (const char* p = text; *p != '\0'; ++p)
    arch::target::outb(0xE9, static_cast<uint8_t>(*p));
  arch::target::outb(0xE9, '\n');
}

}  // namespace

void say(const char* fmt, ...) {
  char line[200];
  va_list args;
  va_start(args, fmt);
  arch::vformat(line, sizeof(line), fmt, args);
  va_end(args);
  if (g_console) {
    CHAR16 wide[sizeof(line) + 2];
    size_t n = 0;
    for (; line[n] != '\0'; ++n)
      wide[n] = static_cast<CHAR16>(static_cast<unsigned char>(line[n]));
    wide[n++] = '\r';
    wide[n++] = '\n';
    wide[n] = 0;
    g_system->ConOut->OutputString(g_system->ConOut, wide);
  }
  out_port_e9(line);
}

const char* status_name(uint64_t status) {
  return hv::status_name(static_cast<hv::HypercallStatus>(status));
}

namespace {

arch::CpuidResult cpuid(uint32_t leaf) { return arch::target::cpuid(leaf, 0); }

void read_options(EFI_HANDLE image, char* out, size_t size) {
  out[0] = '\0';
  EFI_GUID guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* loaded = nullptr;
  if (EFI_ERROR(g_system->BootServices->HandleProtocol(image, &guid,
                                                       reinterpret_cast<void**>(&loaded))) ||
      loaded->LoadOptions == nullptr)
    return;
  const auto* text = static_cast<const uint16_t*>(loaded->LoadOptions);
  const size_t units = loaded->LoadOptionsSize / sizeof(uint16_t);
  size_t n = 0;
  for (size_t i = 0; i < units && text[i] != 0 && n + 1 < size; ++i)
    out[n++] = text[i] < 0x80 ? static_cast<char>(text[i]) : '?';
  out[n] = '\0';
}

// The shell passes "agectl.efi arg...": skip the program name.
const char* skip_program(const char* s) {
  while (*s == ' ')
    ++s;
  const char* p = s;
  while (*p != '\0' && *p != ' ')
    ++p;
  if (p - s >= 4 && (p[-1] | 0x20) == 'i' && (p[-2] | 0x20) == 'f' && (p[-3] | 0x20) == 'e' &&
      p[-4] == '.')
    return p;
  return s;
}

bool age(const char* what, hv::AgeCounts* counts) {
  const Regs r = vmcall(hv::Hypercall::kAge);
  if (r.rax != 0) {
    say("agectl: %s: age hypercall failed: %s", what, status_name(r.rax));
    return false;
  }
  *counts = {r.rbx, r.rcx, r.rdx};
  return true;
}

bool print_working_set(hv::WorkingSetReport* report) {
  const Regs r =
      vmcall(hv::Hypercall::kWorkingSet, reinterpret_cast<uint64_t>(report), sizeof(*report));
  if (r.rax != 0) {
    say("agectl: working_set hypercall failed: %s", status_name(r.rax));
    return false;
  }
  say("agectl: working set after %lu passes: %lu frames (%lu MiB) of RAM tracked", report->passes,
      report->frames, report->frames / 256);
  for (unsigned b = 0; b < hv::kIdleBuckets; ++b) {
    const uint64_t lo = hv::idle_bucket_floor(b);
    char range[24];
    if (b + 1 == hv::kIdleBuckets)
      arch::format(range, sizeof(range), "%lu+", lo);
    else if (hv::idle_bucket_floor(b + 1) - 1 == lo)
      arch::format(range, sizeof(range), "%lu", lo);
    else
      arch::format(range, sizeof(range), "%lu-%lu", lo, hv::idle_bucket_floor(b + 1) - 1);
    say("agectl:   idle %-7s passes: %8lu frames %6lu KiB", range, report->idle[b],
        report->idle[b] * 4);
  }
  return true;
}

// The firmware memory map in a buffer of our own, re-readable without allocating (as
// ExitBootServices needs: its key must come from the last read).
struct MemoryMap {
  EFI_MEMORY_DESCRIPTOR* buffer = nullptr;
  UINTN capacity = 0;
  UINTN size = 0;
  UINTN key = 0;
  UINTN descriptor_size = 0;
  UINT32 version = 0;

  // Room for the current map and `slack` more descriptors (allocating changes the map).
  bool allocate(EFI_BOOT_SERVICES* bs, UINTN slack) {
    UINTN needed = 0;
    (void)bs->GetMemoryMap(&needed, nullptr, &key, &descriptor_size, &version);
    capacity = needed + slack * descriptor_size;
    return !EFI_ERROR(bs->AllocatePool(EfiLoaderData, capacity, reinterpret_cast<void**>(&buffer)));
  }
  bool read(EFI_BOOT_SERVICES* bs) {
    size = capacity;
    return !EFI_ERROR(bs->GetMemoryMap(&size, buffer, &key, &descriptor_size, &version));
  }
  size_t count() const { return descriptor_size == 0 ? 0 : size / descriptor_size; }
  const EFI_MEMORY_DESCRIPTOR& operator[](size_t i) const {
    return *reinterpret_cast<const EFI_MEMORY_DESCRIPTOR*>(reinterpret_cast<uint8_t*>(buffer) +
                                                           i * descriptor_size);
  }
};

// Whether the page at `page` holds `needle` anywhere.
bool page_contains(const volatile uint8_t* page, const char* needle, size_t length) {
  for (size_t i = 0; i + length <= 4096; ++i) {
    size_t k = 0;
    while (k < length && page[i + k] == static_cast<uint8_t>(needle[k]))
      ++k;
    if (k == length)
      return true;
  }
  return false;
}

bool page_is_zero(const volatile uint64_t* page) {
  for (size_t i = 0; i < 512; ++i) {
    if (page[i] != 0)
      return false;
  }
  return true;
}

// The hostile guest: agevisor's image copy, stacks, VMCS and EPT pool are runtime-services
// pages in the memory map, so read every runtime page looking for agevisor's own banner
// (present in its image), and write to pages that read as zero: a write to one page agevisor
// hides shows up at every other hidden page (they all share one dummy page) and never in
// agevisor's memory. Firmware pages it writes get their zero back at once.
EFI_STATUS hostile() {
  EFI_BOOT_SERVICES* bs = g_system->BootServices;
  MemoryMap map;
  uint64_t* zero_pages = nullptr;
  constexpr size_t kMaxZeroPages = 8192;
  if (!map.allocate(bs, 8) ||
      EFI_ERROR(bs->AllocatePool(EfiBootServicesData, kMaxZeroPages * sizeof(uint64_t),
                                 reinterpret_cast<void**>(&zero_pages))) ||
      !map.read(bs)) {
    say("agectl: hostile: cannot read the memory map");
    return EFI_OUT_OF_RESOURCES;
  }
  // Built at run time so agectl's own image never holds the text it looks for.
  char needle[40];
  arch::format(needle, sizeof(needle), "%s %s", "agevisor 0.1.0:", "memory access tracking");
  size_t needle_length = 0;
  while (needle[needle_length] != '\0')
    ++needle_length;

  uint64_t pages = 0;
  uint64_t ranges = 0;
  uint64_t seen = 0;
  size_t zeros = 0;
  for (size_t i = 0; i < map.count(); ++i) {
    const EFI_MEMORY_DESCRIPTOR* d = &map[i];
    if (d->Type != EfiRuntimeServicesCode && d->Type != EfiRuntimeServicesData)
      continue;
    ++ranges;
    for (uint64_t p = 0; p < d->NumberOfPages; ++p) {
      const uint64_t address = d->PhysicalStart + p * 4096;
      const auto* page = reinterpret_cast<const volatile uint8_t*>(address);
      ++pages;
      if (page_contains(page, needle, needle_length)) {
        if (seen == 0)
          say("agectl: FAIL: hostile: agevisor's image is readable at %#lx", address);
        ++seen;
      }
      if (zeros < kMaxZeroPages && page_is_zero(reinterpret_cast<const volatile uint64_t*>(page)))
        zero_pages[zeros++] = address;
    }
  }
  say("agectl: hostile: read %lu runtime pages in %lu ranges: agevisor's image seen in %lu", pages,
      ranges, seen);

  // Write a marker to one zero page after another until it shows up elsewhere.
  constexpr uint64_t kMarker = 0x6167'6563'746C'2121;  // "!!ltceg a"
  uint64_t aliases = 0;
  uint64_t written_at = 0;
  for (size_t c = 0; c < zeros && c < 256 && aliases == 0; ++c) {
    auto* target = reinterpret_cast<volatile uint64_t*>(zero_pages[c]);
    *target = kMarker;
    for (size_t o = 0; o < zeros; ++o) {
      if (o != c && *reinterpret_cast<volatile uint64_t*>(zero_pages[o]) == kMarker)
        ++aliases;
    }
    *target = 0;
    written_at = zero_pages[c];
  }
  unsigned failures = seen != 0 ? 1 : 0;
  if (aliases == 0) {
    say("agectl: FAIL: hostile: no write to a zero runtime page showed up anywhere else (%zu "
        "zero pages)",
        zeros);
    ++failures;
  } else {
    say("agectl: hostile: a write to %#lx showed up at %lu other runtime pages: agevisor's pages "
        "share one dummy page",
        written_at, aliases);
  }
  hv::AgeCounts counts;
  const Regs version = vmcall(hv::Hypercall::kVersion);
  if (version.rax != 0 || version.rbx != hv::kHypercallAbiVersion || !age("hostile", &counts)) {
    say("agectl: FAIL: hostile: agevisor stopped answering");
    ++failures;
  } else {
    say("agectl: hostile: agevisor still answers: ABI version %lu, an aging pass tracked %lu "
        "pages",
        version.rbx, counts.tracked_pages);
  }
  bs->FreePool(zero_pages);
  bs->FreePool(map.buffer);
  if (failures != 0)
    return EFI_ABORTED;
  say("agectl: hostile: done");
  return EFI_SUCCESS;
}

// agevisor's log ring, newest lines that fit in 64 KiB, one output line per log line.
EFI_STATUS print_log() {
  constexpr size_t kSize = 64 * 1024;
  char* buffer = nullptr;
  if (EFI_ERROR(g_system->BootServices->AllocatePool(EfiBootServicesData, kSize,
                                                     reinterpret_cast<void**>(&buffer)))) {
    say("agectl: out of memory for the log");
    return EFI_OUT_OF_RESOURCES;
  }
  const Regs r = vmcall(hv::Hypercall::kLog, reinterpret_cast<uint64_t>(buffer), kSize);
  if (r.rax != 0) {
    say("agectl: log hypercall failed: %s", status_name(r.rax));
    g_system->BootServices->FreePool(buffer);
    return EFI_UNSUPPORTED;
  }
  say("agectl: agevisor's log (%lu bytes):", r.rbx);
  size_t start = 0;
  for (size_t i = 0; i < r.rbx; ++i) {
    if (buffer[i] == '\n') {
      say("agectl: log| %.*s", static_cast<int>(i - start), buffer + start);
      start = i + 1;
    }
  }
  g_system->BootServices->FreePool(buffer);
  return EFI_SUCCESS;
}

[[noreturn]] void halt_forever() {
  for (;;)
    asm volatile("cli; hlt");
}

struct Range {
  uint64_t start;
  uint64_t pages;
  bool keep;  // holds agectl's image or stack: left alone
};

bool os_may_reuse(UINT32 type) {
  return type == EfiConventionalMemory || type == EfiLoaderCode || type == EfiLoaderData ||
         type == EfiBootServicesCode || type == EfiBootServicesData;
}

// The ExitBootServices payload: what an OS does to memory, then agevisor must still be there.
// Every page an OS may reuse (conventional, loader, boot-services) below 4 GiB is
// overwritten, except agectl's own image and stack and the pages the processor is using
// (agectl's own page tables, GDT, IDT). Then CPUID, the hypercalls and an aging pass must work and
// see the overwrite.
[[noreturn]] void exit_boot_services_and_check(EFI_HANDLE image) {
  EFI_BOOT_SERVICES* bs = g_system->BootServices;
  agectl::PageSet* keep = nullptr;
  MemoryMap map;
  if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, sizeof(agectl::PageSet),
                                 reinterpret_cast<void**>(&keep))) ||
      !map.allocate(bs, 16)) {
    say("agectl: ebs: out of memory");
    halt_forever();
  }
  *keep = agectl::PageSet{};
  // Our own page tables: an identity map of the low 4 GiB with writable 2 MiB pages. The
  // firmware's may mark pages read-only or not present (page-table protection, guards), and
  // they live in boot-services memory, which is about to be overwritten.
  EFI_PHYSICAL_ADDRESS tables = 0;
  if (EFI_ERROR(bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 6, &tables))) {
    say("agectl: ebs: out of memory for page tables");
    halt_forever();
  }
  auto* pml4 = reinterpret_cast<uint64_t*>(tables);
  auto* pdpt = pml4 + 512;
  for (unsigned i = 0; i < 6 * 512; ++i)
    pml4[i] = 0;
  constexpr uint64_t kPresentWritable = 0x3;
  constexpr uint64_t kLarge = 0x80;
  pml4[0] = (tables + 4096) | kPresentWritable;
  for (uint64_t g = 0; g < 4; ++g) {
    uint64_t* pd = pml4 + 512 * (2 + g);
    pdpt[g] = (tables + 4096 * (2 + g)) | kPresentWritable;
    for (uint64_t m = 0; m < 512; ++m)
      pd[m] = ((g << 30) + (m << 21)) | kPresentWritable | kLarge;
  }
  bool complete = true;
  for (uint64_t a = tables; a < tables + 6 * 4096; a += 4096)
    complete = complete && keep->add(a);
  for (const arch::target::DescriptorTableRegister table :
       {arch::target::sgdt(), arch::target::sidt()}) {
    for (uint64_t a = table.base & ~uint64_t{4095}; a <= table.base + table.limit; a += 4096)
      complete = complete && keep->add(a);
  }
  const auto self = reinterpret_cast<uint64_t>(keep);
  for (uint64_t a = self; a < self + sizeof(*keep) + 4096; a += 4096)
    complete = complete && keep->add(a);
  if (!complete) {
    say("agectl: ebs: too many pages to keep");
    halt_forever();
  }
  say("agectl: ebs: exiting boot services (keeping %zu pages: our page tables, GDT, IDT)",
      keep->size());

  constexpr size_t kMaxRanges = 512;
  Range ranges[kMaxRanges];
  size_t count = 0;
  uint64_t rsp = 0;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  const auto code = reinterpret_cast<uint64_t>(&exit_boot_services_and_check);
  EFI_STATUS status = EFI_LOAD_ERROR;
  for (int attempt = 0; attempt < 2 && EFI_ERROR(status); ++attempt) {
    if (!map.read(bs))
      continue;
    count = 0;
    for (size_t i = 0; i < map.count() && count < kMaxRanges; ++i) {
      const EFI_MEMORY_DESCRIPTOR* d = &map[i];
      if (!os_may_reuse(d->Type))
        continue;
      const uint64_t end = d->PhysicalStart + d->NumberOfPages * 4096;
      const bool ours =
          (rsp >= d->PhysicalStart && rsp < end) || (code >= d->PhysicalStart && code < end);
      ranges[count++] = Range{d->PhysicalStart, d->NumberOfPages, ours};
    }
    status = bs->ExitBootServices(image, map.key);
  }
  if (EFI_ERROR(status)) {
    say("agectl: FAIL: ebs: ExitBootServices failed: %#lx", status);
    halt_forever();
  }
  g_console = false;
  asm volatile("cli");
  asm volatile("mov %0, %%cr3" : : "r"(tables) : "memory");
  say("agectl: ebs: boot services exited, overwriting what an OS may reuse");

  uint64_t overwritten = 0;
  uint64_t first_overwritten = 0;
  for (size_t i = 0; i < count; ++i) {
    if (ranges[i].keep)
      continue;
    for (uint64_t p = 0; p < ranges[i].pages; ++p) {
      const uint64_t page = ranges[i].start + p * 4096;
      if (page == 0 || page >= (uint64_t{4} << 30) || keep->contains(page))
        continue;
      uint64_t words = 512;
      uint64_t* dst = reinterpret_cast<uint64_t*>(page);
      asm volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(0xA5A5'5A5A'A5A5'5A5A) : "memory");
      if (first_overwritten == 0)
        first_overwritten = page;
      ++overwritten;
    }
  }
  say("agectl: ebs: overwrote %lu pages (%lu MiB) in %zu ranges", overwritten, overwritten / 256,
      count);

  unsigned failures = 0;
  if (!agevisor_present()) {
    say("agectl: FAIL: ebs: agevisor's CPUID signature is gone");
    halt_forever();
  }
  const Regs version = vmcall(hv::Hypercall::kVersion);
  const Regs aged = vmcall(hv::Hypercall::kAge);
  if (version.rax != 0 || version.rbx != hv::kHypercallAbiVersion || aged.rax != 0) {
    say("agectl: FAIL: ebs: hypercalls fail after ExitBootServices (version %lu, age %lu)",
        version.rax, aged.rax);
    halt_forever();
  }
  say("agectl: ebs: agevisor answers: ABI version %lu, pass: %lu pages accessed, %lu dirty",
      version.rbx, aged.rbx, aged.rdx);
  if (aged.rbx < overwritten || aged.rdx < overwritten) {
    say("agectl: FAIL: ebs: the pass saw fewer accessed or dirty pages than were written");
    ++failures;
  }
  uint8_t ages[64];
  const Regs r = vmcall(hv::Hypercall::kFrameAges, reinterpret_cast<uint64_t>(ages), sizeof(ages),
                        first_overwritten);
  unsigned fresh = 0;
  for (uint8_t a : ages)
    fresh += a == 0 ? 1u : 0u;
  if (r.rax != 0 || fresh != sizeof(ages)) {
    say("agectl: FAIL: ebs: frame ages at %#lx: status %lu, %u of 64 idle 0", first_overwritten,
        r.rax, fresh);
    ++failures;
  }
  char log[2048];
  const Regs l = vmcall(hv::Hypercall::kLog, reinterpret_cast<uint64_t>(log), sizeof(log));
  if (l.rax != 0 || l.rbx == 0) {
    say("agectl: FAIL: ebs: the log hypercall returned status %lu, %lu bytes", l.rax, l.rbx);
    ++failures;
  }
  if (failures == 0)
    say("agectl: ebs: done: agevisor survived ExitBootServices and the overwrite");
  else
    say("agectl: ebs: FAILED: %u checks", failures);
  halt_forever();
}

// `mib` MiB starting at a 2 MiB boundary (so whole 2 MiB leaves), freed with the object.
class LeafAlignedBuffer {
 public:
  explicit LeafAlignedBuffer(unsigned mib) : bytes_(uint64_t{mib} << 20) {
    if (EFI_ERROR(g_system->BootServices->AllocatePages(AllocateAnyPages, EfiBootServicesData,
                                                        pages(), &raw_)))
      raw_ = 0;
  }
  ~LeafAlignedBuffer() {
    if (raw_ != 0)
      g_system->BootServices->FreePages(raw_, pages());
  }
  LeafAlignedBuffer(const LeafAlignedBuffer&) = delete;
  LeafAlignedBuffer& operator=(const LeafAlignedBuffer&) = delete;

  bool ok() const { return raw_ != 0; }
  uint64_t base() const { return (raw_ + kLeaf - 1) & ~(kLeaf - 1); }
  uint64_t bytes() const { return bytes_; }

 private:
  static constexpr uint64_t kLeaf = uint64_t{2} << 20;
  UINTN pages() const { return (bytes_ + kLeaf) / 4096; }
  uint64_t bytes_;
  EFI_PHYSICAL_ADDRESS raw_ = 0;
};

// arch::target::rdtsc, ordered after the work measured before it (LFENCE first).
uint64_t rdtsc() {
  uint32_t lo = 0;
  uint32_t hi = 0;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// "12.34" for value / divisor with two decimals.
void ratio_text(uint64_t value, uint64_t divisor, char* out, size_t size) {
  if (divisor == 0) {
    arch::format(out, size, "n/a");
    return;
  }
  const uint64_t hundredths = value * 100 / divisor;
  arch::format(out, size, "%lu.%02lu", hundredths / 100, hundredths % 100);
}

// Cycle ratios of agevisor's paths, measured from the guest with the TSC (under Bochs the
// TSC counts emulated instructions, so the figures repeat from run to run). Baselines are
// measured in the same run: a minimal exit (CPUID, which always exits), and the same
// stores without a fault.
EFI_STATUS bench(const agectl::Args& args) {
  constexpr unsigned kExits = 1000;
  uint64_t t = rdtsc();
  for (unsigned i = 0; i < kExits; ++i)
    (void)cpuid(0);
  const uint64_t cpuid_cycles = (rdtsc() - t) / kExits;
  t = rdtsc();
  for (unsigned i = 0; i < kExits; ++i)
    (void)vmcall(hv::Hypercall::kVersion);
  const uint64_t vmcall_cycles = (rdtsc() - t) / kExits;
  // A synchronous flush: INVEPT here and, with more CPUs, an NMI to each other CPU, its exit
  // and INVEPT, and the wait for its acknowledgement.
  constexpr unsigned kFlushes = 100;
  uint64_t flushed_cpus = 0;
  t = rdtsc();
  for (unsigned i = 0; i < kFlushes; ++i) {
    const Regs r = vmcall(hv::Hypercall::kFlush);
    if (r.rax != 0) {
      say("agectl: bench: flush hypercall failed: %s", status_name(r.rax));
      return EFI_UNSUPPORTED;
    }
    flushed_cpus = r.rbx;
  }
  const uint64_t flush_cycles = (rdtsc() - t) / kFlushes;

  const LeafAlignedBuffer memory(args.mib);
  if (!memory.ok()) {
    say("agectl: cannot allocate %u MiB", args.mib);
    return EFI_OUT_OF_RESOURCES;
  }
  const uint64_t bytes = memory.bytes();
  const uint64_t base = memory.base();
  auto* volatile buffer = reinterpret_cast<volatile uint8_t*>(base);
  const uint64_t pages = bytes / 4096;
  for (uint64_t p = 0; p < pages; ++p)  // mapped, present and dirty before we start
    buffer[p * 4096] = 1;

  hv::AgeCounts counts;
  t = rdtsc();
  if (!age("bench", &counts))
    return EFI_UNSUPPORTED;
  const uint64_t pass_cycles = rdtsc() - t;
  // First store to every page after the pass: in rwx-stash mode the first store to each leaf
  // takes an EPT violation and the lockless restore; in accessed-bit mode none does.
  t = rdtsc();
  for (uint64_t p = 0; p < pages; ++p)
    buffer[p * 4096] = 2;
  const uint64_t tracked_cycles = rdtsc() - t;
  t = rdtsc();
  for (uint64_t p = 0; p < pages; ++p)
    buffer[p * 4096] = 3;
  const uint64_t plain_cycles = rdtsc() - t;
  const uint64_t leaves = bytes >> 21;  // agevisor maps RAM with leaves of at most 2 MiB
  const uint64_t fault_cycles =
      tracked_cycles > plain_cycles ? (tracked_cycles - plain_cycles) / leaves : 0;

  char a[16];
  char b[16];
  say("agectl: bench: CPUID exit %lu cycles, VMCALL version %lu cycles (%u each)", cpuid_cycles,
      vmcall_cycles, kExits);
  ratio_text(flush_cycles, cpuid_cycles, a, sizeof(a));
  say("agectl: bench: synchronous flush reaching %lu CPUs: %lu cycles = %s CPUID exits (%u each)",
      flushed_cpus, flush_cycles, a, kFlushes);
  ratio_text(fault_cycles, cpuid_cycles, a, sizeof(a));
  say("agectl: bench: first store to an aged 2 MiB leaf: %lu cycles more than a plain store "
      "= %s CPUID exits (%lu leaves)",
      fault_cycles, a, leaves);
  ratio_text(pass_cycles, counts.tracked_pages, a, sizeof(a));
  ratio_text(pass_cycles, cpuid_cycles * 1000, b, sizeof(b));
  say("agectl: bench: aging pass over %lu MiB of RAM: %lu cycles = %s cycles per 4 KiB page = "
      "%s thousand CPUID exits",
      counts.tracked_pages / 256, pass_cycles, a, b);
  say("agectl: bench: done");
  return EFI_SUCCESS;
}

EFI_STATUS run(const agectl::Args& args) {
  const Regs version = vmcall(hv::Hypercall::kVersion);
  say("agectl: agevisor hypercall ABI version %lu", version.rbx);
  if (args.mode == agectl::Mode::kHostile)
    return hostile();
  if (args.mode == agectl::Mode::kLog)
    return print_log();
  if (args.mode == agectl::Mode::kExitBootServices)
    exit_boot_services_and_check(g_image);
  if (args.mode == agectl::Mode::kBench)
    return bench(args);

  EFI_BOOT_SERVICES* bs = g_system->BootServices;
  hv::WorkingSetReport* report = nullptr;
  if (EFI_ERROR(bs->AllocatePool(EfiBootServicesData, sizeof(*report),
                                 reinterpret_cast<void**>(&report)))) {
    say("agectl: out of memory for the report");
    return EFI_OUT_OF_RESOURCES;
  }
  hv::AgeCounts counts;
  if (args.mode == agectl::Mode::kReport) {
    // Passes so far, before this tool asks for one: with periodic aging (period=), agevisor
    // runs them on its own.
    const Regs before =
        vmcall(hv::Hypercall::kWorkingSet, reinterpret_cast<uint64_t>(report), sizeof(*report));
    if (before.rax == 0)
      say("agectl: agevisor has run %lu aging passes so far", report->passes);
    if (!age("report", &counts))
      return EFI_UNSUPPORTED;
    say("agectl: pass: %lu pages accessed, %lu tracked, %lu dirty", counts.accessed_pages,
        counts.tracked_pages, counts.dirty_pages);
    return print_working_set(report) ? EFI_SUCCESS : EFI_UNSUPPORTED;
  }

  // The buffer, aligned to 2 MiB so its halves are whole 2 MiB leaves.
  const LeafAlignedBuffer memory(args.mib);
  if (!memory.ok()) {
    say("agectl: cannot allocate %u MiB", args.mib);
    return EFI_OUT_OF_RESOURCES;
  }
  const uint64_t frames = memory.bytes() / 4096;
  const uint64_t base = memory.base();
  uint8_t* ages = nullptr;
  if (EFI_ERROR(bs->AllocatePool(EfiBootServicesData, frames, reinterpret_cast<void**>(&ages)))) {
    say("agectl: out of memory for the frame ages");
    return EFI_OUT_OF_RESOURCES;
  }
  say("agectl: buffer of %u MiB at %#lx, %u rounds", args.mib, base, args.rounds);

  if (!age("start", &counts))  // forget what happened before
    return EFI_UNSUPPORTED;
  unsigned failures = 0;
  for (unsigned round = 1; round <= args.rounds; ++round) {
    const uint64_t written = agectl::round_bytes(args, round);
    auto* volatile bytes_ptr = reinterpret_cast<volatile uint8_t*>(base);
    for (uint64_t offset = 0; offset < written; offset += 4096)
      bytes_ptr[offset] = static_cast<uint8_t>(bytes_ptr[offset] + round);
    if (!age("round", &counts))
      return EFI_UNSUPPORTED;
    say("agectl: round %u: wrote %lu KiB, pass: %lu pages accessed, %lu tracked, %lu dirty", round,
        written / 1024, counts.accessed_pages, counts.tracked_pages, counts.dirty_pages);
    if (counts.accessed_pages < written / 4096 || counts.dirty_pages < written / 4096) {
      say("agectl: FAIL: round %u wrote %lu pages, the pass saw fewer", round, written / 4096);
      ++failures;
    }
    if (!print_working_set(report))
      return EFI_UNSUPPORTED;
    const Regs r =
        vmcall(hv::Hypercall::kFrameAges, reinterpret_cast<uint64_t>(ages), frames, base);
    if (r.rax != 0 || r.rbx != frames) {
      say("agectl: frame_ages hypercall failed: %s", status_name(r.rax));
      return EFI_UNSUPPORTED;
    }
    const agectl::AgeCheck check = agectl::check_frame_ages(args, round, ages, frames);
    if (check.mismatches != 0) {
      say("agectl: FAIL: round %u: %lu of %lu frames have an unexpected idle age (frame %lu: "
          "%u, expected %u)",
          round, check.mismatches, check.checked, check.first_bad, check.first_bad_age,
          check.first_bad_expected);
      ++failures;
    } else {
      say("agectl: round %u: idle ages of %lu buffer frames as expected (%lu idle >= 1 pass)",
          round, check.checked, check.idle);
    }
  }
  bs->FreePool(ages);
  bs->FreePool(report);
  if (failures != 0) {
    say("agectl: FAILED: %u checks", failures);
    return EFI_ABORTED;
  }
  say("agectl: done");
  return EFI_SUCCESS;
}

}  // namespace
}  // namespace agectl

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
  using namespace agectl;
  g_system = system_table;
  g_image = image;
  char options[128];
  read_options(image, options, sizeof(options));
  const ArgsResult parsed = parse_args(skip_program(options));
  if (!parsed.ok) {
    say("agectl: %s", parsed.error);
    return EFI_INVALID_PARAMETER;
  }
  const bool agevisor = agevisor_present();
  if (parsed.args.mode == Mode::kMp)  // runs without agevisor too, to compare
    return run_mp(parsed.args, agevisor, true);
  if (parsed.args.mode == Mode::kNmi)  // runs without agevisor too, to compare
    return run_nmi(parsed.args, agevisor);
  if (parsed.args.mode == Mode::kFlush && agevisor)
    return run_mp(parsed.args, agevisor, false);
  if (!agevisor) {
    say("agectl: agevisor is not running (no 'agevisor' signature at CPUID 0x40000000)");
    return EFI_NOT_FOUND;
  }
  if (parsed.args.mode == Mode::kFaults)
    return run_faults(parsed.args);
  return run(parsed.args);
}
