#include "hv/guest_cpuid.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

namespace p2 = arch::proc_based2;
constexpr arch::CpuidResult kAllOnes{~0u, ~0u, ~0u, ~0u};

TEST(GuestCpuid, HidesVmxAndSmxAndAnnouncesTheHypervisor) {
  auto r = hv::filter_guest_cpuid(1, 0, {0x306A9, 0, 0x20 | 0x40 | 0x1, 0}, {});
  EXPECT_EQ(r.ecx, 0x1u | (1u << 31));
  EXPECT_EQ(r.eax, 0x306A9u) << "other registers pass through";
}

TEST(GuestCpuid, SignatureLeafSpellsAgevisorWithFourZeroBytes) {
  auto r = hv::filter_guest_cpuid(0x40000000, 0, kAllOnes, {});
  EXPECT_EQ(r.eax, hv::kHypervisorLeafMax);
  char text[13] = {};
  std::memcpy(text, &r.ebx, 4);
  std::memcpy(text + 4, &r.ecx, 4);
  std::memcpy(text + 8, &r.edx, 4);
  EXPECT_EQ(std::memcmp(text, "agevisor\0\0\0\0", 12), 0);
  EXPECT_TRUE(hv::is_agevisor_signature(r));
  EXPECT_EQ(hv::filter_guest_cpuid(0x40000001, 0, kAllOnes, {}).eax, 0u);
}

TEST(GuestCpuid, HideOptionClearsBit31AndPassesHypervisorLeavesThrough) {
  hv::GuestCpuidPolicy hide{0, true};
  EXPECT_EQ(hv::filter_guest_cpuid(1, 0, kAllOnes, hide).ecx, ~0u & ~0x60u & ~(1u << 31));
  auto kvm = arch::CpuidResult{0x40000001, 0x4B4D564B, 0x564B4D56, 0x4D};
  auto r = hv::filter_guest_cpuid(0x40000000, 0, kvm, hide);
  EXPECT_EQ(r.ebx, kvm.ebx);
  EXPECT_FALSE(hv::is_agevisor_signature(r));
}

TEST(GuestCpuid, InstructionsWithoutTheirControlAreHidden) {
  hv::GuestCpuidPolicy none{0, false};
  EXPECT_EQ(hv::filter_guest_cpuid(7, 0, kAllOnes, none).ebx, ~(1u << 10)) << "INVPCID";
  EXPECT_EQ(hv::filter_guest_cpuid(7, 0, kAllOnes, none).ecx, ~((1u << 22) | (1u << 5)))
      << "RDPID, WAITPKG";
  EXPECT_EQ(hv::filter_guest_cpuid(0xD, 1, kAllOnes, none).eax, ~(1u << 3)) << "XSAVES";
  EXPECT_EQ(hv::filter_guest_cpuid(0xD, 1, kAllOnes, none).ecx, 0u);
  EXPECT_EQ(hv::filter_guest_cpuid(0x80000001, 0, kAllOnes, none).edx, ~(1u << 27)) << "RDTSCP";
  EXPECT_EQ(hv::filter_guest_cpuid(7, 1, kAllOnes, none).ebx, ~0u) << "other subleaves untouched";
}

TEST(GuestCpuid, EnabledControlsKeepTheirFeatures) {
  hv::GuestCpuidPolicy all{p2::kRdtscp | p2::kInvpcid | p2::kXsaves | p2::kUserWaitPause, false};
  EXPECT_EQ(hv::filter_guest_cpuid(7, 0, kAllOnes, all).ebx, ~0u);
  EXPECT_EQ(hv::filter_guest_cpuid(7, 0, kAllOnes, all).ecx, ~0u);
  EXPECT_EQ(hv::filter_guest_cpuid(0xD, 1, kAllOnes, all).eax, ~0u);
  EXPECT_EQ(hv::filter_guest_cpuid(0x80000001, 0, kAllOnes, all).edx, ~0u);
}

TEST(GuestCpuid, SignatureCheckDoesNotTrustBit31Alone) {
  EXPECT_FALSE(hv::is_agevisor_signature({0x40000001, 0x4B4D564B, 0x564B4D56, 0x4D}));
  EXPECT_FALSE(hv::is_agevisor_signature({}));
}

TEST(GuestCpuid, OsxsaveAndOspkeFollowTheGuestsCr4NotTheHosts) {
  constexpr uint32_t kXsave = 1u << 26;
  constexpr uint32_t kPku = 1u << 3;
  for (const uint64_t cr4 :
       {uint64_t{0}, arch::kCr4Osxsave, arch::kCr4Pke, arch::kCr4Osxsave | arch::kCr4Pke}) {
    const bool osxsave = (cr4 & arch::kCr4Osxsave) != 0;
    const bool pke = (cr4 & arch::kCr4Pke) != 0;
    for (const uint32_t host_bits : {0u, ~0u}) {
      auto leaf1 = hv::reflect_guest_cr4(1, 0, {0, 0, kXsave | (host_bits & (1u << 27)), 0}, cr4);
      EXPECT_EQ((leaf1.ecx & (1u << 27)) != 0, osxsave) << "cr4 " << cr4;
      EXPECT_NE(leaf1.ecx & kXsave, 0u);
      auto leaf7 = hv::reflect_guest_cr4(7, 0, {0, 0, kPku | (host_bits & (1u << 4)), 0}, cr4);
      EXPECT_EQ((leaf7.ecx & (1u << 4)) != 0, pke) << "cr4 " << cr4;
    }
  }
}

TEST(GuestCpuid, CrDerivedBitsStayClearWithoutTheFeature) {
  const uint64_t cr4 = arch::kCr4Osxsave | arch::kCr4Pke;
  EXPECT_EQ(hv::reflect_guest_cr4(1, 0, {}, cr4).ecx, 0u);
  EXPECT_EQ(hv::reflect_guest_cr4(7, 0, {}, cr4).ecx, 0u);
  EXPECT_EQ(hv::reflect_guest_cr4(7, 1, kAllOnes, 0).ecx, ~0u) << "only subleaf 0 holds OSPKE";
  EXPECT_EQ(hv::reflect_guest_cr4(0xD, 0, kAllOnes, 0).ecx, ~0u);
}

}  // namespace
