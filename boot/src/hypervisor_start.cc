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
#include "boot/uefi_console.h"
#include "hv/target/launch.h"
#include "hv/target/log.h"

extern "C" {
__attribute__((visibility("hidden"))) extern const arch::Elf64Dyn _DYNAMIC[];
__attribute__((visibility("hidden"))) extern char ImageBase[];
}

namespace boot {
namespace {

constexpr uint64_t kPage = 4096;

// End of the highest range in the firmware memory map.
uint64_t memory_top(EFI_BOOT_SERVICES* bs) {
  UINTN size = 0;
  UINTN key = 0;
  UINTN descriptor_size = 0;
  UINT32 version = 0;
  bs->GetMemoryMap(&size, nullptr, &key, &descriptor_size, &version);
  size += 4 * descriptor_size;
  void* buffer = nullptr;
  if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, size, &buffer)))
    return 0;
  uint64_t top = 0;
  auto* map = static_cast<EFI_MEMORY_DESCRIPTOR*>(buffer);
  if (!EFI_ERROR(bs->GetMemoryMap(&size, map, &key, &descriptor_size, &version))) {
    for (UINTN offset = 0; offset < size; offset += descriptor_size) {
      const auto* d =
          reinterpret_cast<const EFI_MEMORY_DESCRIPTOR*>(static_cast<uint8_t*>(buffer) + offset);
      const uint64_t end = d->PhysicalStart + d->NumberOfPages * kPage;
      if (end > top)
        top = end;
    }
  }
  bs->FreePool(buffer);
  return top;
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

}  // namespace

EFI_STATUS start_hypervisor(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table,
                            const hv::CpuSnapshot& snapshot, const StartOptions& options) {
  EFI_BOOT_SERVICES* bs = system_table->BootServices;
  hv::target::LaunchRequest request;
  request.snapshot = &snapshot;
  request.tracking_mode = options.tracking_mode;
  request.hide_hypervisor = options.hide_hypervisor;
  request.corrupt_guest_state = options.corrupt_guest_state;
  request.memory_top = memory_top(bs);

  Pages region;
  const uint64_t pages =
      hv::target::region_pages_needed(request.memory_top, snapshot.features().pages_1g);
  EFI_STATUS status = allocate(bs, EfiRuntimeServicesData, pages, &region);
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

  const auto prepared = in_copy(&hv::target::prepare_launch, copy.base)(request);
  if (!prepared.ok()) {
    hv::log::printf("agevisor: not started: %s", arch::error_name(prepared.error()));
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return EFI_UNSUPPORTED;
  }
  const int launched = agevisor_vmlaunch();
  if (launched != 0) {
    in_copy(&hv::target::finish_failed_launch, copy.base)(launched);
    bs->FreePages(copy.base, copy.count);
    bs->FreePages(region.base, region.count);
    return EFI_ABORTED;
  }
  hv::log::write_line("agevisor: running; the firmware continues as its guest");
  return EFI_SUCCESS;
}

}  // namespace boot
