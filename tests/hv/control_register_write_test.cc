#include "hv/control_register_write.h"

#include <gtest/gtest.h>

#include "arch/vmx_controls.h"

namespace {

using hv::ControlRegisterState;

constexpr uint64_t kLme = 1u << 8;
constexpr uint64_t kLma = 1u << 10;
constexpr uint32_t kIa32e = arch::entry_ctls::kIa32eModeGuest;
// Ivy Bridge fixed bits, with unrestricted guest for CR0.
const arch::CrFixedBits kCr0Rules = arch::CrFixedBits::guest_cr0(0x80000021, 0xFFFFFFFF, true);
const arch::CrFixedBits kCr4Rules{0x2000, 0x3767FF};

TEST(WriteCr0, RealModeToLongModeInOneWriteEntersIa32eMode) {
  // Firmware-style: CR4.PAE and EFER.LME set, then one MOV CR0 sets PE and PG together.
  ControlRegisterState s{0x30, 0x20, 0x1000, kLme, arch::entry_ctls::kLoadEfer, false};
  auto w = hv::write_cr0(s, 0x80000031, kCr0Rules);
  ASSERT_FALSE(w.inject_gp);
  EXPECT_EQ(w.read_shadow, 0x80000031u);
  EXPECT_EQ(w.guest_value, 0x80000031u);
  EXPECT_EQ(w.efer, kLme | kLma);
  EXPECT_EQ(w.entry_controls, arch::entry_ctls::kLoadEfer | kIa32e);
  EXPECT_TRUE(w.flush_guest_tlb);
}

TEST(WriteCr0, LeavingPagingFromCompatibilityModeLeavesIa32eMode) {
  ControlRegisterState s{0x80000031, 0x20, 0x1000, kLme | kLma, kIa32e, false};
  auto w = hv::write_cr0(s, 0x31, kCr0Rules);
  ASSERT_FALSE(w.inject_gp);
  EXPECT_EQ(w.efer, kLme);
  EXPECT_EQ(w.entry_controls, 0u);
}

TEST(WriteCr0, FixedBitsAreForcedButTheGuestSeesItsOwnValue) {
  ControlRegisterState s{0x30, 0, 0, 0, 0, false};
  auto w = hv::write_cr0(s, 0x11, kCr0Rules);  // NE cleared by the guest
  ASSERT_FALSE(w.inject_gp);
  EXPECT_EQ(w.read_shadow, 0x11u);
  EXPECT_EQ(w.guest_value, 0x31u) << "NE stays set for VMX";
  EXPECT_EQ(w.efer, 0u);
  EXPECT_FALSE(w.flush_guest_tlb);
}

TEST(WriteCr0, GeneralProtectionCases) {
  ControlRegisterState real{0x30, 0, 0, 0, 0, false};
  EXPECT_TRUE(hv::write_cr0(real, uint64_t{1} << 32 | 0x31, kCr0Rules).inject_gp) << "high bits";
  EXPECT_TRUE(hv::write_cr0(real, 0x80000030, kCr0Rules).inject_gp) << "PG without PE";
  EXPECT_TRUE(hv::write_cr0(real, 0x20000031, kCr0Rules).inject_gp) << "NW without CD";
  ControlRegisterState lme_no_pae{0x31, 0, 0, kLme, 0, false};
  EXPECT_TRUE(hv::write_cr0(lme_no_pae, 0x80000031, kCr0Rules).inject_gp)
      << "IA-32e mode needs PAE";
  ControlRegisterState in_64bit_code{0x80000031, 0x20, 0x1000, kLme | kLma, kIa32e, true};
  EXPECT_TRUE(hv::write_cr0(in_64bit_code, 0x31, kCr0Rules).inject_gp)
      << "64-bit code cannot disable paging";
  ControlRegisterState cet{0x80010031, 0x800020, 0x1000, kLme | kLma, kIa32e, true};
  EXPECT_TRUE(hv::write_cr0(cet, 0x80000031, kCr0Rules).inject_gp) << "WP clear with CET";
  auto fault = hv::write_cr0(in_64bit_code, 0x31, kCr0Rules);
  EXPECT_EQ(fault.efer, in_64bit_code.efer) << "a fault changes nothing";
  EXPECT_EQ(fault.entry_controls, in_64bit_code.entry_controls);
}

TEST(WriteCr0, ClearingWpFlushesTheGuestTlb) {
  ControlRegisterState s{0x80010031, 0x20, 0x1000, kLme | kLma, kIa32e, true};
  auto w = hv::write_cr0(s, 0x80000031, kCr0Rules);
  ASSERT_FALSE(w.inject_gp);
  EXPECT_TRUE(w.flush_guest_tlb);
  EXPECT_EQ(w.efer, kLme | kLma) << "paging unchanged: mode unchanged";
}

TEST(WriteCr4, VmxeIsHiddenAndUnsupportedBitsFault) {
  ControlRegisterState s{0x80000031, 0x20, 0x1000, kLme | kLma, kIa32e, true};
  EXPECT_TRUE(hv::write_cr4(s, 0x2020, kCr4Rules).inject_gp) << "VMXE";
  EXPECT_TRUE(hv::write_cr4(s, 0x800020, kCr4Rules).inject_gp) << "bit 23 not in FIXED1";
  auto w = hv::write_cr4(s, 0x6A0, kCr4Rules);
  ASSERT_FALSE(w.inject_gp);
  EXPECT_EQ(w.read_shadow, 0x6A0u);
  EXPECT_EQ(w.guest_value, 0x26A0u) << "VMXE forced in the real CR4";
  EXPECT_TRUE(w.flush_guest_tlb) << "PGE toggled";
}

TEST(WriteCr4, LongModeRulesForPaePcideAndLa57) {
  ControlRegisterState lm{0x80000031, 0x20, 0x1000, kLme | kLma, kIa32e, true};
  EXPECT_TRUE(hv::write_cr4(lm, 0x0, kCr4Rules).inject_gp) << "PAE cleared in IA-32e mode";
  EXPECT_TRUE(hv::write_cr4(lm, 0x1020, kCr4Rules).inject_gp) << "LA57 toggled in IA-32e mode";
  EXPECT_FALSE(hv::write_cr4(lm, 0x20020, kCr4Rules).inject_gp) << "PCIDE with CR3[11:0] = 0";
  ControlRegisterState bad_cr3 = lm;
  bad_cr3.cr3 = 0x1001;
  EXPECT_TRUE(hv::write_cr4(bad_cr3, 0x20020, kCr4Rules).inject_gp) << "PCIDE, CR3[11:0] != 0";
  ControlRegisterState protected_mode{0x31, 0x0, 0x0, 0, 0, false};
  EXPECT_TRUE(hv::write_cr4(protected_mode, 0x20020, kCr4Rules).inject_gp)
      << "PCIDE outside IA-32e mode";
  EXPECT_FALSE(hv::write_cr4(protected_mode, 0x0, kCr4Rules).inject_gp)
      << "PAE may be cleared outside IA-32e mode";
}

TEST(WriteCr4, FlushOnlyWhenTranslationCanChange) {
  ControlRegisterState lm{0x80000031, 0x200A0, 0x1000, kLme | kLma, kIa32e, true};
  struct Case {
    uint64_t value;
    bool flush;
    const char* what;
  };
  for (const Case& c : {Case{0x202A0, false, "OSFXSR only"}, Case{0x000A0, true, "PCIDE cleared"},
                        Case{0x1200A0, true, "SMEP set"}, Case{0x20020, true, "PGE cleared"}}) {
    auto w = hv::write_cr4(lm, c.value, kCr4Rules);
    ASSERT_FALSE(w.inject_gp) << c.what;
    EXPECT_EQ(w.flush_guest_tlb, c.flush) << c.what;
  }
}

TEST(Lmsw, LoadsLowFourBitsButCannotClearPe) {
  EXPECT_EQ(hv::lmsw_cr0_value(0x80000031, 0x0), 0x80000031u & ~uint64_t{0xE});
  EXPECT_EQ(hv::lmsw_cr0_value(0x30, 0xF), 0x3Fu);
  EXPECT_EQ(hv::lmsw_cr0_value(0x31, 0xE), 0x3Fu);
  EXPECT_EQ(hv::lmsw_cr0_value(0x30, 0xFFF0), 0x30u) << "only bits 3:0 are loaded";
}

}  // namespace
