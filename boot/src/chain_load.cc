#include "boot/chain_load.h"

#include "hv/target/log.h"

namespace boot {
namespace {

constexpr UINTN kWatchdogSeconds = 300;  // what edk2's boot manager gives a boot option

size_t device_path_size(const EFI_DEVICE_PATH* path) {
  size_t size = 0;
  const auto* node = reinterpret_cast<const uint8_t*>(path);
  for (;;) {
    const auto* p = reinterpret_cast<const EFI_DEVICE_PATH*>(node + size);
    const size_t length =
        static_cast<size_t>(p->Length[0]) | (static_cast<size_t>(p->Length[1]) << 8);
    if (p->Type == END_DEVICE_PATH_TYPE && p->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE)
      return size;  // without the end node
    if (length < sizeof(EFI_DEVICE_PATH))
      return size;  // malformed: stop here
    size += length;
  }
}

void set_length(EFI_DEVICE_PATH* node, size_t length) {
  node->Length[0] = static_cast<UINT8>(length & 0xFF);
  node->Length[1] = static_cast<UINT8>(length >> 8);
}

// agevisor's device path followed by a file path node for `path` and the end node.
EFI_DEVICE_PATH* file_path_on(EFI_BOOT_SERVICES* bs, const EFI_DEVICE_PATH* device,
                              const char* path, size_t path_length) {
  const bool rooted = path_length > 0 && (path[0] == '\\' || path[0] == '/');
  const size_t chars = path_length + (rooted ? 0 : 1);
  const size_t prefix = device_path_size(device);
  const size_t file_node = sizeof(EFI_DEVICE_PATH) + (chars + 1) * sizeof(CHAR16);
  const size_t total = prefix + file_node + sizeof(EFI_DEVICE_PATH);
  uint8_t* out = nullptr;
  if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, total, reinterpret_cast<void**>(&out))))
    return nullptr;
  bs->CopyMem(out, const_cast<EFI_DEVICE_PATH*>(device), prefix);
  auto* file = reinterpret_cast<EFI_DEVICE_PATH*>(out + prefix);
  file->Type = MEDIA_DEVICE_PATH;
  file->SubType = MEDIA_FILEPATH_DP;
  set_length(file, file_node);
  auto* name = reinterpret_cast<CHAR16*>(out + prefix + sizeof(EFI_DEVICE_PATH));
  size_t n = 0;
  if (!rooted)
    name[n++] = '\\';
  for (size_t i = 0; i < path_length; ++i)
    name[n++] = path[i] == '/' ? '\\' : static_cast<CHAR16>(path[i]);
  name[n] = 0;
  auto* end = reinterpret_cast<EFI_DEVICE_PATH*>(out + prefix + file_node);
  end->Type = END_DEVICE_PATH_TYPE;
  end->SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE;
  set_length(end, sizeof(EFI_DEVICE_PATH));
  return reinterpret_cast<EFI_DEVICE_PATH*>(out);
}

// "<path> <options>" in UTF-16, NUL-terminated; `*bytes` is its size with the NUL.
CHAR16* command_line(EFI_BOOT_SERVICES* bs, const char* path, size_t path_length,
                     const char* options, UINT32* bytes) {
  size_t options_length = 0;
  while (options[options_length] != '\0')
    ++options_length;
  const size_t units = path_length + (options_length > 0 ? 1 + options_length : 0) + 1;
  CHAR16* text = nullptr;
  if (EFI_ERROR(
          bs->AllocatePool(EfiLoaderData, units * sizeof(CHAR16), reinterpret_cast<void**>(&text))))
    return nullptr;
  size_t n = 0;
  for (size_t i = 0; i < path_length; ++i)
    text[n++] = static_cast<CHAR16>(path[i]);
  if (options_length > 0) {
    text[n++] = ' ';
    for (size_t i = 0; i < options_length; ++i)
      text[n++] = static_cast<CHAR16>(options[i]);
  }
  text[n++] = 0;
  *bytes = static_cast<UINT32>(n * sizeof(CHAR16));
  return text;
}

}  // namespace

void disable_watchdog(EFI_SYSTEM_TABLE* system_table) {
  (void)system_table->BootServices->SetWatchdogTimer(0, 0, 0, nullptr);
}

EFI_STATUS chain_load(EFI_HANDLE agevisor_image, EFI_SYSTEM_TABLE* system_table, const char* path,
                      size_t path_length, const char* options) {
  EFI_BOOT_SERVICES* bs = system_table->BootServices;
  EFI_GUID loaded_guid = LOADED_IMAGE_PROTOCOL;
  EFI_GUID path_guid = DEVICE_PATH_PROTOCOL;
  EFI_LOADED_IMAGE* self = nullptr;
  EFI_DEVICE_PATH* device = nullptr;
  EFI_STATUS status =
      bs->HandleProtocol(agevisor_image, &loaded_guid, reinterpret_cast<void**>(&self));
  if (!EFI_ERROR(status))
    status = bs->HandleProtocol(self->DeviceHandle, &path_guid, reinterpret_cast<void**>(&device));
  if (EFI_ERROR(status)) {
    hv::log::printf("agevisor: cannot start %.*s: agevisor's device has no device path (%#lx)",
                    static_cast<int>(path_length), path, status);
    return status;
  }
  EFI_DEVICE_PATH* file = file_path_on(bs, device, path, path_length);
  if (file == nullptr)
    return EFI_OUT_OF_RESOURCES;
  EFI_HANDLE child = nullptr;
  status = bs->LoadImage(FALSE, agevisor_image, file, nullptr, 0, &child);
  bs->FreePool(file);
  if (EFI_ERROR(status)) {
    hv::log::printf("agevisor: cannot load %.*s: status %#lx", static_cast<int>(path_length), path,
                    status);
    return status;
  }
  EFI_LOADED_IMAGE* loaded = nullptr;
  UINT32 options_bytes = 0;
  CHAR16* text = command_line(bs, path, path_length, options, &options_bytes);
  if (text != nullptr &&
      !EFI_ERROR(bs->HandleProtocol(child, &loaded_guid, reinterpret_cast<void**>(&loaded)))) {
    loaded->LoadOptions = text;
    loaded->LoadOptionsSize = options_bytes;
  }
  hv::log::printf("agevisor: starting %.*s as the guest (watchdog re-armed: %lu s)",
                  static_cast<int>(path_length), path,
                  static_cast<unsigned long>(kWatchdogSeconds));
  (void)bs->SetWatchdogTimer(kWatchdogSeconds, 0, 0, nullptr);
  status = bs->StartImage(child, nullptr, nullptr);
  (void)bs->SetWatchdogTimer(0, 0, 0, nullptr);
  hv::log::printf("agevisor: %.*s returned %#lx", static_cast<int>(path_length), path, status);
  if (text != nullptr)
    bs->FreePool(text);
  return status;
}

}  // namespace boot
