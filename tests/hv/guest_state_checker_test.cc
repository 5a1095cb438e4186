#include "hv/guest_state_checker.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace {

using hv::ActivityState;
using hv::check_guest_state;
using hv::GuestCheckContext;
using hv::GuestState;

// IA32_VMX_CR{0,4}_FIXED* as Bochs reports them: PE, NE, PG fixed to 1; VMXE fixed to 1.
GuestCheckContext long_mode_context() {
  GuestCheckContext c;
  c.cr0_fixed0 = 0x8000'0021;
  c.cr0_fixed1 = 0xFFFF'FFFF;
  c.cr4_fixed0 = 0x2000;
  c.cr4_fixed1 = 0x003F'27FF;
  c.max_phys_addr = 36;
  c.unrestricted_guest = true;
  c.ia32e_mode_guest = true;
  c.load_debug_controls = true;
  c.load_pat = true;
  c.load_efer = true;
  return c;
}

// The state OVMF runs the shell in: 64-bit flat segments, TR = 0 made a usable busy TSS.
GuestState uefi_long_mode_state() {
  GuestState s;
  s.cr0 = 0x8001'0033;
  s.cr3 = 0x7FC0'1000;
  s.cr4 = 0x2668;
  s.rip = 0x7E8F'1234;
  s.rsp = 0x7FF0'0000;
  s.rflags = 0x246;
  s.efer = 0x500;
  s.cs = {0x38, 0, 0xFFFF'FFFF, 0xA09B};
  const hv::Segment data{0x30, 0, 0xFFFF'FFFF, 0xC093};
  s.ss = s.ds = s.es = s.fs = s.gs = data;
  s.ldtr = {0, 0, 0, hv::kSegmentUnusable};
  s.tr = {0, 0, 0x67, 0x8B};
  s.gdtr = {0x7F9D'C000, 0x47};
  s.idtr = {0x7F5A'1018, 0xFFF};
  return s;
}

TEST(GuestStateChecker, AcceptsTheFirmwareLongModeState) {
  const auto report = check_guest_state(uefi_long_mode_state(), long_mode_context());
  EXPECT_TRUE(report.ok()) << report.violations[0].field << ": " << report.violations[0].rule;
}

TEST(GuestStateChecker, AcceptsRealModeUnderUnrestrictedGuest) {
  GuestCheckContext c = long_mode_context();
  c.ia32e_mode_guest = false;
  GuestState s;
  s.cr0 = 0x20;  // NE only: PE and PG are relaxed by unrestricted guest
  s.cr4 = 0x2000;
  s.cs = {0xF000, 0xF'0000, 0xFFFF, 0x9B};
  const hv::Segment data{0, 0, 0xFFFF, 0x93};
  s.ss = s.ds = s.es = s.fs = s.gs = data;
  s.ldtr = {0, 0, 0xFFFF, 0x82};
  s.tr = {0, 0, 0xFFFF, 0x8B};
  s.gdtr = {0, 0xFFFF};
  s.idtr = {0, 0xFFFF};
  s.rip = 0xFFF0;
  s.activity = ActivityState::kWaitForSipi;
  const auto report = check_guest_state(s, c);
  EXPECT_TRUE(report.ok()) << report.violations[0].field << ": " << report.violations[0].rule;
}

struct Breakage {
  const char* name;
  std::function<void(GuestState&, GuestCheckContext&)> apply;
  const char* field;
};

void PrintTo(const Breakage& breakage, std::ostream* os) { *os << breakage.name; }

class GuestStateCheckerRule : public ::testing::TestWithParam<Breakage> {};

TEST_P(GuestStateCheckerRule, ReportsTheBrokenField) {
  GuestState s = uefi_long_mode_state();
  GuestCheckContext c = long_mode_context();
  GetParam().apply(s, c);
  const auto report = check_guest_state(s, c);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(report.has(GetParam().field))
      << "first violation: " << report.violations[0].field << ": " << report.violations[0].rule;
}

// One case per rule, each breaking exactly one thing in an otherwise valid state.
const Breakage kBreakages[] = {
    {"Cr0NeClear", [](GuestState& s, GuestCheckContext&) { s.cr0 &= ~0x20ull; }, "CR0"},
    {"Cr0PgWithoutPe", [](GuestState& s, GuestCheckContext&) { s.cr0 &= ~1ull; }, "CR0"},
    {"Cr0AboveFixed1", [](GuestState& s, GuestCheckContext&) { s.cr0 |= 1ull << 40; }, "CR0"},
    {"Cr4VmxeClear", [](GuestState& s, GuestCheckContext&) { s.cr4 &= ~0x2000ull; }, "CR4"},
    {"Cr4PaeClearInLongMode", [](GuestState& s, GuestCheckContext&) { s.cr4 &= ~0x20ull; }, "CR4"},
    {"Cr4PcideOutsideLongMode",
     [](GuestState& s, GuestCheckContext& c) {
       c.ia32e_mode_guest = false;
       c.load_efer = false;
       s.cs.access_rights = 0xC09B;
       s.cr4 |= 1ull << 17;
     },
     "CR4"},
    {"Cr3BeyondMaxPhysAddr", [](GuestState& s, GuestCheckContext&) { s.cr3 |= 1ull << 36; }, "CR3"},
    {"DebugCtlReserved", [](GuestState& s, GuestCheckContext&) { s.debugctl = 1ull << 3; },
     "IA32_DEBUGCTL"},
    {"Dr7High", [](GuestState& s, GuestCheckContext&) { s.dr7 |= 1ull << 32; }, "DR7"},
    {"SysenterEspNonCanonical",
     [](GuestState& s, GuestCheckContext&) { s.sysenter_esp = 0x0000'8000'0000'0000; },
     "IA32_SYSENTER_ESP"},
    {"PatInvalidType", [](GuestState& s, GuestCheckContext&) { s.pat = 0x0007040600070402; },
     "IA32_PAT"},
    {"EferReserved", [](GuestState& s, GuestCheckContext&) { s.efer |= 1ull << 2; }, "IA32_EFER"},
    {"EferLmaMismatch", [](GuestState& s, GuestCheckContext&) { s.efer &= ~0x400ull; },
     "IA32_EFER"},
    {"CsDataType",
     [](GuestState& s, GuestCheckContext& c) {
       c.unrestricted_guest = false;
       s.cs.access_rights = (s.cs.access_rights & ~0xFu) | 3;
     },
     "CS"},
    {"CsNotPresent", [](GuestState& s, GuestCheckContext&) { s.cs.access_rights &= ~0x80u; }, "CS"},
    {"CsLongAndDefaultBig",
     [](GuestState& s, GuestCheckContext&) { s.cs.access_rights |= 1u << 14; }, "CS"},
    {"CsDplDiffersFromSs", [](GuestState& s, GuestCheckContext&) { s.cs.access_rights |= 3u << 5; },
     "CS"},
    {"CsGranularityVsLimit", [](GuestState& s, GuestCheckContext&) { s.cs.limit = 0xFFFF'F000; },
     "CS"},
    {"SsRplDiffersFromCs",
     [](GuestState& s, GuestCheckContext& c) {
       c.unrestricted_guest = false;
       s.ss.selector = 0x33;
     },
     "SS"},
    {"SsCodeType", [](GuestState& s, GuestCheckContext&) { s.ss.access_rights = 0xC09B; }, "SS"},
    {"SsBaseHigh", [](GuestState& s, GuestCheckContext&) { s.ss.base = 1ull << 32; }, "SS"},
    {"DsNotAccessed", [](GuestState& s, GuestCheckContext&) { s.ds.access_rights = 0xC092; }, "DS"},
    {"EsExecuteOnlyCode", [](GuestState& s, GuestCheckContext&) { s.es.access_rights = 0xC099; },
     "ES"},
    {"FsReservedAccessBit",
     [](GuestState& s, GuestCheckContext&) { s.fs.access_rights |= 1u << 9; }, "FS"},
    {"GsBaseNonCanonical",
     [](GuestState& s, GuestCheckContext&) { s.gs.base = 0x0000'8000'0000'0000; }, "GS"},
    {"TrUnusable",
     [](GuestState& s, GuestCheckContext&) { s.tr.access_rights = hv::kSegmentUnusable; }, "TR"},
    {"TrNotBusy", [](GuestState& s, GuestCheckContext&) { s.tr.access_rights = 0x89; }, "TR"},
    {"Tr16BitInLongMode", [](GuestState& s, GuestCheckContext&) { s.tr.access_rights = 0x83; },
     "TR"},
    {"TrInLdt", [](GuestState& s, GuestCheckContext&) { s.tr.selector = 0x4; }, "TR"},
    {"LdtrWrongType",
     [](GuestState& s, GuestCheckContext&) {
       s.ldtr = {0x50, 0, 0xFF, 0x83};
     },
     "LDTR"},
    {"GdtrLimitHigh", [](GuestState& s, GuestCheckContext&) { s.gdtr.limit = 0x1'0000; }, "GDTR"},
    {"IdtrBaseNonCanonical",
     [](GuestState& s, GuestCheckContext&) { s.idtr.base = 0x0001'0000'0000'0000; }, "IDTR"},
    {"RipNonCanonical", [](GuestState& s, GuestCheckContext&) { s.rip = 0x0000'8000'0000'0000; },
     "RIP"},
    {"RipHighIn32BitCode",
     [](GuestState& s, GuestCheckContext&) {
       s.cs.access_rights = 0xC09B;
       s.rip = 1ull << 32;
     },
     "RIP"},
    {"RflagsBit1Clear", [](GuestState& s, GuestCheckContext&) { s.rflags = 0x244; }, "RFLAGS"},
    {"RflagsReserved", [](GuestState& s, GuestCheckContext&) { s.rflags |= 1ull << 15; }, "RFLAGS"},
    {"RflagsVmInLongMode", [](GuestState& s, GuestCheckContext&) { s.rflags |= 1ull << 17; },
     "RFLAGS"},
    {"InjectWithIfClear",
     [](GuestState& s, GuestCheckContext& c) {
       s.rflags &= ~0x200ull;
       c.injecting = true;
       c.injection_type = 0;
     },
     "RFLAGS"},
    {"HltWithStiBlocking",
     [](GuestState& s, GuestCheckContext&) {
       s.activity = ActivityState::kHlt;
       s.interruptibility = hv::kBlockingBySti;
     },
     "activity state"},
    {"StiAndMovSsBlocking",
     [](GuestState& s, GuestCheckContext&) {
       s.interruptibility = hv::kBlockingBySti | hv::kBlockingByMovSs;
     },
     "interruptibility"},
    {"StiBlockingWithIfClear",
     [](GuestState& s, GuestCheckContext&) {
       s.rflags &= ~0x200ull;
       s.interruptibility = hv::kBlockingBySti;
     },
     "interruptibility"},
    {"SmiBlockingOutsideSmm",
     [](GuestState& s, GuestCheckContext&) { s.interruptibility = hv::kBlockingBySmi; },
     "interruptibility"},
    {"NmiInjectedWhileBlocked",
     [](GuestState& s, GuestCheckContext& c) {
       s.interruptibility = hv::kBlockingByNmi;
       c.injecting = true;
       c.injection_type = 2;
     },
     "interruptibility"},
    {"PendingDebugReserved",
     [](GuestState& s, GuestCheckContext&) { s.pending_debug_exceptions = 1ull << 20; },
     "pending debug exceptions"},
    {"SingleStepWithoutBsUnderMovSs",
     [](GuestState& s, GuestCheckContext&) {
       s.rflags |= 0x100;
       s.interruptibility = hv::kBlockingByMovSs;
     },
     "pending debug exceptions"},
    {"LinkPointerUnaligned",
     [](GuestState& s, GuestCheckContext&) { s.vmcs_link_pointer = 0x1234; }, "VMCS link pointer"},
};

INSTANTIATE_TEST_SUITE_P(EverySdmRule, GuestStateCheckerRule, ::testing::ValuesIn(kBreakages),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(GuestStateChecker, CountsViolationsBeyondWhatItRecords) {
  GuestState s;  // all zero: almost every rule is broken
  s.rflags = 0;
  s.tr.access_rights = hv::kSegmentUnusable;
  const auto report = check_guest_state(s, long_mode_context());
  EXPECT_GT(report.count, hv::GuestStateReport::kMaxRecorded);
  EXPECT_TRUE(report.has("CR0"));
}

}  // namespace
