#include <gtest/gtest.h>

#include <set>
#include <string>

#include "arch/cr_access_qualification.h"
#include "arch/ept_violation_qualification.h"
#include "arch/exit_reason.h"
#include "arch/interruption_info.h"
#include "arch/io_qualification.h"
#include "arch/vm_instruction_error.h"
#include "arch/vmcs_fields.h"
#include "arch/vmx_cr_fixed.h"
#include "arch/vmx_status.h"

namespace {

TEST(VmxStatus, DecodesRflagsLikeTheSdmConventions) {
  EXPECT_EQ(arch::vmx_status_from_rflags(0x2), arch::VmxStatus::kSuccess);
  EXPECT_EQ(arch::vmx_status_from_rflags(0x2 | 0x1), arch::VmxStatus::kFailInvalid);
  EXPECT_EQ(arch::vmx_status_from_rflags(0x2 | 0x40), arch::VmxStatus::kFailValid);
  // Other arithmetic flags (PF, AF, SF, OF) do not matter.
  EXPECT_EQ(arch::vmx_status_from_rflags(0x2 | 0x4 | 0x10 | 0x80 | 0x800),
            arch::VmxStatus::kSuccess);
  EXPECT_STREQ(arch::vmx_status_name(arch::VmxStatus::kFailValid), "VMfailValid");
}

TEST(VmInstructionError, NamesEveryDefinedNumberAndOnlyThose) {
  const std::set<uint32_t> reserved = {0, 14, 21, 27, 29, 30};
  for (uint32_t n = 0; n <= 30; ++n) {
    std::string name = arch::vm_instruction_error_name(n);
    if (reserved.count(n) != 0)
      EXPECT_EQ(name, "unknown VM-instruction error") << n;
    else
      EXPECT_NE(name, "unknown VM-instruction error") << n;
  }
  EXPECT_STREQ(arch::vm_instruction_error_name(7), "VM entry with invalid control field(s)");
  EXPECT_STREQ(arch::vm_instruction_error_name(
                   static_cast<uint32_t>(arch::VmInstructionError::kEntryEventsBlockedByMovSs)),
               "VM entry with events blocked by MOV SS");
}

TEST(ExitReason, EveryListedReasonHasAUniqueNameAndGapsAreUnknown) {
  std::set<std::string> names;
  int known = 0;
  for (uint32_t n = 0; n < 100; ++n) {
    std::string name = arch::exit_reason_name(n);
    if (name == "unknown exit reason")
      continue;
    ++known;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(known, 76);  // 0..79 minus 35, 38, 42, 71
  for (uint32_t gap : {35u, 38u, 42u, 71u, 80u})
    EXPECT_STREQ(arch::exit_reason_name(gap), "unknown exit reason") << gap;
  EXPECT_STREQ(arch::exit_reason_name(48), "EPT violation");
  EXPECT_STREQ(arch::exit_reason_name(10), "CPUID");
}

TEST(ExitReason, FieldDecodesBasicReasonAndFlags) {
  auto r = arch::ExitReason::from_raw(0x80000021);
  EXPECT_TRUE(r.entry_failure);
  EXPECT_EQ(r.basic, arch::BasicExitReason::kEntryFailGuestState);
  EXPECT_STREQ(r.name(), "VM-entry failure due to invalid guest state");
  auto mtf = arch::ExitReason::from_raw((1u << 28) | (1u << 27) | 30);
  EXPECT_TRUE(mtf.pending_mtf);
  EXPECT_TRUE(mtf.enclave_mode);
  EXPECT_FALSE(mtf.entry_failure);
  EXPECT_EQ(mtf.basic, arch::BasicExitReason::kIoInstruction);
  EXPECT_TRUE(arch::ExitReason::from_raw(1u << 29).from_vmx_root);
}

template <typename Field>
void expect_fields_have_width(std::initializer_list<Field> fields, arch::VmcsFieldWidth width,
                              std::set<uint32_t>& seen) {
  for (Field f : fields) {
    uint32_t e = arch::encoding(f);
    EXPECT_EQ(arch::vmcs_field_width(e), width) << std::hex << e;
    EXPECT_EQ(e & 1u, 0u) << "full access, not high: " << std::hex << e;
    EXPECT_EQ(e & ~0x6FFFu, 0u) << "reserved encoding bits: " << std::hex << e;
    EXPECT_STRNE(arch::vmcs_field_name(e), "unknown VMCS field") << std::hex << e;
    EXPECT_TRUE(seen.insert(e).second) << "duplicate encoding " << std::hex << e;
  }
}

TEST(VmcsFields, EveryEncodingMatchesItsEnumsWidthAndIsUnique) {
  std::set<uint32_t> seen;
#define FIELD16(name, value, text) arch::VmcsField16::name,
#define FIELD64(name, value, text) arch::VmcsField64::name,
#define FIELD32(name, value, text) arch::VmcsField32::name,
#define FIELDN(name, value, text) arch::VmcsFieldNatural::name,
  expect_fields_have_width({ARCH_VMCS_FIELDS_16(FIELD16)}, arch::VmcsFieldWidth::k16, seen);
  expect_fields_have_width({ARCH_VMCS_FIELDS_64(FIELD64)}, arch::VmcsFieldWidth::k64, seen);
  expect_fields_have_width({ARCH_VMCS_FIELDS_32(FIELD32)}, arch::VmcsFieldWidth::k32, seen);
  expect_fields_have_width({ARCH_VMCS_FIELDS_NATURAL(FIELDN)}, arch::VmcsFieldWidth::kNatural,
                           seen);
#undef FIELD16
#undef FIELD64
#undef FIELD32
#undef FIELDN
  EXPECT_EQ(arch::vmcs_field_type(arch::encoding(arch::VmcsFieldNatural::kGuestRip)),
            arch::VmcsFieldType::kGuest);
  EXPECT_EQ(arch::vmcs_field_type(arch::encoding(arch::VmcsField32::kExitReason)),
            arch::VmcsFieldType::kExitInfo);
  EXPECT_EQ(arch::vmcs_field_type(arch::encoding(arch::VmcsFieldNatural::kHostRip)),
            arch::VmcsFieldType::kHost);
  EXPECT_EQ(arch::encoding(arch::VmcsField64::kEptPointer), 0x201Au);
  EXPECT_EQ(arch::encoding(arch::VmcsFieldNatural::kGuestRip), 0x681Eu);
}

TEST(CrFixedBits, ApplyForcesFixedBitsAndUnrestrictedGuestFreesPeAndPg) {
  arch::CrFixedBits cr0{0x80000021, 0xFFFFFFFF};
  EXPECT_EQ(cr0.apply(0x00000010), 0x80000031u);
  EXPECT_TRUE(cr0.complies(0x80000031));
  EXPECT_FALSE(cr0.complies(0x00000031));
  EXPECT_EQ(cr0.apply(0x1'0000'0000), 0x80000021u) << "bits above FIXED1 are cleared";
  auto guest = arch::CrFixedBits::guest_cr0(0x80000021, 0xFFFFFFFF, true);
  EXPECT_TRUE(guest.complies(0x00000030)) << "real mode with NE";
  EXPECT_FALSE(guest.complies(0x00000010)) << "NE is still fixed";
  auto strict = arch::CrFixedBits::guest_cr0(0x80000021, 0xFFFFFFFF, false);
  EXPECT_FALSE(strict.complies(0x00000030));
  arch::CrFixedBits cr4{0x2000, 0x3767FF};
  EXPECT_EQ(cr4.apply(0x20), 0x2020u);
  EXPECT_EQ(cr4.apply(0x800000), 0x2000u) << "bit 23 not allowed by FIXED1";
  EXPECT_EQ(cr4.forced_mask() & 0xFFFFFFFF, ~uint32_t{0x3767FF} | 0x2000u);
}

TEST(EptViolationQualification, DecodesAccessAndPermissions) {
  auto q = arch::EptViolationQualification::from_raw(0x2 | 0x8 | 0x20, false, false);
  EXPECT_FALSE(q.read);
  EXPECT_TRUE(q.write);
  EXPECT_FALSE(q.fetch);
  EXPECT_TRUE(q.readable);
  EXPECT_FALSE(q.writable);
  EXPECT_TRUE(q.executable);
  EXPECT_FALSE(q.not_present());
  EXPECT_TRUE(arch::EptViolationQualification::from_raw(0x1, false, false).not_present());
  EXPECT_TRUE(arch::EptViolationQualification::from_raw(0x4, false, false).fetch);
}

TEST(EptViolationQualification, UserExecuteOnlyWithModeBasedExecute) {
  EXPECT_FALSE(arch::EptViolationQualification::from_raw(0x40, false, false).user_executable);
  auto mbe = arch::EptViolationQualification::from_raw(0x40, true, false);
  EXPECT_TRUE(mbe.user_executable);
  EXPECT_FALSE(mbe.not_present());
}

TEST(EptViolationQualification, LinearAndAdvancedBitsNeedTheirPreconditions) {
  uint64_t all = 0xF80;  // bits 7..11
  auto basic = arch::EptViolationQualification::from_raw(all, false, false);
  EXPECT_TRUE(basic.guest_linear_valid);
  EXPECT_TRUE(basic.linear_translation);
  EXPECT_FALSE(basic.advanced_info_valid);
  EXPECT_FALSE(basic.user_mode_linear);
  auto advanced = arch::EptViolationQualification::from_raw(all, false, true);
  EXPECT_TRUE(advanced.advanced_info_valid);
  EXPECT_TRUE(advanced.user_mode_linear);
  EXPECT_TRUE(advanced.writable_linear);
  EXPECT_TRUE(advanced.nx_linear);
  auto no_linear = arch::EptViolationQualification::from_raw(all & ~uint64_t{0x80}, false, true);
  EXPECT_FALSE(no_linear.linear_translation) << "bit 8 is reserved without bit 7";
  EXPECT_FALSE(no_linear.advanced_info_valid);
  auto walk = arch::EptViolationQualification::from_raw(0x80 | 0xE00, false, true);
  EXPECT_FALSE(walk.linear_translation) << "paging-structure access";
  EXPECT_FALSE(walk.advanced_info_valid);
  EXPECT_TRUE(
      arch::EptViolationQualification::from_raw(0x1000, false, false).nmi_unblocking_due_to_iret);
}

TEST(CrAccessQualification, DecodesMovClstAndLmsw) {
  auto mov = arch::CrAccessQualification::from_raw(0x00000C04);  // MOV CR4, R12
  EXPECT_EQ(mov.cr, 4);
  EXPECT_EQ(mov.access, arch::CrAccessQualification::Access::kMovToCr);
  EXPECT_EQ(mov.gpr, 12);
  auto read = arch::CrAccessQualification::from_raw(0x00000313);  // MOV RBX, CR3
  EXPECT_EQ(read.cr, 3);
  EXPECT_EQ(read.access, arch::CrAccessQualification::Access::kMovFromCr);
  EXPECT_EQ(read.gpr, 3);
  EXPECT_EQ(arch::CrAccessQualification::from_raw(0x20).access,
            arch::CrAccessQualification::Access::kClts);
  auto lmsw = arch::CrAccessQualification::from_raw(0x000F0070);
  EXPECT_EQ(lmsw.access, arch::CrAccessQualification::Access::kLmsw);
  EXPECT_TRUE(lmsw.lmsw_memory_operand);
  EXPECT_EQ(lmsw.lmsw_source, 0xF);
}

TEST(IoQualification, DecodesSizeDirectionStringRepAndPort) {
  auto out = arch::IoQualification::from_raw(0x00E90040);  // OUT 0xE9, AL (immediate)
  EXPECT_EQ(out.size, 1);
  EXPECT_FALSE(out.in);
  EXPECT_TRUE(out.immediate_port);
  EXPECT_EQ(out.port, 0xE9);
  auto ins = arch::IoQualification::from_raw(0x03F80039);  // REP INSW/INSD from DX
  EXPECT_EQ(ins.size, 2);
  EXPECT_TRUE(ins.in);
  EXPECT_TRUE(ins.string);
  EXPECT_TRUE(ins.rep);
  EXPECT_FALSE(ins.immediate_port);
  EXPECT_EQ(ins.port, 0x3F8);
  EXPECT_EQ(arch::IoQualification::from_raw(0x3).size, 4);
}

TEST(InterruptionInfo, EncodeDecodeRoundTripsEveryTypeAndVector) {
  using T = arch::InterruptionType;
  for (T type : {T::kExternalInterrupt, T::kNmi, T::kHardwareException, T::kSoftwareInterrupt,
                 T::kPrivilegedSoftwareException, T::kSoftwareException, T::kOtherEvent}) {
    for (unsigned v = 0; v < 256; ++v) {
      for (bool ec : {false, true}) {
        auto info = arch::InterruptionInfo::make(type, static_cast<uint8_t>(v), ec);
        auto back = arch::InterruptionInfo::from_raw(info.raw());
        ASSERT_TRUE(back.valid());
        ASSERT_EQ(back.type(), type);
        ASSERT_EQ(back.vector(), v);
        ASSERT_EQ(back.error_code_valid(), ec);
        ASSERT_EQ(info.raw() & 0x7FFFF000u, 0u) << "reserved bits stay clear";
      }
    }
  }
}

TEST(InterruptionInfo, DecodesRawFieldsAndInstructionLengthNeed) {
  auto pf = arch::InterruptionInfo::from_raw(0x80000B0E);
  EXPECT_EQ(pf.type(), arch::InterruptionType::kHardwareException);
  EXPECT_EQ(pf.vector(), 14);
  EXPECT_TRUE(pf.error_code_valid());
  EXPECT_FALSE(pf.needs_instruction_length());
  EXPECT_FALSE(arch::InterruptionInfo::from_raw(0x0000030E).valid());
  EXPECT_TRUE(arch::InterruptionInfo::from_raw(0x80001202).nmi_unblocking_due_to_iret());
  EXPECT_TRUE(arch::InterruptionInfo::from_raw(0x80000480).needs_instruction_length());   // INT 80
  EXPECT_TRUE(arch::InterruptionInfo::from_raw(0x80000603).needs_instruction_length());   // INT3
  EXPECT_TRUE(arch::InterruptionInfo::from_raw(0x80000501).needs_instruction_length());   // INT1
  EXPECT_FALSE(arch::InterruptionInfo::from_raw(0x80000202).needs_instruction_length());  // NMI
}

}  // namespace
