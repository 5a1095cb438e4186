// TEMPORARY stand-in for hv::take_cpu_snapshot / hv::write_capability_report /
// hv::assess_vmx (branch caps) until they are on main: reads the few values the e2e tests
// check and prints them in the same line format. Delete when the real report is wired.
#pragma once

namespace boot {

struct ShimVerdict {
  bool usable = false;
  const char* reason = "";
};

ShimVerdict print_capabilities_shim();

}  // namespace boot
