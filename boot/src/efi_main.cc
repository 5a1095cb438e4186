// agevisor's UEFI entry point. GNU-EFI's crt0 (_start) relocates the image and calls
// efi_main with the System V ABI; firmware services are called through EFIAPI (ms_abi)
// function pointers.
#include "arch/target/target_cpu_io.h"
#include "boot/chain_load.h"
#include "boot/console_devices.h"
#include "boot/hypervisor_start.h"
#include "boot/load_options.h"
#include "boot/uefi.h"
#include "boot/uefi_console.h"
#include "hv/capability_report.h"
#include "hv/cpu_snapshot.h"
#include "hv/guest_cpuid.h"
#include "hv/options.h"
#include "hv/target/log.h"
#include "hv/tracking_choice.h"
#include "hv/vmx_verdict.h"

namespace {

constexpr const char* kBanner = "agevisor 0.1.0: memory access tracking hypervisor (UEFI)";

EFI_STATUS refuse(const char* reason, EFI_STATUS status) {
  hv::log::printf("agevisor: cannot run: %s", reason);
  hv::log::set_extra_sink(nullptr, nullptr);
  return status;
}

}  // namespace

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
  boot::disable_watchdog(system_table);
  const bool console_on_uart = boot::firmware_console_uses_uart(system_table);
  hv::log::set_extra_sink(boot::uefi_console_sink, system_table->ConOut, console_on_uart);
  hv::log::init();
  hv::log::write_line(kBanner);
  hv::log::printf("log: COM1 %s%s, port 0xE9, UEFI console",
                  hv::log::serial_alive() ? "found" : "absent",
                  console_on_uart ? " (through the firmware console for now)" : "");

  char command_line[256];
  if (EFI_ERROR(boot::read_load_options(image, system_table, command_line, sizeof(command_line)))) {
    hv::log::write_line("load options: unreadable, using defaults");
    command_line[0] = '\0';
  }
  const char* option_text = boot::skip_program_name(command_line);
  hv::log::printf("load options: '%s'", option_text);
  hv::OptionsError options_error;
  const auto options = hv::parse_options(option_text, &options_error);
  if (!options.ok())
    return refuse(options_error.message, EFI_INVALID_PARAMETER);

  arch::target::TargetCpuIo io;
  const hv::CpuSnapshot snapshot = hv::take_cpu_snapshot(io);
  if (snapshot.hypervisor_leaf_read && hv::is_agevisor_signature(snapshot.hypervisor)) {
    return refuse("agevisor is already running on this machine", EFI_ALREADY_STARTED);
  }
  hv::ReportOptions report_options;
  report_options.track = options.value().track;
  hv::write_capability_report(snapshot, report_options,
                              [](const char* line) { hv::log::write_line(line); });

  const hv::VmxVerdict verdict = hv::assess_vmx(snapshot);
  if (!verdict.usable)
    return refuse(verdict.reason, EFI_UNSUPPORTED);
  const auto mode = hv::choose_tracking_mode(snapshot.ept_capabilities(), options.value().track);
  if (!mode.ok())
    return refuse(hv::kAccessedBitUnsupportedMessage, EFI_UNSUPPORTED);

  boot::StartOptions start;
  start.tracking_mode = mode.value();
  start.hide_hypervisor = options.value().hide_hypervisor;
  start.corrupt_guest_state = options.value().corrupt_guest_state;
  start.fail_last_cpu = options.value().fail_last_cpu;
  start.boot_cpu_only = options.value().boot_cpu_only;
  start.console_mirrors_serial = console_on_uart;
  start.period_ms = options.value().period_ms;
  const EFI_STATUS status = boot::start_hypervisor(image, system_table, snapshot, start);
  hv::log::set_extra_sink(nullptr, nullptr);
  if (status != EFI_SUCCESS)
    return status;
  // Handing over: the next image runs as agevisor's guest; its status becomes ours.
  if (options.value().chain_path != nullptr)
    return boot::chain_load(image, system_table, options.value().chain_path,
                            options.value().chain_path_length, options.value().chain_options);
  bool started = false;
  const EFI_STATUS next = boot::chain_next_boot_entry(image, system_table, &started);
  return started ? next : EFI_SUCCESS;
}
