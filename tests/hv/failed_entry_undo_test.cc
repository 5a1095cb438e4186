#include "hv/failed_entry_undo.h"

#include <gtest/gtest.h>

namespace {

TEST(FailedEntryUndo, FirmwareGetsItsOwnViewBackNotTheHostState) {
  hv::GuestState g;
  g.cr0 = 0x8001'0033;
  g.cr4 = 0x2668;  // VMXE forced by the fixed bits
  g.dr7 = 0x401;
  g.debugctl = 0x1;
  g.sysenter_cs = 0x10;
  g.sysenter_esp = 0x7000;
  g.sysenter_eip = 0x8000;
  // The host ran with OSXSAVE set; the firmware's own CR4 (its read shadow) did not have it.
  const auto r = hv::firmware_registers_after_failed_entry(g, 0x8001'0033, 0x668);
  EXPECT_EQ(r.cr0, 0x8001'0033u);
  EXPECT_EQ(r.cr4, 0x668u);
  EXPECT_EQ(r.cr4 & arch::kCr4Osxsave, 0u);
  EXPECT_EQ(r.dr7, 0x401u) << "a VM exit sets DR7 to 0x400";
  EXPECT_EQ(r.debugctl, 0x1u) << "a VM exit clears IA32_DEBUGCTL";
  EXPECT_EQ(r.sysenter_cs, 0x10u);
  EXPECT_EQ(r.sysenter_esp, 0x7000u);
  EXPECT_EQ(r.sysenter_eip, 0x8000u);
}

TEST(FailedEntryUndo, VmxeNeverGoesBackEvenIfTheShadowHadIt) {
  const auto r = hv::firmware_registers_after_failed_entry({}, 0x33, 0x2668);
  EXPECT_EQ(r.cr4, 0x668u) << "VMX is off again: CR4.VMXE must be clear";
}

}  // namespace
