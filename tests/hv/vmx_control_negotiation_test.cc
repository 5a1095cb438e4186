#include "hv/vmx_control_negotiation.h"

#include <gtest/gtest.h>

#include <string>

#include "arch/vmx_controls.h"
#include "fakes/cpu_profiles.h"

namespace {

using arch::VmxAllowedControls;

TEST(Negotiate, SetsForcedBitsRequiredBitsAndAllowedOptionalBits) {
  VmxAllowedControls allowed{0x16, 0x7F};
  auto r = hv::negotiate(0x8, 0x40 | 0x100, allowed);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 0x16u | 0x8u | 0x40u) << "0x100 is optional and not allowed";
}

TEST(Negotiate, FailsWhenARequiredBitCannotBeOneAndReportsIt) {
  uint32_t missing = 0;
  auto r = hv::negotiate(0x8 | 0x200, 0, VmxAllowedControls{0x16, 0x7F}, &missing);
  EXPECT_EQ(r.error(), arch::Error::kUnsupported);
  EXPECT_EQ(missing, 0x200u);
}

TEST(Negotiate, ExhaustiveOverFourBitControls) {
  // For every consistent (allowed0 subset of allowed1) MSR and every request over 4 bits.
  for (uint32_t a1 = 0; a1 < 16; ++a1)
    for (uint32_t a0 = 0; a0 < 16; ++a0) {
      if ((a0 & ~a1) != 0)
        continue;
      for (uint32_t req = 0; req < 16; ++req)
        for (uint32_t opt = 0; opt < 16; ++opt) {
          auto r = hv::negotiate(req, opt, VmxAllowedControls{a0, a1});
          if ((req & ~a1) != 0) {
            EXPECT_FALSE(r.ok());
            continue;
          }
          ASSERT_TRUE(r.ok());
          uint32_t v = r.value();
          EXPECT_EQ(v & a0, a0) << "forced bits set";
          EXPECT_EQ(v & ~a1, 0u) << "forbidden bits clear";
          EXPECT_EQ(v & req, req) << "required bits set";
          EXPECT_EQ(v, a0 | req | (opt & a1)) << "nothing else set";
        }
    }
}

TEST(NegotiateControls, IvyBridgeGetsEptVpidUnrestrictedGuestAndRdtscp) {
  fakes::FakeMsrIo io = fakes::bochs_ivy_bridge();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  auto r = hv::negotiate_controls(s, hv::agevisor_controls_request());
  ASSERT_TRUE(r.ok());
  hv::VmxControls c = r.value();
  namespace p2 = arch::proc_based2;
  EXPECT_EQ(c.proc2 & (p2::kEpt | p2::kVpid | p2::kUnrestrictedGuest | p2::kRdtscp),
            p2::kEpt | p2::kVpid | p2::kUnrestrictedGuest | p2::kRdtscp);
  EXPECT_EQ(c.proc2 & (p2::kInvpcid | p2::kXsaves), 0u) << "not offered by this model";
  EXPECT_NE(c.pin & arch::pin_based::kPreemptionTimer, 0u);
  EXPECT_EQ(c.proc & arch::proc_based::kCr3LoadExiting, 0u)
      << "TRUE_PROCBASED_CTLS lets CR3-load exiting be 0";
  EXPECT_NE(c.exit & arch::exit_ctls::kHostAddressSpaceSize, 0u);
  EXPECT_NE(c.entry & arch::entry_ctls::kLoadEfer, 0u);
  EXPECT_EQ(c.entry & arch::entry_ctls::kIa32eModeGuest, 0u);
}

TEST(NegotiateControls, WithoutTrueMsrsDefaultOneBitsStaySet) {
  fakes::FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_msr(arch::msr::kIa32VmxBasic, arch::kBochsIvyBridgeVmxBasic & ~arch::bit(55));
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  auto r = hv::negotiate_controls(s, hv::agevisor_controls_request());
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.value().proc & arch::proc_based::kCr3LoadExiting, 0u);
}

TEST(NegotiateControls, NamesTheControlSetThatFailed) {
  fakes::FakeMsrIo io = fakes::bochs_ivy_bridge();
  io.set_msr(arch::msr::kIa32VmxProcbasedCtls2, uint64_t{0x87F} << 32);  // no unrestricted
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  hv::NegotiationError error;
  auto r = hv::negotiate_controls(s, hv::agevisor_controls_request(), &error);
  EXPECT_EQ(r.error(), arch::Error::kUnsupported);
  EXPECT_STREQ(error.control_set, "secondary processor-based");
  EXPECT_EQ(error.missing, arch::proc_based2::kUnrestrictedGuest);
}

TEST(NegotiateControls, RequiredSecondaryControlsFailWithoutTheSecondarySet) {
  fakes::FakeMsrIo io = fakes::bochs_ivy_bridge();
  hv::CpuSnapshot s = hv::take_cpu_snapshot(io);
  hv::VmxControlsRequest request = hv::agevisor_controls_request();
  request.proc.required &= ~arch::proc_based::kSecondaryControls;
  s.procbased_ctls.value &= ~(uint64_t{arch::proc_based::kSecondaryControls} << 32);
  s.true_procbased_ctls.value &= ~(uint64_t{arch::proc_based::kSecondaryControls} << 32);
  hv::NegotiationError error;
  EXPECT_FALSE(hv::negotiate_controls(s, request, &error).ok());
  EXPECT_STREQ(error.control_set, "secondary processor-based");
  EXPECT_EQ(error.missing, request.proc2.required);
}

}  // namespace
