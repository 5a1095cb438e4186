#include "hv/guest_state_check.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "arch/interruption_info.h"
#include "arch/vmx_controls.h"

namespace {

using arch::SegmentAccessRights;
namespace entry = arch::entry_ctls;

hv::SegmentState segment(uint16_t selector, uint64_t base, uint32_t limit, uint32_t ar) {
  return {selector, base, limit, SegmentAccessRights(ar)};
}

// The Ivy Bridge fixed bits, agevisor's entry controls for a 64-bit guest.
hv::GuestCheckContext long_mode_context() {
  hv::GuestCheckContext c;
  c.entry_controls =
      entry::kIa32eModeGuest | entry::kLoadEfer | entry::kLoadPat | entry::kLoadDebugControls;
  c.proc2_controls = arch::proc_based2::kEpt | arch::proc_based2::kUnrestrictedGuest;
  c.cr0_fixed0 = 0x80000021;
  c.cr0_fixed1 = 0xFFFFFFFF;
  c.cr4_fixed0 = 0x2000;
  c.cr4_fixed1 = 0x3767FF;
  c.max_phys_addr = 40;
  return c;
}

// What OVMF runs with in the UEFI shell, plus the TSS agevisor gives it (UEFI has TR = 0).
hv::GuestState uefi_long_mode() {
  hv::GuestState g;
  g.cr0 = 0x80010033;
  g.cr3 = 0x7FC01000;
  g.cr4 = 0x2668;
  g.rip = 0x7E8F1234;
  g.rsp = 0x7FF1FE58;
  g.rflags = 0x246;
  g.cs = segment(0x38, 0, 0xFFFFFFFF, 0xA09B);
  g.ss = g.ds = g.es = g.fs = g.gs = segment(0x30, 0, 0xFFFFFFFF, 0xC093);
  g.tr = segment(0x48, 0x7F001000, 0x67, 0x8B);
  g.ldtr = segment(0, 0, 0, 0x10000);
  g.gdtr_base = 0x7F9DC000;
  g.gdtr_limit = 0x4F;
  g.idtr_base = 0x7F2A0018;
  g.idtr_limit = 0xFFF;
  g.efer = 0xD00;
  return g;
}

// An AP after INIT, waiting for SIPI, in real mode under unrestricted guest.
hv::GuestState real_mode_wait_for_sipi(hv::GuestCheckContext& c) {
  c.entry_controls = entry::kLoadEfer | entry::kLoadPat;
  hv::GuestState g;
  g.cr0 = 0x30;
  g.cr4 = 0x2000;
  g.rip = 0xFFF0;
  g.cs = segment(0xF000, 0xFFFF0000, 0xFFFF, 0x9B);
  g.ss = g.ds = g.es = g.fs = g.gs = segment(0, 0, 0xFFFF, 0x93);
  g.tr = segment(0, 0, 0xFFFF, 0x8B);
  g.ldtr = segment(0, 0, 0xFFFF, 0x82);
  g.gdtr_limit = g.idtr_limit = 0xFFFF;
  g.activity_state = 3;
  return g;
}

std::string failures(const hv::GuestStateCheck& r) {
  std::string all;
  for (int i = 0; i < r.count && i < hv::GuestStateCheck::kMaxFailures; ++i)
    all += std::string(r.failures[i]) + "; ";
  return all;
}

TEST(GuestStateCheck, UefiLongModeStateWithAgevisorsTssPasses) {
  auto r = hv::check_guest_state(uefi_long_mode(), long_mode_context());
  EXPECT_TRUE(r.ok()) << failures(r);
}

TEST(GuestStateCheck, RealModeApWaitingForSipiPassesWithUnrestrictedGuest) {
  hv::GuestCheckContext c = long_mode_context();
  hv::GuestState g = real_mode_wait_for_sipi(c);
  auto r = hv::check_guest_state(g, c);
  EXPECT_TRUE(r.ok()) << failures(r);
  c.proc2_controls = arch::proc_based2::kEpt;
  r = hv::check_guest_state(g, c);
  EXPECT_NE(failures(r).find("CR0: bits fixed"), std::string::npos)
      << "without unrestricted guest PE and PG are fixed: " << failures(r);
}

struct Mutation {
  const char* name;
  std::function<void(hv::GuestState&, hv::GuestCheckContext&)> apply;
  const char* expected;  // a substring of the failure
};

TEST(GuestStateCheck, EachBrokenRuleIsNamed) {
  const Mutation mutations[] = {
      {"TR = 0 as UEFI leaves it", [](auto& g, auto&) { g.tr = segment(0, 0, 0, 0x10000); },
       "TR type"},
      {"TR 32-bit busy TSS in IA-32e",
       [](auto& g, auto&) { g.tr.access_rights = SegmentAccessRights(0x83); }, "TR type"},
      {"CR4.VMXE clear", [](auto& g, auto&) { g.cr4 &= ~uint64_t{0x2000}; }, "CR4: bits fixed"},
      {"CR0.NE clear", [](auto& g, auto&) { g.cr0 &= ~uint64_t{0x20}; }, "CR0: bits fixed"},
      {"PG without PE",
       [](auto& g, auto& c) {
         c.entry_controls &= ~entry::kIa32eModeGuest;
         g.cr0 = 0x80000030;
         g.efer = 0;
       },
       "PG set needs PE"},
      {"IA-32e without PAE", [](auto& g, auto&) { g.cr4 &= ~uint64_t{0x20}; }, "CR4.PAE"},
      {"EFER.LMA clear", [](auto& g, auto&) { g.efer = 0x900; }, "LMA must equal IA-32e"},
      {"EFER reserved", [](auto& g, auto&) { g.efer |= 0x2; }, "IA32_EFER: reserved"},
      {"PAT type 2", [](auto& g, auto&) { g.pat = 0x0007040600070402; }, "IA32_PAT"},
      {"CR3 beyond MAXPHYADDR", [](auto& g, auto&) { g.cr3 = uint64_t{1} << 40; }, "CR3"},
      {"DR7 high bits", [](auto& g, auto&) { g.dr7 = uint64_t{1} << 32; }, "DR7"},
      {"CS L and D", [](auto& g, auto&) { g.cs.access_rights = SegmentAccessRights(0xE09B); },
       "L and D/B"},
      {"CS data type without UG",
       [](auto& g, auto& c) {
         c.proc2_controls = arch::proc_based2::kEpt;
         g.cs.access_rights = SegmentAccessRights(0xA093);
       },
       "CS type"},
      {"SS DPL != CS DPL", [](auto& g, auto&) { g.ss.access_rights = SegmentAccessRights(0xC0F3); },
       "CS DPL must equal SS DPL"},
      {"DS not accessed", [](auto& g, auto&) { g.ds.access_rights = SegmentAccessRights(0xC092); },
       "DS type"},
      {"ES limit/granularity", [](auto& g, auto&) { g.es.limit = 0xFFFFF000; },
       "ES limit/granularity"},
      {"FS base not canonical", [](auto& g, auto&) { g.fs.base = uint64_t{1} << 47; }, "FS base"},
      {"GDTR limit", [](auto& g, auto&) { g.gdtr_limit = 0x10000; }, "GDTR limit"},
      {"RIP not canonical", [](auto& g, auto&) { g.rip = 0x0000800000000000; }, "RIP"},
      {"RFLAGS bit 1", [](auto& g, auto&) { g.rflags = 0x244; }, "RFLAGS bit 1"},
      {"RFLAGS reserved", [](auto& g, auto&) { g.rflags |= 0x8; }, "RFLAGS reserved"},
      {"STI blocking with IF clear",
       [](auto& g, auto&) {
         g.rflags = 0x2;
         g.interruptibility = 1;
       },
       "IF clear"},
      {"STI and MOV SS", [](auto& g, auto&) { g.interruptibility = 3; }, "both set"},
      {"HLT with TF but no BS",
       [](auto& g, auto&) {
         g.activity_state = 1;
         g.rflags |= 0x100;
       },
       "pending debug BS"},
      {"external interrupt under STI",
       [](auto& g, auto& c) {
         g.interruptibility = 1;
         c.entry_interruption_info = 0x80000020;
       },
       "external interrupt injected"},
      {"injection into wait-for-SIPI",
       [](auto& g, auto& c) {
         g.activity_state = 3;
         c.entry_interruption_info = 0x80000020;
       },
       "not allowed in this activity state"},
      {"unsupported activity state",
       [](auto& g, auto& c) {
         g.activity_state = 3;
         c.activity_states = 0x1;
       },
       "activity state unsupported"},
      {"VMCS link pointer", [](auto& g, auto&) { g.vmcs_link_pointer = 0; }, "VMCS link pointer"},
      {"pending debug reserved", [](auto& g, auto&) { g.pending_debug_exceptions = 0x10; },
       "pending debug exceptions reserved"},
  };
  for (const Mutation& m : mutations) {
    hv::GuestState g = uefi_long_mode();
    hv::GuestCheckContext c = long_mode_context();
    m.apply(g, c);
    auto r = hv::check_guest_state(g, c);
    EXPECT_FALSE(r.ok()) << m.name;
    EXPECT_NE(failures(r).find(m.expected), std::string::npos)
        << m.name << ": expected \"" << m.expected << "\", got: " << failures(r);
  }
}

TEST(GuestStateCheck, CountsFailuresBeyondTheKeptOnes) {
  hv::GuestState g;  // all zero: almost everything is wrong
  g.rflags = 0;
  g.vmcs_link_pointer = 0;
  auto r = hv::check_guest_state(g, long_mode_context());
  EXPECT_GT(r.count, hv::GuestStateCheck::kMaxFailures);
  for (const char* f : r.failures)
    EXPECT_NE(f, nullptr);
}

}  // namespace
