#include <gtest/gtest.h>

#include <cstring>

#include <vector>

#include "hv/cpuid_policy.h"
#include "hv/msr_bitmap.h"
#include "hv/xsetbv_check.h"

namespace {

using arch::CpuidResult;
using hv::apply_cpuid_policy;
using hv::CpuidPolicy;

constexpr CpuidResult kAllOnes{~0u, ~0u, ~0u, ~0u};

TEST(CpuidPolicy, SetsHypervisorBitAndHidesVmxAndSmx) {
  const auto r = apply_cpuid_policy(1, 0, {0x306A9, 0, 0x7FBAE3FF, 0xBFEBFBFF}, {});
  EXPECT_TRUE(r.ecx & (1u << 31));
  EXPECT_FALSE(r.ecx & (1u << 5)) << "VMX";
  EXPECT_FALSE(r.ecx & (1u << 6)) << "SMX";
  EXPECT_EQ(r.eax, 0x306A9u) << "everything else passes through";
  EXPECT_EQ(r.edx, 0xBFEBFBFFu);
}

TEST(CpuidPolicy, HypervisorLeafCarriesTheSignature) {
  const auto r = apply_cpuid_policy(0x4000'0000, 0, kAllOnes, {});
  EXPECT_EQ(r.eax, hv::kHypervisorLeafMax);
  char text[13] = {};
  std::memcpy(text, &r.ebx, 4);
  std::memcpy(text + 4, &r.ecx, 4);
  std::memcpy(text + 8, &r.edx, 4);
  EXPECT_STREQ(text, "agevisor");
  EXPECT_EQ(r.edx, 0u) << "four zero bytes after the name";
  EXPECT_TRUE(hv::is_agevisor_signature(r));
  CpuidPolicy policy;
  policy.abi_version = 7;
  EXPECT_EQ(apply_cpuid_policy(0x4000'0001, 0, kAllOnes, policy).eax, 7u);
  const auto reserved = apply_cpuid_policy(0x4000'0042, 0, kAllOnes, policy);
  EXPECT_EQ(reserved.eax | reserved.ebx | reserved.ecx | reserved.edx, 0u);
}

TEST(CpuidPolicy, HideOptionLeavesNoTraceButStillHidesVmx) {
  CpuidPolicy policy;
  policy.hide_presence = true;
  const auto leaf1 = apply_cpuid_policy(1, 0, {0, 0, (1u << 5) | (1u << 31), 0}, policy);
  EXPECT_EQ(leaf1.ecx & (1u << 31), 1u << 31) << "the processor's own bit 31 is not cleared";
  EXPECT_FALSE(leaf1.ecx & (1u << 5));
  const CpuidResult hw{0xD, 0x756E6547, 0x6C65746E, 0x49656E69};
  const auto leaf = apply_cpuid_policy(0x4000'0000, 0, hw, policy);
  EXPECT_EQ(leaf.ebx, hw.ebx) << "hypervisor leaves pass through to the processor";
  EXPECT_FALSE(hv::is_agevisor_signature(leaf));
  const auto bare = apply_cpuid_policy(1, 0, {0, 0, 0, 0}, policy);
  EXPECT_FALSE(bare.ecx & (1u << 31));
}

TEST(CpuidPolicy, HidesInstructionsWhoseControlsCouldNotBeEnabled) {
  const CpuidPolicy none;
  EXPECT_FALSE(apply_cpuid_policy(0x8000'0001, 0, kAllOnes, none).edx & (1u << 27)) << "RDTSCP";
  EXPECT_FALSE(apply_cpuid_policy(7, 0, kAllOnes, none).ecx & (1u << 22)) << "RDPID";
  EXPECT_FALSE(apply_cpuid_policy(7, 0, kAllOnes, none).ebx & (1u << 10)) << "INVPCID";
  EXPECT_FALSE(apply_cpuid_policy(7, 0, kAllOnes, none).ecx & (1u << 5)) << "WAITPKG";
  EXPECT_FALSE(apply_cpuid_policy(0xD, 1, kAllOnes, none).eax & (1u << 3)) << "XSAVES";
  EXPECT_EQ(apply_cpuid_policy(7, 1, kAllOnes, none).ebx, ~0u) << "other subleaves untouched";

  CpuidPolicy all;
  all.rdtscp_enabled = all.invpcid_enabled = all.xsaves_enabled = all.user_wait_enabled = true;
  EXPECT_EQ(apply_cpuid_policy(0x8000'0001, 0, kAllOnes, all).edx, ~0u);
  EXPECT_EQ(apply_cpuid_policy(7, 0, kAllOnes, all).ebx, ~0u);
  EXPECT_EQ(apply_cpuid_policy(7, 0, kAllOnes, all).ecx, ~0u);
  EXPECT_EQ(apply_cpuid_policy(0xD, 1, kAllOnes, all).eax, ~0u);
}

TEST(Xsetbv, AcceptsWhatHardwareAccepts) {
  constexpr uint64_t kSupported = 0x2FF;  // x87 SSE AVX MPX(2) AVX-512(3) PKRU
  EXPECT_TRUE(hv::xsetbv_is_valid(0, 0, 0x1, kSupported));
  EXPECT_TRUE(hv::xsetbv_is_valid(0, 0, 0x7, kSupported));
  EXPECT_TRUE(hv::xsetbv_is_valid(0, 0, 0xFF, kSupported));
  EXPECT_TRUE(hv::xsetbv_is_valid(0, 0, 0x1F, kSupported));
}

TEST(Xsetbv, RaisesGpLikeHardware) {
  constexpr uint64_t kSupported = 0x2FF;
  EXPECT_FALSE(hv::xsetbv_is_valid(3, 0, 0x7, kSupported)) << "CPL > 0";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 1, 0x7, kSupported)) << "XCR1 is read-only";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0x6, kSupported)) << "x87 cleared";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0x5, kSupported)) << "AVX without SSE";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0x27, kSupported)) << "partial AVX-512";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0xE3, kSupported)) << "AVX-512 without AVX";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0xF, kSupported)) << "BNDREGS without BNDCSR";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0x403, kSupported)) << "unsupported bit";
  EXPECT_FALSE(hv::xsetbv_is_valid(0, 0, 0x20003, 0x60003)) << "TILECFG without TILEDATA";
  EXPECT_TRUE(hv::xsetbv_is_valid(0, 0, 0x60003, 0x60003));
}

TEST(MsrBitmap, InterceptsSetTheSdmBitPositions) {
  std::vector<uint8_t> page(hv::MsrBitmap::kSize, 0);
  hv::MsrBitmap bitmap(page.data());
  EXPECT_TRUE(bitmap.intercept(0x277, true, false));
  EXPECT_EQ(page[0x277 / 8], 1u << (0x277 % 8)) << "read-low bitmap at offset 0";
  EXPECT_TRUE(bitmap.intercept(0xC000'0080, false, true));
  EXPECT_EQ(page[3072 + 0x80 / 8], 1u << 0) << "write-high bitmap at offset 3072";
  EXPECT_TRUE(bitmap.exits_on_read(0x277));
  EXPECT_FALSE(bitmap.exits_on_write(0x277));
  EXPECT_TRUE(bitmap.exits_on_write(0xC000'0080));
  EXPECT_FALSE(bitmap.exits_on_read(0xC000'0080));
  EXPECT_FALSE(bitmap.intercept(0x4000'0000, true, true)) << "out of range";
  EXPECT_TRUE(bitmap.exits_on_read(0x4000'0000)) << "out-of-range MSRs always exit";
}

TEST(MsrBitmap, PolicyInterceptsMtrrWritesAndVmxCapabilityMsrs) {
  std::vector<uint8_t> page(hv::MsrBitmap::kSize, 0);
  hv::MsrBitmap bitmap(page.data());
  const hv::MsrPolicy policy{8, true};
  hv::configure_msr_bitmap(bitmap, policy);
  for (uint32_t msr : {0x200u, 0x20Fu, 0x250u, 0x258u, 0x259u, 0x268u, 0x26Fu, 0x2FFu}) {
    EXPECT_TRUE(bitmap.exits_on_write(msr)) << std::hex << msr;
    EXPECT_FALSE(bitmap.exits_on_read(msr)) << std::hex << msr;
  }
  EXPECT_FALSE(bitmap.exits_on_write(0x210)) << "beyond VCNT";
  EXPECT_FALSE(bitmap.exits_on_write(0x277)) << "PAT is loaded and saved by the VMCS";
  for (uint32_t msr = 0x480; msr <= 0x492; ++msr) {
    EXPECT_TRUE(bitmap.exits_on_read(msr) && bitmap.exits_on_write(msr)) << std::hex << msr;
  }
  EXPECT_FALSE(hv::is_mtrr_msr(0x250, {8, false})) << "no fixed MTRRs without MTRRCAP.FIX";
}

}  // namespace
