// INIT and SIPI in VMX non-root: the state INIT leaves, checked against the SDM's table and
// against agevisor's own VM-entry checker, and the exit path around it (parking the CPU,
// the second INIT Bochs 2.7 delivers, SIPI, nothing injected into wait-for-SIPI).
#include "hv/init_sipi.h"

#include <gtest/gtest.h>

#include "fakes/fake_vmcs.h"
#include "hv/exits/exit_handler.h"
#include "hv/guest_state_checker.h"

namespace {

using arch::BasicExitReason;
using arch::VmcsField16;
using arch::VmcsField32;
using arch::VmcsField64;
using arch::VmcsFieldNatural;
using hv::ActivityState;
using hv::ExitAction;

constexpr uint64_t kCr0Fixed0 = 0x8000'0021;  // PG, NE, PE (Bochs and most hardware)
constexpr uint64_t kCr0Fixed1 = 0xFFFF'FFFF;
constexpr uint64_t kCr4Fixed0 = 0x2000;  // VMXE
constexpr uint64_t kCr4Fixed1 = 0x3727FF;

hv::InitState init_from(uint64_t cr0_shadow) {
  return hv::state_after_init(cr0_shadow,
                              arch::CrFixedBits::guest_cr0(kCr0Fixed0, kCr0Fixed1, true),
                              arch::CrFixedBits{kCr4Fixed0, kCr4Fixed1});
}

TEST(StateAfterInit, MatchesTheSdmTableForTheRegistersInTheVmcs) {
  const hv::InitState s = init_from(0x8001'0033);  // long-mode firmware: PG WP NE ET MP PE
  const hv::GuestState& g = s.guest;
  EXPECT_EQ(s.cr0_shadow, 0x10u) << "ET set, CD and NW were clear, everything else cleared";
  EXPECT_EQ(g.cr0, 0x30u) << "NE forced by VMX, PE and PG free (unrestricted guest)";
  EXPECT_EQ(s.cr4_shadow, 0u);
  EXPECT_EQ(g.cr4, kCr4Fixed0) << "the guest sees 0, VMXE stays forced";
  EXPECT_EQ(g.cr3, 0u);
  EXPECT_EQ(g.rip, 0xFFF0u);
  EXPECT_EQ(g.rflags, 0x2u);
  EXPECT_EQ(g.rsp, 0u);
  EXPECT_EQ(g.dr7, 0x400u);
  EXPECT_EQ(g.efer, 0u) << "INIT leaves IA-32e mode";
  EXPECT_EQ(g.cs.selector, 0xF000);
  EXPECT_EQ(g.cs.base, 0xFFFF'0000u);
  EXPECT_EQ(g.cs.limit, 0xFFFFu);
  EXPECT_EQ(g.cs.access_rights, 0x9Bu);
  for (const hv::Segment* data : {&g.ss, &g.ds, &g.es, &g.fs, &g.gs}) {
    EXPECT_EQ(data->selector, 0);
    EXPECT_EQ(data->base, 0u) << "FS and GS bases too";
    EXPECT_EQ(data->limit, 0xFFFFu);
    EXPECT_EQ(data->access_rights, 0x93u);
  }
  EXPECT_EQ(g.gdtr.base, 0u);
  EXPECT_EQ(g.gdtr.limit, 0xFFFFu);
  EXPECT_EQ(g.idtr.base, 0u);
  EXPECT_EQ(g.idtr.limit, 0xFFFFu);
  EXPECT_EQ(g.ldtr.selector, 0);
  EXPECT_EQ(g.tr.selector, 0);
  EXPECT_EQ(g.tr.limit, 0xFFFFu);
  EXPECT_EQ(g.activity, ActivityState::kWaitForSipi);
  EXPECT_EQ(g.interruptibility, 0u) << "never blocking by SMI outside SMM (Bochs 2.7 bug)";
  EXPECT_EQ(g.pending_debug_exceptions, 0u);
}

TEST(StateAfterInit, KeepsCacheDisableAndNotWriteThrough) {
  const hv::InitState s = init_from(0x6000'0011);  // CD NW ET PE
  EXPECT_EQ(s.cr0_shadow, 0x6000'0010u);
  EXPECT_EQ(s.guest.cr0, 0x6000'0030u);
}

// The processor would refuse an entry our checker refuses: after INIT and after a SIPI the
// guest state must pass it, as an unrestricted guest outside IA-32e mode.
TEST(StateAfterInit, IsALegalVmEntryStateBeforeAndAfterSipi) {
  hv::GuestCheckContext c;
  c.cr0_fixed0 = kCr0Fixed0;
  c.cr0_fixed1 = kCr0Fixed1;
  c.cr4_fixed0 = kCr4Fixed0;
  c.cr4_fixed1 = kCr4Fixed1;
  c.unrestricted_guest = true;
  c.ia32e_mode_guest = false;
  c.load_debug_controls = true;
  c.load_pat = true;
  c.load_efer = true;
  for (uint64_t shadow : {uint64_t{0x8001'0033}, uint64_t{0x6000'0010}}) {
    hv::GuestState g = init_from(shadow).guest;
    const hv::GuestStateReport parked = hv::check_guest_state(g, c);
    EXPECT_TRUE(parked.ok()) << (parked.count > 0 ? parked.violations[0].field : "") << ": "
                             << (parked.count > 0 ? parked.violations[0].rule : "");
    g.cs = hv::code_segment_after_sipi(0x9F);
    g.rip = 0;
    g.activity = ActivityState::kActive;
    const hv::GuestStateReport started = hv::check_guest_state(g, c);
    EXPECT_TRUE(started.ok()) << (started.count > 0 ? started.violations[0].field : "") << ": "
                              << (started.count > 0 ? started.violations[0].rule : "");
  }
}

TEST(StateAfterSipi, CodeSegmentComesFromTheVector) {
  const hv::Segment cs = hv::code_segment_after_sipi(0x9F);
  EXPECT_EQ(cs.selector, 0x9F00);
  EXPECT_EQ(cs.base, 0x9'F000u);
  EXPECT_EQ(cs.limit, 0xFFFFu);
  EXPECT_EQ(cs.access_rights, 0x9Bu);
  EXPECT_EQ(hv::code_segment_after_sipi(0).base, 0u);
  EXPECT_EQ(hv::code_segment_after_sipi(0xFF).base, 0xF'F000u);
}

// The exit path: a long-mode firmware AP, as agevisor launched it, gets INIT then SIPI.
class InitSipiExits : public ::testing::Test {
 protected:
  void SetUp() override {
    vmcs.set(VmcsField32::kEntryControls, arch::entry_ctls::kIa32eModeGuest |
                                              arch::entry_ctls::kLoadEfer |
                                              arch::entry_ctls::kLoadPat);
    vmcs.set(VmcsField32::kSecondaryProcbasedControls,
             arch::proc_based2::kVpid | arch::proc_based2::kUnrestrictedGuest);
    vmcs.set(VmcsField16::kVpid, 1);
    vmcs.set(VmcsField32::kGuestCsAccessRights, 0xA09B);
    vmcs.set(VmcsField32::kGuestSsAccessRights, 0xC093);
    vmcs.set(VmcsFieldNatural::kGuestRip, 0x7E00'1000);
    vmcs.set(VmcsFieldNatural::kGuestRsp, 0x7F00'0000);
    vmcs.set(VmcsFieldNatural::kGuestRflags, 0x246);
    vmcs.set(VmcsFieldNatural::kCr0ReadShadow, 0x8001'0033);
    vmcs.set(VmcsFieldNatural::kCr4ReadShadow, 0x668);
    vmcs.set(VmcsField64::kGuestEfer, 0x500);
    vcpu.cr0_fixed0 = kCr0Fixed0;
    vcpu.cr0_fixed1 = kCr0Fixed1;
    vcpu.cr4_fixed0 = kCr4Fixed0;
    vcpu.cr4_fixed1 = kCr4Fixed1;
    cpu.cpuid_leaves[1] = {0x306A9, 0x0100'0800, 0, 0};
    gprs.rax = 0x1111;
    gprs.rbx = 0x2222;
    gprs.r15 = 0x3333;
  }
  ExitAction exit(BasicExitReason reason, uint64_t qualification = 0) {
    vmcs.set(VmcsField32::kExitReason, static_cast<uint32_t>(reason));
    vmcs.set(VmcsFieldNatural::kExitQualification, qualification);
    return hv::handle_exit(vcpu, vmcs, cpu, ept, gprs);
  }
  ActivityState activity() const {
    return static_cast<ActivityState>(vmcs.read(VmcsField32::kGuestActivityState));
  }

  hv::VcpuState vcpu;
  fakes::FakeVmcs vmcs;
  fakes::FakeExitCpu cpu;
  fakes::FakeEpt ept;
  arch::GuestGprs gprs;
};

TEST_F(InitSipiExits, InitParksTheCpuInWaitForSipiWithTheStateAfterInit) {
  vcpu.nmi_pending = true;                                // must not be injected into wait-for-SIPI
  vmcs.set(VmcsField32::kIdtVectoringInfo, 0x8000'0030);  // an interrupted external interrupt
  vmcs.set(VmcsField32::kGuestInterruptibilityState, hv::kBlockingBySmi | hv::kBlockingBySti);
  EXPECT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  EXPECT_EQ(activity(), ActivityState::kWaitForSipi);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryControls) & arch::entry_ctls::kIa32eModeGuest, 0u)
      << "the guest left IA-32e mode";
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryControls) & arch::entry_ctls::kLoadEfer,
            arch::entry_ctls::kLoadEfer);
  EXPECT_EQ(vmcs.read(VmcsField64::kGuestEfer), 0u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRip), 0xFFF0u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRsp), 0u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRflags), 0x2u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr0), 0x30u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr0ReadShadow), 0x10u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr4), kCr4Fixed0);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr4ReadShadow), 0u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr3), 0u);
  EXPECT_EQ(vmcs.read(VmcsField16::kGuestCsSelector), 0xF000);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCsBase), 0xFFFF'0000u);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestCsAccessRights), 0x9Bu);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestSsAccessRights), 0x93u);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestTrAccessRights), 0x8Bu);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestGdtrLimit), 0xFFFFu);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), 0u);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryInterruptionInfo), 0u)
      << "nothing is injected into wait-for-SIPI, neither the interrupted event nor the NMI";
  EXPECT_TRUE(vcpu.nmi_pending) << "the NMI waits for the CPU to run again";
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, 0u);
  EXPECT_EQ(gprs.r15, 0u);
  EXPECT_EQ(gprs.rdx, 0x306A9u) << "EDX holds the processor signature";
  EXPECT_EQ(cpu.init_register_resets, 1) << "CR2, DR0-DR3 and DR6 too";
  ASSERT_EQ(cpu.invvpid_calls.size(), 1u) << "the guest's VPID-tagged translations go";
  EXPECT_EQ(cpu.invvpid_calls[0], 1);
  ASSERT_EQ(ept.online_changes.size(), 1u);
  EXPECT_FALSE(ept.online_changes[0]) << "a parked CPU is not waited for by flushes";
}

TEST_F(InitSipiExits, ASecondInitWhileWaitingForSipiChangesNothing) {
  ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  vmcs.set(VmcsFieldNatural::kGuestRip, 0x1234);  // would be overwritten by a real INIT
  vmcs.set(VmcsField32::kGuestInterruptibilityState, hv::kBlockingBySmi);
  gprs.rbx = 0x5555;
  EXPECT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  EXPECT_EQ(activity(), ActivityState::kWaitForSipi);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRip), 0x1234u);
  EXPECT_EQ(gprs.rbx, 0x5555u);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), 0u)
      << "blocking by SMI is never left set outside SMM";
  EXPECT_EQ(cpu.invvpid_calls.size(), 1u);
  EXPECT_EQ(cpu.init_register_resets, 1);
  EXPECT_EQ(ept.online_changes.size(), 1u);
}

TEST_F(InitSipiExits, SipiStartsTheCpuInRealModeAtTheVector) {
  ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  EXPECT_EQ(exit(BasicExitReason::kStartupIpi, 0x9F), ExitAction::kResume);
  EXPECT_EQ(activity(), ActivityState::kActive);
  EXPECT_EQ(vmcs.read(VmcsField16::kGuestCsSelector), 0x9F00);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCsBase), 0x9'F000u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRip), 0u);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryInterruptionInfo), 0u);
  ASSERT_EQ(ept.online_changes.size(), 2u);
  EXPECT_TRUE(ept.online_changes[1]) << "back online (after its INVEPT)";
}

TEST_F(InitSipiExits, ASipiExitSavedAsActiveStillStartsTheParkedCpu) {
  ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  vmcs.set(VmcsField32::kGuestActivityState, 0);  // what Bochs saves on a SIPI exit
  EXPECT_EQ(exit(BasicExitReason::kStartupIpi, 0x9F), ExitAction::kResume);
  EXPECT_EQ(vmcs.read(VmcsField16::kGuestCsSelector), 0x9F00);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRip), 0u);
  EXPECT_EQ(activity(), ActivityState::kActive);
}

TEST_F(InitSipiExits, BlockingBySmiIsClearedOnEveryLaterExit) {
  // Bochs 2.7 keeps reporting it for a CPU that once waited for a SIPI, then refuses the
  // entry: outside SMM it is never legitimately set.
  ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
  ASSERT_EQ(exit(BasicExitReason::kStartupIpi, 0x9F), ExitAction::kResume);
  vmcs.set(VmcsField32::kGuestInterruptibilityState, hv::kBlockingBySmi | hv::kBlockingByMovSs);
  vmcs.set(VmcsField32::kExitInstructionLength, 2);
  gprs.rax = 0;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), 0u)
      << "SMI blocking cleared, MOV-SS blocking ends with the emulated instruction";
  vmcs.set(VmcsField32::kGuestInterruptibilityState, hv::kBlockingBySmi | hv::kBlockingByNmi);
  cpu.msrs[0x480] = 0;
  gprs.rcx = 0x480;  // IA32_VMX_BASIC: VMX capability MSRs are #GP for the guest
  EXPECT_EQ(exit(BasicExitReason::kRdmsr), ExitAction::kInjected);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), hv::kBlockingByNmi)
      << "also when an exception is injected";
}

TEST_F(InitSipiExits, ASipiToARunningCpuIsIgnored) {
  EXPECT_EQ(exit(BasicExitReason::kStartupIpi, 0x9F), ExitAction::kResume);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestRip), 0x7E00'1000u);
  EXPECT_EQ(vmcs.read(VmcsField16::kGuestCsSelector), 0);
  EXPECT_TRUE(ept.online_changes.empty());
}

TEST_F(InitSipiExits, RepeatedWakeUpsKeepWorking) {
  for (int round = 0; round < 5; ++round) {
    vmcs.set(VmcsField32::kEntryControls, arch::entry_ctls::kIa32eModeGuest);
    vmcs.set(VmcsField32::kGuestActivityState, 0);
    ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);
    ASSERT_EQ(exit(BasicExitReason::kInitSignal), ExitAction::kResume);  // Bochs 2.7's extra
    ASSERT_EQ(exit(BasicExitReason::kStartupIpi, 0x10), ExitAction::kResume);
    ASSERT_EQ(exit(BasicExitReason::kStartupIpi, 0x10), ExitAction::kResume);  // second SIPI
    EXPECT_EQ(activity(), ActivityState::kActive);
    EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCsBase), 0x1'0000u);
  }
  EXPECT_EQ(cpu.invvpid_calls.size(), 5u);
  EXPECT_EQ(ept.online_changes.size(), 10u);
}

}  // namespace
