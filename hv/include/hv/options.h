// agevisor's load options: the UEFI LoadOptions, converted to ASCII by boot/.
//
// Syntax: whitespace-separated `key=value` tokens. The UEFI shell passes the command line
// including the image path as the first word, so a first token without '=' is skipped as the
// image path; any later token without '=' is an error. Later keys win over earlier ones.
// Keys:
//   track=auto|accessed-bit|rwx-stash   access-tracking mode (default auto)
//   hide=none|cpuid                     cpuid: no CPUID.1:ECX[31], no signature leaf
//   debug=none|corrupt-guest-state      make the first VM entry fail (tests the undo path)
//   debug=fail-last-cpu                 make the last CPU's first VM entry fail: every
//                                       CPU already launched is undone (tests that path)
//   cpus=all|boot                       every CPU (default) or only the boot CPU
//   period=MS                           periodic aging: a slice of an aging pass every MS
//                                       milliseconds (1-60000) on the VMX-preemption
//                                       timer; 0 (default) = passes only when asked (age)
// After a `--` token, the rest of the line is another EFI image to start once agevisor runs,
// and that image's own options: `-- \EFI\debian\grubx64.efi` or `-- vmlinuz.efi initrd=...`.
// Growing: add a row to the key table in options.cc and a field here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/result.h"
#include "hv/tracking_override.h"

namespace hv {

struct Options {
  TrackingOverride track = TrackingOverride::kAuto;
  bool hide_hypervisor = false;
  bool corrupt_guest_state = false;
  bool fail_last_cpu = false;
  bool boot_cpu_only = false;
  uint32_t period_ms = 0;
  // The image (a path on agevisor's own device) to chain-load and its options, or null:
  // both point into the parsed text and end at its end / at the path's end.
  const char* chain_path = nullptr;
  size_t chain_path_length = 0;
  const char* chain_options = nullptr;  // "" when the image gets none
};

// Why parsing failed: a one-line message naming the bad token, and where it starts.
struct OptionsError {
  char message[160] = {};
  size_t offset = 0;  // byte offset of the bad token in the input
};

// Error::kInvalidArgument on an unknown key, a bad value or a token without '='; `error`
// (optional) then receives the message.
arch::Result<Options> parse_options(const char* ascii, OptionsError* error = nullptr);

}  // namespace hv
