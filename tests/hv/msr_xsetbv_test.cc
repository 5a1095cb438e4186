#include <gtest/gtest.h>

#include <cstring>

#include <vector>

#include "hv/msr_bitmap.h"
#include "hv/xsetbv_check.h"

namespace {

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

TEST(Xsetbv, HostRunsWithOsxsaveWheneverXsaveExists) {
  EXPECT_EQ(hv::host_cr4(0x2668, true), 0x2668u | (1u << 18)) << "firmware left it clear";
  EXPECT_EQ(hv::host_cr4(0x42668, true), 0x42668u);
  EXPECT_EQ(hv::host_cr4(0x2668, false), 0x2668u) << "no XSAVE: setting it would #GP";
}

}  // namespace
