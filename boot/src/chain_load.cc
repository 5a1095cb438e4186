#include "boot/chain_load.h"

#include "hv/boot_order.h"
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

size_t whole_path_size(const EFI_DEVICE_PATH* path) {
  return device_path_size(path) + sizeof(EFI_DEVICE_PATH);
}

// A global variable (EFI_GLOBAL_VARIABLE) into `buffer`; its size, or 0 when absent.
// (L"" literals are wchar_t, 16 bits with -fshort-wchar: the same layout as CHAR16.)
UINTN read_global(EFI_SYSTEM_TABLE* st, const wchar_t* name, void* buffer, UINTN size) {
  EFI_GUID global = EFI_GLOBAL_VARIABLE;
  UINT32 attributes = 0;
  if (EFI_ERROR(
          st->RuntimeServices->GetVariable(reinterpret_cast<CHAR16*>(const_cast<wchar_t*>(name)),
                                           &global, &attributes, &size, buffer)))
    return 0;
  return size;
}

void boot_variable_name(uint16_t number, CHAR16* out) {
  const char* hex = "0123456789ABCDEF";
  const char* prefix = "Boot";
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<CHAR16>(prefix[i]);
  for (int i = 0; i < 4; ++i)
    out[4 + i] = static_cast<CHAR16>(hex[(number >> (12 - 4 * i)) & 0xF]);
  out[8] = 0;
}

// A pool allocation freed when it goes out of scope.
struct PoolBuffer {
  EFI_BOOT_SERVICES* bs;
  void* data = nullptr;
  PoolBuffer(EFI_BOOT_SERVICES* services, UINTN size) : bs(services) {
    if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, size, &data)))
      data = nullptr;
  }
  ~PoolBuffer() {
    if (data != nullptr)
      bs->FreePool(data);
  }
  PoolBuffer(const PoolBuffer&) = delete;
  PoolBuffer& operator=(const PoolBuffer&) = delete;
};

// Starts a loaded image as agevisor's guest with `options` as its load options: the boot
// manager's watchdog is re-armed for it, as for any boot option, and off again if it
// returns. Returns its exit status.
EFI_STATUS start_as_guest(EFI_BOOT_SERVICES* bs, EFI_HANDLE child, void* options,
                          UINT32 options_bytes) {
  EFI_GUID loaded_guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* loaded = nullptr;
  if (options != nullptr &&
      !EFI_ERROR(bs->HandleProtocol(child, &loaded_guid, reinterpret_cast<void**>(&loaded)))) {
    loaded->LoadOptions = options;
    loaded->LoadOptionsSize = options_bytes;
  }
  (void)bs->SetWatchdogTimer(kWatchdogSeconds, 0, 0, nullptr);
  const EFI_STATUS status = bs->StartImage(child, nullptr, nullptr);
  (void)bs->SetWatchdogTimer(0, 0, 0, nullptr);
  return status;
}

bool same_text(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace

EFI_STATUS chain_next_boot_entry(EFI_HANDLE agevisor_image, EFI_SYSTEM_TABLE* st, bool* started) {
  *started = false;
  EFI_BOOT_SERVICES* bs = st->BootServices;
  uint16_t current = 0;
  if (read_global(st, L"BootCurrent", &current, sizeof(current)) != sizeof(current))
    return EFI_SUCCESS;  // not started by the boot manager
  EFI_GUID loaded_guid = LOADED_IMAGE_PROTOCOL;
  EFI_LOADED_IMAGE* self = nullptr;
  if (EFI_ERROR(
          bs->HandleProtocol(agevisor_image, &loaded_guid, reinterpret_cast<void**>(&self))) ||
      self->FilePath == nullptr)
    return EFI_SUCCESS;
  char own[256];
  hv::file_path_text(reinterpret_cast<const uint8_t*>(self->FilePath),
                     whole_path_size(self->FilePath), own, sizeof(own));

  static constexpr UINTN kOptionMax = 4096;
  PoolBuffer option_buffer(bs, kOptionMax);
  PoolBuffer order_buffer(bs, kOptionMax);
  if (option_buffer.data == nullptr || order_buffer.data == nullptr)
    return EFI_OUT_OF_RESOURCES;
  auto* option = static_cast<uint8_t*>(option_buffer.data);
  auto* order = static_cast<uint16_t*>(order_buffer.data);
  CHAR16 name[9];
  boot_variable_name(current, name);
  const UINTN current_size = read_global(st, reinterpret_cast<wchar_t*>(name), option, kOptionMax);
  hv::LoadOptionView view;
  char listed[256] = {};
  if (current_size != 0 && hv::parse_load_option(option, current_size, &view))
    hv::file_path_text(view.file_path, view.file_path_bytes, listed, sizeof(listed));
  // A Boot#### naming agevisor's file, or one naming a whole device that found agevisor at
  // the removable-media default path.
  const bool ours =
      current_size != 0 &&
      (same_text(listed, own) || (listed[0] == '\0' && same_text(own, "\\efi\\boot\\bootx64.efi")));
  if (!ours)
    return EFI_SUCCESS;
  const UINTN order_size = read_global(st, L"BootOrder", order, kOptionMax);
  const int next = hv::next_boot_entry(order, order_size / sizeof(uint16_t), current);
  if (next < 0) {
    hv::log::printf("agevisor: started as Boot%04X, the last entry of BootOrder: nothing to start",
                    current);
    return EFI_SUCCESS;
  }
  const uint16_t number = order[next];
  boot_variable_name(number, name);
  const UINTN size = read_global(st, reinterpret_cast<wchar_t*>(name), option, kOptionMax);
  if (size == 0 || !hv::parse_load_option(option, size, &view)) {
    hv::log::printf("agevisor: Boot%04X (next in BootOrder) is missing or malformed", number);
    return EFI_NOT_FOUND;
  }
  *started = true;
  EFI_HANDLE child = nullptr;
  EFI_STATUS status = bs->LoadImage(
      FALSE, agevisor_image,
      reinterpret_cast<EFI_DEVICE_PATH*>(const_cast<uint8_t*>(view.file_path)), nullptr, 0, &child);
  if (EFI_ERROR(status)) {
    hv::log::printf("agevisor: cannot load Boot%04X (next in BootOrder): status %#lx", number,
                    status);
    return status;
  }
  hv::log::printf(
      "agevisor: started as Boot%04X, starting Boot%04X (next in BootOrder) as the "
      "guest (watchdog re-armed: %lu s)",
      current, number, static_cast<unsigned long>(kWatchdogSeconds));
  status = start_as_guest(bs, child, const_cast<uint8_t*>(view.optional_data),
                          static_cast<UINT32>(view.optional_data_bytes));
  hv::log::printf("agevisor: Boot%04X returned %#lx", number, status);
  return status;
}

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
  UINT32 options_bytes = 0;
  CHAR16* text = command_line(bs, path, path_length, options, &options_bytes);
  hv::log::printf("agevisor: starting %.*s as the guest (watchdog re-armed: %lu s)",
                  static_cast<int>(path_length), path,
                  static_cast<unsigned long>(kWatchdogSeconds));
  status = start_as_guest(bs, child, text, options_bytes);
  hv::log::printf("agevisor: %.*s returned %#lx", static_cast<int>(path_length), path, status);
  if (text != nullptr)
    bs->FreePool(text);
  return status;
}

}  // namespace boot
