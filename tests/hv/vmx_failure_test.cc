#include <gtest/gtest.h>

#include <string>

#include "hv/invalidation.h"
#include "hv/vmx_failure.h"

namespace {

std::string vmx_failure(const char* instruction, arch::VmxStatus status, uint32_t error) {
  char buf[160];
  hv::format_vmx_failure(buf, sizeof buf, instruction, status, error);
  return buf;
}

TEST(VmxFailure, NamesVmfailValidErrorsAndVmfailInvalid) {
  EXPECT_EQ(vmx_failure("VMLAUNCH", arch::VmxStatus::kFailValid, 7),
            "VMLAUNCH failed: VMfailValid, VM-instruction error 7 (VM entry with invalid control "
            "field(s))");
  EXPECT_EQ(vmx_failure("VMXON", arch::VmxStatus::kFailInvalid, 99),
            "VMXON failed: VMfailInvalid (no current VMCS, no error number)");
  EXPECT_EQ(vmx_failure("VMWRITE", arch::VmxStatus::kFailValid, 14),
            "VMWRITE failed: VMfailValid, VM-instruction error 14 (unknown VM-instruction error)");
  EXPECT_EQ(vmx_failure("VMPTRLD", arch::VmxStatus::kSuccess, 0), "VMPTRLD succeeded");
}

TEST(VmxFailure, EntryFailureNamesTheReasonAndMsrEntry) {
  char buf[160];
  hv::format_entry_failure(buf, sizeof buf, 0x80000021, 0);
  EXPECT_STREQ(buf,
               "VM entry failed: exit reason 33 (VM-entry failure due to invalid guest state), "
               "qualification 0x0");
  hv::format_entry_failure(buf, sizeof buf, 0x80000022, 3);
  EXPECT_STREQ(buf,
               "VM entry failed: exit reason 34 (VM-entry failure due to MSR loading), MSR-load "
               "entry 3");
}

TEST(Invalidation, InveptUsesTheNarrowestSupportedType) {
  auto ivy = arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 40);
  EXPECT_EQ(hv::choose_invept_type(ivy, false).value(), arch::InveptType::kSingleContext);
  EXPECT_EQ(hv::choose_invept_type(ivy, true).value(), arch::InveptType::kAllContexts);
  auto all_only = ivy;
  all_only.invept_single = false;
  EXPECT_EQ(hv::choose_invept_type(all_only, false).value(), arch::InveptType::kAllContexts)
      << "widened, never narrowed";
  auto single_only = ivy;
  single_only.invept_all = false;
  EXPECT_EQ(hv::choose_invept_type(single_only, true).value(), arch::InveptType::kSingleContext);
  auto none = ivy;
  none.invept = false;
  EXPECT_EQ(hv::choose_invept_type(none, false).error(), arch::Error::kUnsupported);
  auto no_types = ivy;
  no_types.invept_single = no_types.invept_all = false;
  EXPECT_EQ(hv::choose_invept_type(no_types, false).error(), arch::Error::kUnsupported);
}

TEST(Invalidation, InvvpidPrefersSingleContext) {
  auto caps = arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 40);
  EXPECT_EQ(hv::choose_invvpid_type(caps).value(), arch::InvvpidType::kSingleContext);
  caps.invvpid_single = false;
  EXPECT_EQ(hv::choose_invvpid_type(caps).value(), arch::InvvpidType::kAllContexts);
  caps.invvpid_all = false;
  EXPECT_EQ(hv::choose_invvpid_type(caps).error(), arch::Error::kUnsupported);
  caps.invvpid = false;
  EXPECT_EQ(hv::choose_invvpid_type(caps).error(), arch::Error::kUnsupported);
}

}  // namespace
