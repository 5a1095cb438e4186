// The capability report agevisor prints at start: what the processor offers, what agevisor
// will do about IA32_FEATURE_CONTROL, which tracking mode it will use, and the verdict.
// Lines are handed to a sink one at a time, without a newline; boot/ sends them to COM1,
// port E9 and the console, host tests collect them.
//
// Lines the end-to-end tests match exactly: "EPT A/D: yes|no" and
// "access tracking mode: accessed-bit|rwx-stash" (with " (forced)" when an option forced it).
#pragma once

#include <type_traits>

#include "hv/cpu_snapshot.h"
#include "hv/tracking_override.h"

namespace hv {

struct ReportOptions {
  TrackingOverride track = TrackingOverride::kAuto;
};

using ReportLineFn = void (*)(void* context, const char* line);

// The non-template core: calls `emit(context, line)` once per line.
void write_capability_report_to(const CpuSnapshot& snapshot, const ReportOptions& options,
                                ReportLineFn emit, void* context);

// `sink(const char* line)` is called once per line.
template <typename Sink>
void write_capability_report(const CpuSnapshot& snapshot, const ReportOptions& options,
                             Sink&& sink) {
  using SinkType = std::remove_reference_t<Sink>;
  write_capability_report_to(
      snapshot, options,
      [](void* context, const char* line) { (*static_cast<SinkType*>(context))(line); },
      const_cast<void*>(static_cast<const void*>(&sink)));
}

}  // namespace hv
