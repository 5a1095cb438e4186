// The exit path over a fake VMCS: routing, RIP advance, injection, re-delivery and NMIs.
#include "hv/exits/exit_handler.h"

#include <gtest/gtest.h>

#include "fakes/fake_vmcs.h"

namespace {

using arch::BasicExitReason;
using arch::VmcsField16;
using arch::VmcsField32;
using arch::VmcsField64;
using arch::VmcsFieldNatural;
using hv::ExitAction;

constexpr uint64_t kRip = 0x7E00'1000;
constexpr uint32_t kGpInjection = 0x8000'0B0D;  // valid, hardware exception, error code, #GP
constexpr uint32_t kUdInjection = 0x8000'0306;  // valid, hardware exception, #UD

class ExitHandler : public ::testing::Test {
 protected:
  void SetUp() override {
    vmcs.set(VmcsField32::kEntryControls, arch::entry_ctls::kIa32eModeGuest);
    vmcs.set(VmcsField32::kGuestCsAccessRights, 0xA09B);  // 64-bit code
    vmcs.set(VmcsField32::kGuestSsAccessRights, 0xC093);  // CPL 0
    vmcs.set(VmcsFieldNatural::kGuestRip, kRip);
    vmcs.set(VmcsFieldNatural::kGuestRflags, 0x202);
    vmcs.set(VmcsField32::kExitInstructionLength, 3);
    vmcs.set(VmcsFieldNatural::kCr0ReadShadow, 0x8001'0033);
    vmcs.set(VmcsFieldNatural::kCr4ReadShadow, 0x668);
    // Every bit agevisor's: the guest's view is the read shadow (the tests below that are
    // about bits outside the mask set the masks agevisor really uses).
    vmcs.set(VmcsFieldNatural::kCr0GuestHostMask, ~uint64_t{0});
    vmcs.set(VmcsFieldNatural::kCr4GuestHostMask, ~uint64_t{0});
    vmcs.set(VmcsField64::kGuestEfer, 0x500);
    vcpu.cr0_fixed0 = 0x8000'0021;
    vcpu.cr0_fixed1 = 0xFFFF'FFFF;
    vcpu.cr4_fixed0 = 0x2000;
    vcpu.cr4_fixed1 = 0x3727FF;
    vcpu.supported_xcr0 = 0x7;
    vcpu.apic_id = 5;
  }
  ExitAction exit(BasicExitReason reason) {
    vmcs.set(VmcsField32::kExitReason, static_cast<uint32_t>(reason));
    return hv::handle_exit(vcpu, vmcs, cpu, ept, gprs);
  }
  uint32_t injected() const { return vmcs.read(VmcsField32::kEntryInterruptionInfo); }
  uint64_t rip() const { return vmcs.read(VmcsFieldNatural::kGuestRip); }

  hv::VcpuState vcpu;
  fakes::FakeVmcs vmcs;
  fakes::FakeExitCpu cpu;
  fakes::FakeEpt ept;
  arch::GuestGprs gprs;
};

TEST_F(ExitHandler, CpuidRunsThroughTheGuestFilterAndAdvancesRip) {
  cpu.cpuid_leaves[1] = {0x306A9, 0, (1u << 5) | (1u << 6), 0xBFEBFBFF};
  gprs.rax = 1;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0x306A9u);
  EXPECT_EQ(gprs.rcx, 1u << 31) << "hypervisor bit set, VMX and SMX hidden";
  EXPECT_EQ(rip(), kRip + 3);
  EXPECT_EQ(vcpu.exit_count, 1u);
  EXPECT_EQ(injected(), 0u);
}

TEST_F(ExitHandler, CpuidOsxsaveIsTheGuestsEvenWhenTheHostHasItSet) {
  // The host runs with CR4.OSXSAVE set, so the processor reports OSXSAVE = 1 to the handler.
  cpu.cpuid_leaves[1] = {0x306A9, 0, (1u << 26) | (1u << 27), 0};
  vmcs.set(VmcsFieldNatural::kGuestCr4, 0x2668);
  gprs.rax = 1;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rcx, (1u << 26) | (1u << 31)) << "the guest has CR4.OSXSAVE clear";

  vmcs.set(VmcsFieldNatural::kGuestCr4, 0x2668 | arch::kCr4Osxsave);
  cpu.cpuid_leaves[1].ecx = 1u << 26;  // and the other way round
  gprs.rax = 1;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rcx, (1u << 26) | (1u << 27) | (1u << 31));
}

TEST_F(ExitHandler, VmcallAnswersTheCpuHypercall) {
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kCpu);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, 5u);
  EXPECT_EQ(gprs.rcx, 1u) << "this exit is the first";
  EXPECT_EQ(rip(), kRip + 3);
}

TEST_F(ExitHandler, VmcallFromUserModeIsDeniedButStillCompletes) {
  vmcs.set(VmcsField32::kGuestSsAccessRights, 0xC0F3);  // DPL 3
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kVersion);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kDenied));
}

TEST_F(ExitHandler, VmcallAgeRunsAPassOnTheEptAndReturnsItsCounts) {
  ept.age_counts = {512, 2048, 7};
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kAge);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(ept.passes, 1);
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, 512u);
  EXPECT_EQ(gprs.rcx, 2048u);
  EXPECT_EQ(gprs.rdx, 7u);
  EXPECT_EQ(rip(), kRip + 3);
}

TEST_F(ExitHandler, VmcallAgeWithTrackingOffIsAnUnknownFunction) {
  ept.age_answer = hv::HypercallStatus::kUnknownFunction;
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kAge);
  gprs.rbx = 99;
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kUnknownFunction));
  EXPECT_EQ(gprs.rbx, 99u) << "no counts on failure";
}

TEST_F(ExitHandler, VmcallWorkingSetHandsTheBufferToTheEpt) {
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kWorkingSet);
  gprs.rbx = 0x123000;
  gprs.rcx = 4096;
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  ASSERT_EQ(ept.working_set_copies.size(), 1u);
  EXPECT_EQ(ept.working_set_copies[0], std::make_pair(uint64_t{0x123000}, uint64_t{4096}));
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, sizeof(hv::WorkingSetReport));
}

TEST_F(ExitHandler, VmcallLogCopiesTheRingThroughTheService) {
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLog);
  gprs.rbx = 0x8000;
  gprs.rcx = 4096;
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  ASSERT_EQ(ept.log_copies.size(), 1u);
  EXPECT_EQ(ept.log_copies[0], std::make_pair(uint64_t{0x8000}, uint64_t{4096}));
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, 2048u);
}

TEST_F(ExitHandler, PreemptionTimerRunsAnAgingSliceAndReloadsTheTimer) {
  ept.timer_reload = 123456;
  EXPECT_EQ(exit(BasicExitReason::kPreemptionTimer), ExitAction::kResume);
  EXPECT_EQ(ept.timer_ticks, 1);
  EXPECT_EQ(vmcs.read(VmcsField32::kPreemptionTimerValue), 123456u);
  EXPECT_EQ(rip(), kRip) << "no instruction to skip";
  EXPECT_EQ(injected(), 0u);
}

// Exit qualification of an I/O instruction: size, direction, port in DX.
uint64_t io_qualification(unsigned size, bool in, uint16_t port) {
  return (size - 1) | (in ? 8u : 0u) | (uint64_t{port} << 16);
}

TEST_F(ExitHandler, SleepEntryOnPm1ControlIsReportedThenDone) {
  vcpu.sleep_ports = {0x604, 0};
  vmcs.set(VmcsFieldNatural::kExitQualification, io_qualification(2, false, 0x604));
  gprs.rax = 0xFFFF'0000'0000'0000 | 0x2000 | (5u << 10);  // SLP_EN, SLP_TYP 5
  EXPECT_EQ(exit(BasicExitReason::kIoInstruction), ExitAction::kAdvance);
  ASSERT_EQ(cpu.sleep_entries.size(), 1u);
  EXPECT_EQ(cpu.sleep_entries[0], 5u);
  ASSERT_EQ(cpu.port_writes.size(), 1u);
  EXPECT_EQ(cpu.port_writes[0], (std::array<uint32_t, 3>{0x604, 2, 0x2000 | (5u << 10)}));
}

TEST_F(ExitHandler, OtherPm1WritesAndReadsAreJustDone) {
  vcpu.sleep_ports = {0x604, 0};
  vmcs.set(VmcsFieldNatural::kExitQualification, io_qualification(2, false, 0x604));
  gprs.rax = 1;  // SCI_EN only
  EXPECT_EQ(exit(BasicExitReason::kIoInstruction), ExitAction::kAdvance);
  EXPECT_TRUE(cpu.sleep_entries.empty());
  EXPECT_EQ(cpu.port_writes.size(), 1u);
  cpu.port_values[0x604] = 0xABCD;
  vmcs.set(VmcsFieldNatural::kExitQualification, io_qualification(2, true, 0x604));
  gprs.rax = 0x1111'2222'3333'4444;
  EXPECT_EQ(exit(BasicExitReason::kIoInstruction), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0x1111'2222'3333'ABCDu) << "a 16-bit IN keeps the rest of RAX";
  vmcs.set(VmcsFieldNatural::kExitQualification, io_qualification(4, true, 0x604));
  EXPECT_EQ(exit(BasicExitReason::kIoInstruction), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0xABCDu) << "a 32-bit IN clears RAX[63:32]";
}

TEST_F(ExitHandler, StringIoOnAnInterceptedPortHalts) {
  vmcs.set(VmcsFieldNatural::kExitQualification, io_qualification(2, false, 0x604) | 0x10);
  EXPECT_EQ(exit(BasicExitReason::kIoInstruction), ExitAction::kHalt);
  EXPECT_TRUE(cpu.port_writes.empty());
}

TEST_F(ExitHandler, BadXsetbvInjectsGpAndLeavesRip) {
  gprs.rax = 0x5;  // x87 + AVX without SSE
  EXPECT_EQ(exit(BasicExitReason::kXsetbv), ExitAction::kInjected);
  EXPECT_EQ(injected(), kGpInjection);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryExceptionErrorCode), 0u);
  EXPECT_EQ(rip(), kRip);
  EXPECT_TRUE(cpu.xsetbv_calls.empty());
  gprs.rax = 0x7;
  EXPECT_EQ(exit(BasicExitReason::kXsetbv), ExitAction::kAdvance);
  ASSERT_EQ(cpu.xsetbv_calls.size(), 1u);
  EXPECT_EQ(cpu.xsetbv_calls[0].second, 0x7u);
}

TEST_F(ExitHandler, RdmsrReturnsEdxEaxOrTheHostsGp) {
  cpu.msrs[0x4000'0123] = 0x1122'3344'5566'7788;
  gprs.rcx = 0x4000'0123;
  EXPECT_EQ(exit(BasicExitReason::kRdmsr), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0x5566'7788u);
  EXPECT_EQ(gprs.rdx, 0x1122'3344u);
  gprs.rcx = 0x4000'0999;  // the host's RDMSR faults
  EXPECT_EQ(exit(BasicExitReason::kRdmsr), ExitAction::kInjected);
  EXPECT_EQ(injected(), kGpInjection);
}

TEST_F(ExitHandler, VmxCapabilityMsrsDoNotExistForTheGuest) {
  cpu.msrs[0x480] = 0xD810000000002B;
  gprs.rcx = 0x480;
  EXPECT_EQ(exit(BasicExitReason::kRdmsr), ExitAction::kInjected);
  EXPECT_EQ(injected(), kGpInjection);
  EXPECT_EQ(exit(BasicExitReason::kWrmsr), ExitAction::kInjected);
  EXPECT_TRUE(cpu.wrmsr_calls.empty());
}

TEST_F(ExitHandler, MtrrWritesAreExecutedAndCounted) {
  vcpu.msr_policy = {8, true};
  cpu.msrs[0x2FF] = 0xC06;
  gprs.rcx = 0x2FF;
  gprs.rax = 0xC06;
  EXPECT_EQ(exit(BasicExitReason::kWrmsr), ExitAction::kAdvance);
  EXPECT_EQ(cpu.msrs[0x2FF], 0xC06u);
  EXPECT_EQ(vcpu.mtrr_writes, 1u);
  EXPECT_EQ(ept.mtrr_writes, 1) << "the EPT follows the new MTRR types";
  ept.retype_ok = false;
  EXPECT_EQ(exit(BasicExitReason::kWrmsr), ExitAction::kHalt)
      << "stale memory types are not something to run on";
}

TEST_F(ExitHandler, EptViolationsGoToTheEptAndTheGuestRetries) {
  vmcs.set(VmcsField64::kGuestPhysicalAddress, 0x20'1234);
  vmcs.set(VmcsFieldNatural::kExitQualification, 0x1);
  EXPECT_EQ(exit(BasicExitReason::kEptViolation), ExitAction::kResume);
  ASSERT_EQ(ept.violations.size(), 1u);
  EXPECT_EQ(ept.violations[0].first, 0x20'1234u);
  EXPECT_EQ(rip(), kRip) << "the faulting access runs again";
  ept.answer = hv::EptFaultResult::kDenied;
  EXPECT_EQ(exit(BasicExitReason::kEptViolation), ExitAction::kHalt);
}

TEST_F(ExitHandler, EventInterruptedByAnEptViolationIsRedelivered) {
  // An external interrupt's delivery touched a tracked page (the IDT or the stack).
  vmcs.set(VmcsField32::kIdtVectoringInfo, 0x8000'0030);
  EXPECT_EQ(exit(BasicExitReason::kEptViolation), ExitAction::kResume);
  EXPECT_EQ(injected(), 0x8000'0030u);
}

TEST_F(ExitHandler, VmxInstructionsAndGetsecRaiseUd) {
  for (auto reason :
       {BasicExitReason::kVmxon, BasicExitReason::kVmclear, BasicExitReason::kVmlaunch,
        BasicExitReason::kVmresume, BasicExitReason::kVmptrld, BasicExitReason::kVmptrst,
        BasicExitReason::kVmread, BasicExitReason::kVmwrite, BasicExitReason::kVmxoff,
        BasicExitReason::kInvept, BasicExitReason::kInvvpid, BasicExitReason::kVmfunc,
        BasicExitReason::kGetsec}) {
    EXPECT_EQ(exit(reason), ExitAction::kInjected)
        << arch::exit_reason_name(static_cast<uint32_t>(reason));
    EXPECT_EQ(injected(), kUdInjection);
    EXPECT_EQ(rip(), kRip);
  }
}

TEST_F(ExitHandler, InvdBecomesWbinvd) {
  EXPECT_EQ(exit(BasicExitReason::kInvd), ExitAction::kAdvance);
  EXPECT_EQ(cpu.wbinvd_calls, 1);
}

TEST_F(ExitHandler, AdvancingRipEndsStiShadowAndPendsSingleStep) {
  vmcs.set(VmcsField32::kGuestInterruptibilityState, arch::interruptibility::kBlockingBySti);
  vmcs.set(VmcsFieldNatural::kGuestRflags, 0x302);  // TF
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), 0u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestPendingDebugExceptions), arch::pending_debug::kBs);
}

TEST_F(ExitHandler, RipWrapsAt4GiBOutside64BitCode) {
  vmcs.set(VmcsField32::kEntryControls, 0);
  vmcs.set(VmcsField32::kGuestCsAccessRights, 0xC09B);
  vmcs.set(VmcsFieldNatural::kGuestRip, 0xFFFF'FFFE);
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(rip(), 0x1u);
}

TEST_F(ExitHandler, TripleFaultResetsAndUnknownExitsHalt) {
  EXPECT_EQ(exit(BasicExitReason::kTripleFault), ExitAction::kReset);
  EXPECT_EQ(exit(BasicExitReason::kHlt), ExitAction::kHalt);
  EXPECT_EQ(exit(BasicExitReason::kEptMisconfiguration), ExitAction::kHalt);
  EXPECT_TRUE(ept.violations.empty()) << "a misconfiguration is never resolved";
  EXPECT_EQ(rip(), kRip) << "nothing moves on the way to a halt";
}

TEST_F(ExitHandler, FailedEntryIsReportedBeforeAnythingElse) {
  vmcs.set(VmcsField32::kExitReason, 0x8000'0021u);
  EXPECT_EQ(hv::handle_exit(vcpu, vmcs, cpu, ept, gprs), ExitAction::kEntryFailed);
  EXPECT_FALSE(vmcs.written(VmcsField32::kEntryInterruptionInfo));
}

TEST_F(ExitHandler, EnablingPagingWithLmeEntersIa32eMode) {
  vmcs.set(VmcsField32::kEntryControls, 0);
  vmcs.set(VmcsField32::kGuestCsAccessRights, 0xC09B);
  vmcs.set(VmcsFieldNatural::kCr0ReadShadow, 0x11);   // protected mode, no paging
  vmcs.set(VmcsFieldNatural::kCr4ReadShadow, 0x20);   // PAE
  vmcs.set(VmcsField64::kGuestEfer, 0x100);           // LME
  vmcs.set(VmcsFieldNatural::kExitQualification, 0);  // MOV to CR0 from RAX
  gprs.rax = 0x8000'0011;
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kAdvance);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr0ReadShadow), 0x8000'0011u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr0), 0x8000'0031u) << "NE forced";
  EXPECT_EQ(vmcs.read(VmcsField64::kGuestEfer), 0x500u) << "LMA set";
  EXPECT_NE(vmcs.read(VmcsField32::kEntryControls) & arch::entry_ctls::kIa32eModeGuest, 0u);
}

// The AP start-up path of edk2 (and of any OS): CR4.PAE is set while paging is off, which is
// outside agevisor's CR4 mask and does not exit, so only the guest's CR4 has it; then the
// MOV to CR0 that turns paging on exits. It must see PAE and enter IA-32e mode, not raise
// #GP (which, with no IDT yet, was a triple fault on Bochs 3.0).
TEST_F(ExitHandler, PagingOnSeesCr4BitsThatChangedWithoutAnExit) {
  const uint64_t cr0_mask = 0x8000'0021 | 0xFFFF'FFFF'0000'0000 | 1;  // forced, PE, PG
  const uint64_t cr4_mask = 0x2000 | ~uint64_t{0x3727FF};             // forced
  vmcs.set(VmcsFieldNatural::kCr0GuestHostMask, cr0_mask);
  vmcs.set(VmcsFieldNatural::kCr4GuestHostMask, cr4_mask);
  vmcs.set(VmcsField32::kEntryControls, 0);
  vmcs.set(VmcsField32::kGuestCsAccessRights, 0xC09B);
  vmcs.set(VmcsFieldNatural::kCr0ReadShadow, 0x11);   // after INIT and PE: ET, PE
  vmcs.set(VmcsFieldNatural::kGuestCr0, 0x33);        // NE forced, MP set without an exit
  vmcs.set(VmcsFieldNatural::kCr4ReadShadow, 0);      // INIT's CR4 view
  vmcs.set(VmcsFieldNatural::kGuestCr4, 0x2020);      // PAE set without an exit, VMXE forced
  vmcs.set(VmcsField64::kGuestEfer, 0x900);           // NXE, LME (WRMSR, not intercepted)
  vmcs.set(VmcsFieldNatural::kExitQualification, 0);  // MOV to CR0 from RAX
  gprs.rax = 0x8000'0013;
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kAdvance);
  EXPECT_EQ(injected(), 0u) << "no #GP: PAE is on in the guest's CR4";
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr0ReadShadow), 0x8000'0013u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr0), 0x8000'0033u);
  EXPECT_EQ(vmcs.read(VmcsField64::kGuestEfer), 0xD00u) << "LMA set";
  EXPECT_NE(vmcs.read(VmcsField32::kEntryControls) & arch::entry_ctls::kIa32eModeGuest, 0u);
}

TEST_F(ExitHandler, LmswKeepsCr0BitsThatChangedWithoutAnExit) {
  // CR0.WP (outside the mask) was cleared by the guest without an exit: the shadow still
  // has it. LMSW replaces bits 3:0 only; WP must stay clear.
  const uint64_t cr0_mask = 0x8000'0021 | 0xFFFF'FFFF'0000'0000 | 1;
  vmcs.set(VmcsFieldNatural::kCr0GuestHostMask, cr0_mask);
  vmcs.set(VmcsFieldNatural::kCr0ReadShadow, 0x8001'0033);  // stale: WP set
  vmcs.set(VmcsFieldNatural::kGuestCr0, 0x8000'0033);       // the guest's: WP clear
  // LMSW with source 0x1 (PE): exit qualification access type 3, source in bits 31:16.
  vmcs.set(VmcsFieldNatural::kExitQualification, (3u << 4) | (0x1u << 16));
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kAdvance);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr0ReadShadow), 0x8000'0031u)
      << "WP clear as the guest left it; MP cleared by LMSW's source";
}

TEST_F(ExitHandler, SettingCr4VmxeRaisesGp) {
  vmcs.set(VmcsFieldNatural::kExitQualification, 0x4 | (1u << 8));  // MOV to CR4 from RCX
  gprs.rcx = 0x668 | 0x2000;
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kInjected);
  EXPECT_EQ(injected(), kGpInjection);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kCr4ReadShadow), 0x668u);
}

TEST_F(ExitHandler, Cr4WriteThatNeedsATlbFlushInvalidatesTheVpid) {
  vmcs.set(VmcsField32::kSecondaryProcbasedControls, arch::proc_based2::kVpid);
  vmcs.set(VmcsField16::kVpid, 1);
  vmcs.set(VmcsFieldNatural::kCr4ReadShadow, 0x6E8);    // PGE set
  vmcs.set(VmcsFieldNatural::kExitQualification, 0x4);  // MOV to CR4 from RAX
  gprs.rax = 0x668;                                     // clear PGE: flushes global entries
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kAdvance);
  ASSERT_EQ(cpu.invvpid_calls.size(), 1u);
  EXPECT_EQ(cpu.invvpid_calls[0], 1u);
  EXPECT_EQ(vmcs.read(VmcsFieldNatural::kGuestCr4), 0x668u | 0x2000u);
  gprs.rax = 0x668 | 0x4;  // TSD: nothing to flush
  EXPECT_EQ(exit(BasicExitReason::kCrAccess), ExitAction::kAdvance);
  EXPECT_EQ(cpu.invvpid_calls.size(), 1u);
}

TEST_F(ExitHandler, EventCutShortByTheExitIsDeliveredAgain) {
  // A #PF with error code was being delivered when the exit happened.
  vmcs.set(VmcsField32::kIdtVectoringInfo, 0x8000'0B0E);
  vmcs.set(VmcsField32::kIdtVectoringErrorCode, 0x2);
  vcpu.cpuid_policy = {};
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(injected(), 0x8000'0B0Eu);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryExceptionErrorCode), 0x2u);
}

TEST_F(ExitHandler, SoftwareInterruptIsReinjectedWithItsLength) {
  vmcs.set(VmcsField32::kIdtVectoringInfo, 0x8000'0480);  // INT 0x80, software interrupt
  hv::exits::redeliver_interrupted_event(vmcs, arch::ExitReason::from_raw(48));
  EXPECT_EQ(injected(), 0x8000'0480u);
  EXPECT_EQ(vmcs.read(VmcsField32::kEntryInstructionLength), 3u);
}

TEST_F(ExitHandler, NmiUnblockedByIretIsBlockedAgain) {
  vmcs.set(VmcsFieldNatural::kExitQualification, 1u << 12);
  hv::exits::redeliver_interrupted_event(vmcs, arch::ExitReason::from_raw(48));
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState),
            arch::interruptibility::kBlockingByNmi);
}

TEST_F(ExitHandler, HostNmiIsInjectedWhenTheGuestCanTakeIt) {
  vcpu.nmi_pending = true;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(injected(), 0x8000'0202u) << "valid, NMI, vector 2";
  EXPECT_FALSE(vcpu.nmi_pending);
}

TEST_F(ExitHandler, HostNmiWaitsWhileBlockedOrAnotherEventIsQueued) {
  vcpu.nmi_pending = true;
  vmcs.set(VmcsField32::kGuestInterruptibilityState, arch::interruptibility::kBlockingByNmi);
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(injected(), 0u);
  EXPECT_TRUE(vcpu.nmi_pending);

  vmcs.set(VmcsField32::kGuestInterruptibilityState, 0);
  gprs.rcx = 0x480;
  EXPECT_EQ(exit(BasicExitReason::kRdmsr), ExitAction::kInjected);
  EXPECT_EQ(injected(), kGpInjection) << "the #GP goes first";
  EXPECT_TRUE(vcpu.nmi_pending);

  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_EQ(injected(), 0x8000'0202u);
  EXPECT_FALSE(vcpu.nmi_pending);
}

}  // namespace

namespace {

constexpr uint32_t kNmiExitInfo = 0x8000'0202;  // valid, NMI, vector 2

TEST_F(ExitHandler, AnNmiExitThatWasAFlushRequestIsConsumed) {
  ept.flush_nmis = 1;
  vmcs.set(VmcsField32::kExitInterruptionInfo, kNmiExitInfo);
  vmcs.set(VmcsField32::kGuestInterruptibilityState, arch::interruptibility::kBlockingByNmi);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kResume);
  EXPECT_FALSE(vcpu.nmi_pending);
  EXPECT_EQ(injected(), 0u) << "the guest never sees agevisor's own IPI";
  EXPECT_EQ(rip(), kRip);
  EXPECT_EQ(ept.syncs, 1) << "the flush it asked for runs before the entry";
  EXPECT_EQ(cpu.nmi_unblocks, 1) << "the next NMI may reach VMX root again";
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState), 0u)
      << "nor is the guest left blocking the next one (Bochs 2.7 saves the bit)";
}

TEST_F(ExitHandler, AnNmiExitThatWasTheGuestsIsInjectedBack) {
  vmcs.set(VmcsField32::kExitInterruptionInfo, kNmiExitInfo);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kResume);
  EXPECT_EQ(injected(), 0x8000'0202u) << "valid, type NMI, vector 2";
  EXPECT_FALSE(vcpu.nmi_pending);
  EXPECT_EQ(rip(), kRip);
}

TEST_F(ExitHandler, AnExceptionExitIsNotExpected) {
  vmcs.set(VmcsField32::kExitInterruptionInfo, kGpInjection);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kHalt)
      << "the exception bitmap is empty: only NMIs exit with reason 0";
}

TEST_F(ExitHandler, EveryResumedExitEndsWithTheFlushThisCpuOwes) {
  cpu.cpuid_leaves[1] = {0x306A9, 0, 0, 0};
  gprs.rax = 1;
  exit(BasicExitReason::kCpuid);
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kVersion);
  exit(BasicExitReason::kVmcall);
  exit(BasicExitReason::kEptViolation);
  EXPECT_EQ(ept.syncs, 3);
  ept.answer = hv::EptFaultResult::kFailed;
  EXPECT_EQ(exit(BasicExitReason::kEptViolation), ExitAction::kHalt);
  EXPECT_EQ(ept.syncs, 3) << "a CPU that halts does not enter again";
}

TEST_F(ExitHandler, FlushHypercallGoesToTheEptService) {
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kFlush);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(ept.flush_alls, 1);
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_EQ(gprs.rbx, 2u);
  EXPECT_EQ(gprs.rcx, 7u);
}

TEST_F(ExitHandler, LeaveTakesEveryCpuOutOnlyWhileStartUpAllowsIt) {
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLeave);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kDenied))
      << "after start-up nobody can switch agevisor off";
  EXPECT_EQ(rip(), kRip + 3);
  EXPECT_EQ(ept.leave_requests, 0);

  ept.leave_open = true;
  vmcs.set(VmcsField32::kGuestSsAccessRights, 0xC0F3);  // CPL 3
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLeave);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kDenied)) << "not from CPL 3";
  EXPECT_EQ(ept.leave_requests, 0);

  vmcs.set(VmcsField32::kGuestSsAccessRights, 0xC093);
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLeave);
  const uint64_t before = rip();
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kLeave);
  EXPECT_EQ(ept.leave_requests, 1) << "every CPU is asked";
  EXPECT_EQ(gprs.rax, 0u) << "the caller sees success once it runs natively";
  EXPECT_EQ(rip(), before + 3) << "it continues past VMCALL";
}

TEST_F(ExitHandler, ACpuThatWouldNotLeaveKeepsTheCallerInVmx) {
  // Freeing agevisor's memory under a CPU still in VMX would be fatal: the caller stays.
  ept.leave_open = true;
  ept.others_leave = false;
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLeave);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kTimedOut));
  EXPECT_EQ(ept.leave_requests, 1);
}

TEST_F(ExitHandler, StartupDoneClosesTheLeaveHypercall) {
  ept.leave_open = true;
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kStartupDone);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, 0u);
  EXPECT_FALSE(ept.leave_open);
  gprs.rax = static_cast<uint64_t>(hv::Hypercall::kLeave);
  EXPECT_EQ(exit(BasicExitReason::kVmcall), ExitAction::kAdvance);
  EXPECT_EQ(gprs.rax, static_cast<uint64_t>(hv::HypercallStatus::kDenied));
  EXPECT_EQ(ept.leave_requests, 0);
}

TEST_F(ExitHandler, AnotherCpusLeaveRequestEndsAnyExitWithLeave) {
  // The NMI that carries it is agevisor's own: not injected; the exit completes first.
  ept.flush_nmis = 1;
  ept.leave_flag = true;
  vmcs.set(VmcsField32::kExitInterruptionInfo, kNmiExitInfo);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kLeave);
  EXPECT_EQ(injected(), 0u);
  EXPECT_EQ(rip(), kRip) << "it continues natively where the NMI interrupted it";
  cpu.cpuid_leaves[1] = {0x306A9, 0, 0, 0};
  gprs.rax = 1;
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kLeave);
  EXPECT_EQ(rip(), kRip + 3) << "an exit handled in full before leaving";
}

}  // namespace

namespace {

// More than one CPU: NMI exiting with virtual NMIs. The guest's NMI blocking is the
// processor's virtual one (injection sets it, the guest's IRET clears it).
TEST_F(ExitHandler, WithVirtualNmisAnNmiForABlockedGuestWaitsForTheNmiWindow) {
  vcpu.virtual_nmis = true;
  vmcs.set(VmcsField32::kExitInterruptionInfo, kNmiExitInfo);
  vmcs.set(VmcsField32::kGuestInterruptibilityState, arch::interruptibility::kBlockingByNmi);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kResume);
  EXPECT_EQ(injected(), 0u) << "the guest still runs its NMI handler";
  EXPECT_TRUE(vcpu.nmi_pending);
  EXPECT_EQ(vmcs.read(VmcsField32::kGuestInterruptibilityState),
            arch::interruptibility::kBlockingByNmi)
      << "virtual blocking is the guest's: kept";
  EXPECT_NE(vmcs.read(VmcsField32::kProcbasedControls) & arch::proc_based::kNmiWindowExiting, 0u)
      << "the exit at which it can go in is asked for";

  // The guest's IRET ended the blocking: the NMI-window exit injects it.
  vmcs.set(VmcsField32::kGuestInterruptibilityState, 0);
  EXPECT_EQ(exit(BasicExitReason::kNmiWindow), ExitAction::kResume);
  EXPECT_EQ(injected(), 0x8000'0202u);
  EXPECT_FALSE(vcpu.nmi_pending);
  EXPECT_EQ(vmcs.read(VmcsField32::kProcbasedControls) & arch::proc_based::kNmiWindowExiting, 0u);
}

TEST_F(ExitHandler, WithVirtualNmisAnNmiForAnOpenGuestGoesInAtOnce) {
  vcpu.virtual_nmis = true;
  vmcs.set(VmcsField32::kExitInterruptionInfo, kNmiExitInfo);
  EXPECT_EQ(exit(BasicExitReason::kExceptionOrNmi), ExitAction::kResume);
  EXPECT_EQ(injected(), 0x8000'0202u);
  EXPECT_FALSE(vcpu.nmi_pending);
  EXPECT_EQ(vmcs.read(VmcsField32::kProcbasedControls) & arch::proc_based::kNmiWindowExiting, 0u);
}

TEST_F(ExitHandler, WithoutVirtualNmisNoNmiWindowIsAskedFor) {
  // One CPU: NMI exiting (and so virtual NMIs) is off; an NMI that hit VMX root waits.
  vcpu.nmi_pending = true;
  vmcs.set(VmcsField32::kGuestInterruptibilityState, arch::interruptibility::kBlockingByNmi);
  gprs.rax = 0;
  cpu.cpuid_leaves[0] = {1, 0, 0, 0};
  EXPECT_EQ(exit(BasicExitReason::kCpuid), ExitAction::kAdvance);
  EXPECT_TRUE(vcpu.nmi_pending);
  EXPECT_EQ(vmcs.read(VmcsField32::kProcbasedControls) & arch::proc_based::kNmiWindowExiting, 0u);
}

}  // namespace
