// The hand-over from the UEFI application to the hypervisor.
//
// A UEFI application's image is freed when it returns, and the OS reclaims boot-services
// memory after ExitBootServices. So the host code runs from a copy of the image in
// EfiRuntimeServicesCode pages, rebased with its own RELATIVE relocations (the post-link
// check guarantees there are no others), and everything the host keeps lives in
// EfiRuntimeServicesData pages. The launch itself runs from the original image, so the
// guest resumes there and returns to the shell like any application.
#include "boot/hypervisor_start.h"

#include "arch/elf_relocation.h"
#include "arch/target/cpu.h"
#include "boot/mp_services.h"
#include "boot/uefi_console.h"
#include "hv/firmware_memory_map.h"
#include "hv/target/launch.h"
#include "hv/target/log.h"
#include "mm/pool_sizing.h"

extern "C" {
__attribute__((visibility("hidden"))) extern const arch::Elf64Dyn _DYNAMIC[];
__attribute__((visibility("hidden"))) extern char ImageBase[];
}

namespace boot {
namespace {

constexpr uint64_t kPage = 4096;

// The firmware memory map as hv::FirmwareRange entries, in pool memory the caller frees.
struct FirmwareMap {
  hv::FirmwareRange* ranges = nullptr;
  size_t count = 0;
  uint64_t top = 0;  // end of the highest range
};

EFI_STATUS read_firmware_map(EFI_BOOT_SERVICES* bs, FirmwareMap* out) {
  UINTN size = 0;
  UINTN key = 0;
  UINTN descriptor_size = 0;
  UINT32 version = 0;
  bs->GetMemoryMap(&size, nullptr, &key, &descriptor_size, &version);
  size += 8 * descriptor_size;  // the allocations below may add entries
  void* buffer = nullptr;
  EFI_STATUS status = bs->AllocatePool(EfiLoaderData, size, &buffer);
  if (EFI_ERROR(status))
    return status;
  const size_t capacity = size / descriptor_size;
  void* ranges = nullptr;
  status = bs->AllocatePool(EfiLoaderData, capacity * sizeof(hv::FirmwareRange), &ranges);
  if (!EFI_ERROR(status)) {
    status = bs->GetMemoryMap(&size, static_cast<EFI_MEMORY_DESCRIPTOR*>(buffer), &key,
                              &descriptor_size, &version);
  }
  if (EFI_ERROR(status)) {
    if (ranges != nullptr)
      bs->FreePool(ranges);
    bs->FreePool(buffer);
    return status;
  }
  *out = FirmwareMap{static_cast<hv::FirmwareRange*>(ranges), 0, 0};
  for (UINTN offset = 0; offset < size; offset += descriptor_size) {
    const auto* d =
        reinterpret_cast<const EFI_MEMORY_DESCRIPTOR*>(static_cast<uint8_t*>(buffer) + offset);
    out->ranges[out->count++] = {d->PhysicalStart, d->NumberOfPages, d->Type};
    const uint64_t end = d->PhysicalStart + d->NumberOfPages * kPage;
    if (end > out->top)
      out->top = end;
  }
  bs->FreePool(buffer);
  return EFI_SUCCESS;
}

// mm's view of the memory map, with `hypervisor` carved out; pool memory the caller frees.
EFI_STATUS memory_ranges(EFI_BOOT_SERVICES* bs, const hv::FirmwareRange* hypervisor,
                         size_t hypervisor_count, mm::MemoryRange** ranges, size_t* count,
                         uint64_t* top) {
  FirmwareMap map;
  EFI_STATUS status = read_firmware_map(bs, &map);
  if (EFI_ERROR(status))
    return status;
  const size_t capacity = 2 * (map.count + hypervisor_count) + 1;
  void* out = nullptr;
  status = bs->AllocatePool(EfiLoaderData, capacity * sizeof(mm::MemoryRange), &out);
  if (!EFI_ERROR(status)) {
    const auto built = hv::build_memory_ranges(map.ranges, map.count, hypervisor, hypervisor_count,
                                               static_cast<mm::MemoryRange*>(out), capacity);
    if (built.ok()) {
      *ranges = static_cast<mm::MemoryRange*>(out);
      *count = built.value();
      *top = map.top;
    } else {
      hv::log::printf("boot: the firmware memory map is unusable: %s",
                      arch::error_name(built.error()));
      bs->FreePool(out);
      status = EFI_LOAD_ERROR;
    }
  }
  bs->FreePool(map.ranges);
  return status;
}

struct Pages {
  EFI_PHYSICAL_ADDRESS base = 0;
  UINTN count = 0;
};

EFI_STATUS allocate(EFI_BOOT_SERVICES* bs, EFI_MEMORY_TYPE type, UINTN count, Pages* out) {
  out->count = count;
  EFI_STATUS status = bs->AllocatePages(AllocateAnyPages, type, count, &out->base);
  if (!EFI_ERROR(status))
    bs->SetMem(reinterpret_cast<void*>(out->base), count * kPage, 0);
  return status;
}

// The ACPI 2.0+ RSDP from the configuration table (else the ACPI 1.0 one), or 0.
uint64_t acpi_rsdp(EFI_SYSTEM_TABLE* st) {
  EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
  EFI_GUID acpi10 = ACPI_TABLE_GUID;
  uint64_t found = 0;
  for (UINTN i = 0; i < st->NumberOfTableEntries; ++i) {
    const EFI_CONFIGURATION_TABLE& t = st->ConfigurationTable[i];
    const auto address = reinterpret_cast<uint64_t>(t.VendorTable);
    if (CompareGuid(const_cast<EFI_GUID*>(&t.VendorGuid), &acpi20) == 0)
      return address;
    if (CompareGuid(const_cast<EFI_GUID*>(&t.VendorGuid), &acpi10) == 0)
      found = address;
  }
  return found;
}

// The TSC frequency, against the firmware's Stall (20 ms): what the preemption timer, which
// counts in TSC units, needs to turn milliseconds into ticks.
uint64_t measure_tsc_hz(EFI_BOOT_SERVICES* bs) {
  const uint64_t start = arch::target::rdtsc();
  bs->Stall(20'000);
  return (arch::target::rdtsc() - start) * 50;
}

// A rebased copy of the loaded image; `base` is where ImageBase lands in the copy.
EFI_STATUS copy_image(EFI_HANDLE image, EFI_BOOT_SERVICES* bs, Pages* copy) {
  EFI_GUID loaded_image_guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* loaded = nullptr;
  EFI_STATUS status =
      bs->HandleProtocol(image, &loaded_image_guid, reinterpret_cast<void**>(&loaded));
  if (EFI_ERROR(status))
    return status;
  const auto original = reinterpret_cast<uint64_t>(loaded->ImageBase);
  if (original != reinterpret_cast<uint64_t>(ImageBase))
    return EFI_LOAD_ERROR;
  status = allocate(bs, EfiRuntimeServicesCode, (loaded->ImageSize + kPage - 1) / kPage, copy);
  if (EFI_ERROR(status))
    return status;
  bs->CopyMem(reinterpret_cast<void*>(copy->base), loaded->ImageBase, loaded->ImageSize);

  const auto table = arch::find_rela_table(_DYNAMIC);
  const auto* relocations =
      table.ok() ? reinterpret_cast<const arch::Elf64Rela*>(original + table.value().offset)
                 : nullptr;
  const auto rebased =
      table.ok() ? arch::rebase_image(reinterpret_cast<uint8_t*>(copy->base), loaded->ImageSize,
                                      relocations, table.value().count, copy->base)
                 : arch::Result<void>(table.error());
  if (!rebased.ok()) {
    hv::log::printf("boot: cannot rebase the image copy: %s", arch::error_name(rebased.error()));
    bs->FreePages(copy->base, copy->count);
    return EFI_LOAD_ERROR;
  }
  return EFI_SUCCESS;
}

// The same function in the copy.
template <typename F>
F* in_copy(F* function, uint64_t copy_base) {
  return reinterpret_cast<F*>(reinterpret_cast<uint64_t>(function) -
                              reinterpret_cast<uint64_t>(ImageBase) + copy_base);
}

// The enabled processors, the boot CPU first: agevisor's CPU index is the position here.
struct Processors {
  MpServices* mp = nullptr;
  UINTN numbers[hv::target::kMaxLaunchCpus] = {};  // MP services' processor numbers
  uint32_t count = 1;
};

EFI_STATUS find_processors(EFI_BOOT_SERVICES* bs, bool boot_cpu_only, Processors* out) {
  if (boot_cpu_only) {
    hv::log::write_line("boot: cpus=boot: the application processors stay outside agevisor");
    return EFI_SUCCESS;
  }
  EFI_GUID guid = kMpServicesGuid;
  void* protocol = nullptr;
  if (EFI_ERROR(bs->LocateProtocol(&guid, nullptr, &protocol)) || protocol == nullptr) {
    hv::log::write_line("boot: no EFI MP services: agevisor runs on the boot CPU only");
    return EFI_SUCCESS;
  }
  auto* mp = static_cast<MpServices*>(protocol);
  UINTN total = 0;
  UINTN enabled = 0;
  UINTN bsp = 0;
  if (EFI_ERROR(mp->GetNumberOfProcessors(mp, &total, &enabled)) ||
      EFI_ERROR(mp->WhoAmI(mp, &bsp))) {
    hv::log::write_line("boot: MP services cannot count the processors: boot CPU only");
    return EFI_SUCCESS;
  }
  if (enabled > hv::target::kMaxLaunchCpus) {
    hv::log::printf("boot: %lu enabled processors, agevisor supports at most %u", enabled,
                    hv::target::kMaxLaunchCpus);
    return EFI_UNSUPPORTED;
  }
  out->mp = mp;
  out->numbers[0] = bsp;
  out->count = 1;
  for (UINTN n = 0; n < total; ++n) {
    ProcessorInformation info{};
    if (n == bsp || EFI_ERROR(mp->GetProcessorInfo(mp, n, &info)) ||
        (info.StatusFlag & kProcessorEnabled) == 0 || out->count == hv::target::kMaxLaunchCpus)
      continue;
    out->numbers[out->count++] = n;
  }
  if (total > out->count)
    hv::log::printf("boot: %lu processors, %lu enabled: agevisor takes the %u enabled ones", total,
                    enabled, out->count);
  return EFI_SUCCESS;
}

// What the procedure on an application processor is given and answers.
struct ApLaunch {
  uint64_t copy_base = 0;
  uint32_t index = 0;
  bool ran = false;
  int status = -1;  // 0 launched; 1/2/3 agevisor_vmlaunch's failures; -1 not prepared
  arch::Error error = arch::Error::kInvalidArgument;
};

// Runs on an application processor (MP services): no boot services, no console; agevisor's
// copy logs to the serial port itself.
VOID EFIAPI launch_application_processor(VOID* argument) {
  auto* a = static_cast<ApLaunch*>(argument);
  a->ran = true;
  const auto prepared = in_copy(&hv::target::prepare_cpu_launch, a->copy_base)(a->index);
  if (!prepared.ok()) {
    a->error = prepared.error();
    return;
  }
  const int launched = agevisor_vmlaunch();
  if (launched != 0)
    in_copy(&hv::target::finish_failed_launch, a->copy_base)(launched, a->index);
  a->status = launched;
}

// Launches agevisor on every application processor in turn; false when one failed.
bool launch_application_processors(const Processors& cpus, uint64_t copy_base) {
  for (uint32_t i = 1; i < cpus.count; ++i) {
    ApLaunch a;
    a.copy_base = copy_base;
    a.index = i;
    const EFI_STATUS status = cpus.mp->StartupThisAP(cpus.mp, launch_application_processor,
                                                     cpus.numbers[i], nullptr, 0, &a, nullptr);
    if (EFI_ERROR(status) || !a.ran) {
      hv::log::printf("boot: MP services did not run CPU %u (processor %lu): status %#lx", i,
                      cpus.numbers[i], status);
      return false;
    }
    if (a.status < 0) {
      hv::log::printf("agevisor: CPU %u (processor %lu) not started: %s", i, cpus.numbers[i],
                      arch::error_name(a.error));
      return false;
    }
    if (a.status != 0) {
      hv::log::printf("agevisor: CPU %u (processor %lu): VMLAUNCH failed (%d)", i, cpus.numbers[i],
                      a.status);
      return false;
    }
  }
  return true;
}

}  // namespace

EFI_STATUS start_hypervisor(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table,
                            const hv::CpuSnapshot& snapshot, const StartOptions& options) {
  EFI_BOOT_SERVICES* bs = system_table->BootServices;
  hv::target::LaunchRequest request;
  request.snapshot = &snapshot;
  request.tracking_mode = options.tracking_mode;
  request.hide_hypervisor = options.hide_hypervisor;
  request.corrupt_guest_state = options.corrupt_guest_state;
  request.fail_last_cpu = options.fail_last_cpu;
  request.period_ms = options.period_ms;
  request.acpi_rsdp = acpi_rsdp(system_table);
  if (options.period_ms != 0)
    request.tsc_hz = measure_tsc_hz(bs);

  // Size the pool from the memory map as it is now; the hypervisor's own allocations below
  // only change the kind of a few ranges (the sizing's slack covers that).
  mm::MemoryRange* ranges = nullptr;
  size_t range_count = 0;
  EFI_STATUS status = memory_ranges(bs, nullptr, 0, &ranges, &range_count, &request.memory_top);
  if (EFI_ERROR(status))
    return status;
  const auto sizing = mm::pool_pages_needed(ranges, range_count, mm::PoolSizingParams{});
  bs->FreePool(ranges);
  if (!sizing.ok()) {
    hv::log::printf("boot: cannot size the EPT pool: %s", arch::error_name(sizing.error()));
    return EFI_LOAD_ERROR;
  }
  request.pool_pages = sizing.value().pages;

  Processors cpus;
  status = find_processors(bs, options.boot_cpu_only, &cpus);
  if (EFI_ERROR(status))
    return status;
  request.cpu_count = cpus.count;
  if (cpus.count > 1 && !snapshot.misc().activity_wait_for_sipi()) {
    // An application processor woken again by the firmware or the OS gets INIT then SIPI:
    // without the wait-for-SIPI activity state agevisor cannot park it in between.
    hv::log::write_line(
        "boot: no wait-for-SIPI activity state (IA32_VMX_MISC bit 8): agevisor runs on the "
        "boot CPU only");
    request.cpu_count = cpus.count = 1;
  }

  Pages region;
  const uint64_t pages = hv::target::region_pages_needed(
      request.memory_top, snapshot.features().pages_1g, request.pool_pages, request.cpu_count);
  status = allocate(bs, EfiRuntimeServicesData, pages, &region);
  if (EFI_ERROR(status)) {
    hv::log::printf("boot: cannot allocate %lu pages for the hypervisor", pages);
    return status;
  }
  request.region = {region.base, region.count};

  // The copy must not inherit pointers into this image that no relocation describes: the
  // console sink is a function of the original image, so it is off while copying.
  hv::log::set_extra_sink(nullptr, nullptr);
  Pages copy;
  status = copy_image(image, bs, &copy);
  hv::log::set_extra_sink(uefi_console_sink, system_table->ConOut, options.console_mirrors_serial);
  if (EFI_ERROR(status)) {
    bs->FreePages(region.base, region.count);
    return status;
  }
  hv::log::printf("boot: image copy %#lx + %lu pages (runtime services code)", copy.base,
                  copy.count);

  const hv::FirmwareRange hypervisor[] = {{region.base, region.count, 0},
                                          {copy.base, copy.count, 0}};
  status = memory_ranges(bs, hypervisor, 2, &ranges, &range_count, &request.memory_top);
  if (EFI_ERROR(status)) {
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return status;
  }
  request.ranges = ranges;
  request.range_count = range_count;
  const auto prepared = in_copy(&hv::target::prepare_launch, copy.base)(request);
  bs->FreePool(ranges);
  if (!prepared.ok()) {
    hv::log::printf("agevisor: not started: %s", arch::error_name(prepared.error()));
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return EFI_UNSUPPORTED;
  }
  const int launched = agevisor_vmlaunch();
  if (launched != 0) {
    in_copy(&hv::target::finish_failed_launch, copy.base)(launched, 0);
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return EFI_ABORTED;
  }
  // The boot CPU is agevisor's guest from here; the application processors follow.
  if (!launch_application_processors(cpus, copy.base)) {
    const uint64_t left = agevisor_leave();
    if (left != 0) {
      hv::log::printf("agevisor: undoing the start failed (status %lu): agevisor stays", left);
      return EFI_ABORTED;
    }
    hv::log::write_line(
        "agevisor: a CPU could not be taken: agevisor left every CPU, the firmware goes on "
        "without it");
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return EFI_ABORTED;
  }
  (void)agevisor_startup_done();
  hv::log::printf("agevisor: running on %u CPU%s; the firmware continues as its guest", cpus.count,
                  cpus.count == 1 ? "" : "s");
  return EFI_SUCCESS;
}

}  // namespace boot
