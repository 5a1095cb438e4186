// agevisor's UEFI entry point. GNU-EFI's crt0 (_start) relocates the image and calls
// efi_main with the System V ABI; firmware services are called through EFIAPI (ms_abi)
// function pointers.
#include "boot/capability_shim.h"
#include "boot/console_devices.h"
#include "boot/load_options.h"
#include "boot/uefi.h"
#include "boot/uefi_console.h"
#include "hv/target/log.h"

namespace {

constexpr const char* kBanner = "agevisor 0.1.0: memory access tracking hypervisor (UEFI)";

}  // namespace

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
  bool console_on_uart = boot::firmware_console_uses_uart(system_table);
  hv::log::set_extra_sink(boot::uefi_console_sink, system_table->ConOut, console_on_uart);
  hv::log::init();
  hv::log::write_line(kBanner);
  hv::log::printf("log: COM1 %s%s, port 0xE9, UEFI console",
                  hv::log::serial_alive() ? "found" : "absent",
                  console_on_uart ? " (through the firmware console for now)" : "");

  char options[256];
  if (EFI_ERROR(boot::read_load_options(image, system_table, options, sizeof(options)))) {
    hv::log::write_line("load options: unreadable, using defaults");
    options[0] = '\0';
  }
  hv::log::printf("load options: '%s'", boot::skip_program_name(options));

  boot::ShimVerdict verdict = boot::print_capabilities_shim();
  if (!verdict.usable) {
    hv::log::printf("agevisor: cannot run: %s", verdict.reason);
    hv::log::set_extra_sink(nullptr, nullptr);
    return EFI_UNSUPPORTED;
  }
  hv::log::write_line("agevisor: VMX usable; starting the hypervisor is not implemented yet");
  hv::log::set_extra_sink(nullptr, nullptr);
  return EFI_SUCCESS;
}
