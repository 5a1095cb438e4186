#include <gtest/gtest.h>

#include "hv/event_redelivery.h"
#include "hv/rip_advance.h"

namespace {

using arch::InterruptionInfo;
using arch::InterruptionType;
namespace intr = arch::interruptibility;

TEST(EventRedelivery, NothingToDoWithoutValidIdtVectoringInfo) {
  auto r = hv::plan_event_redelivery(InterruptionInfo::from_raw(0x00000B0E), 0x1234, 3, false);
  EXPECT_FALSE(r.inject);
  EXPECT_FALSE(r.clear_nmi_blocking);
  EXPECT_FALSE(r.set_nmi_blocking);
}

TEST(EventRedelivery, PageFaultIsReinjectedWithItsErrorCodeAndNoLength) {
  auto r = hv::plan_event_redelivery(InterruptionInfo::from_raw(0x80000B0E), 0x6, 5, false);
  ASSERT_TRUE(r.inject);
  EXPECT_EQ(r.entry_info.raw(), 0x80000B0Eu);
  EXPECT_EQ(r.error_code, 0x6u);
  EXPECT_EQ(r.instruction_length, 0u);
  EXPECT_FALSE(r.clear_nmi_blocking);
}

TEST(EventRedelivery, ExternalInterruptDropsTheStaleErrorCode) {
  auto r = hv::plan_event_redelivery(InterruptionInfo::from_raw(0x80000020), 0xDEAD, 2, false);
  ASSERT_TRUE(r.inject);
  EXPECT_EQ(r.entry_info.type(), InterruptionType::kExternalInterrupt);
  EXPECT_EQ(r.entry_info.vector(), 0x20);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(r.instruction_length, 0u);
}

TEST(EventRedelivery, SoftwareEventsCarryTheInstructionLength) {
  for (uint32_t raw :
       {0x80000480u /* INT 0x80 */, 0x80000603u /* INT3 */, 0x80000501u /* INT1 */}) {
    auto r = hv::plan_event_redelivery(InterruptionInfo::from_raw(raw), 0, 2, false);
    ASSERT_TRUE(r.inject);
    EXPECT_EQ(r.instruction_length, 2u) << std::hex << raw;
  }
}

TEST(EventRedelivery, ReinjectedNmiClearsNmiBlockingAndReservedBitsAreDropped) {
  // Bit 12 set as garbage: undefined in IDT-vectoring info, reserved on entry.
  auto r = hv::plan_event_redelivery(InterruptionInfo::from_raw(0x80001202), 0, 0, true);
  ASSERT_TRUE(r.inject);
  EXPECT_EQ(r.entry_info.raw(), 0x80000202u);
  EXPECT_TRUE(r.clear_nmi_blocking);
  EXPECT_FALSE(r.set_nmi_blocking) << "an event was being delivered: bit 12 does not apply";
}

TEST(EventRedelivery, NmiUnblockingDueToIretRestoresBlocking) {
  auto r = hv::plan_event_redelivery(InterruptionInfo{}, 0, 0, true);
  EXPECT_FALSE(r.inject);
  EXPECT_TRUE(r.set_nmi_blocking);
}

TEST(RipAdvance, MovesRipAndEndsStiAndMovSsBlocking) {
  hv::GuestStep s{0x1000, 0x2, intr::kBlockingBySti | intr::kBlockingByMovSs | intr::kBlockingByNmi,
                  0, true};
  hv::GuestStep next = hv::advance_rip(s, 3);
  EXPECT_EQ(next.rip, 0x1003u);
  EXPECT_EQ(next.interruptibility, intr::kBlockingByNmi) << "NMI blocking is not ours to end";
  EXPECT_EQ(next.pending_debug_exceptions, 0u);
}

TEST(RipAdvance, TrapFlagMakesASingleStepPending) {
  hv::GuestStep s{0x1000, 0x102, 0, 0x1, true};
  hv::GuestStep next = hv::advance_rip(s, 2);
  EXPECT_EQ(next.pending_debug_exceptions, 0x1u | arch::pending_debug::kBs);
}

TEST(RipAdvance, WrapsAt4GiBOutside64BitCode) {
  EXPECT_EQ(hv::advance_rip({0xFFFF'FFFE, 0x2, 0, 0, false}, 4).rip, 0x2u);
  EXPECT_EQ(hv::advance_rip({0xFFFF'FFFE, 0x2, 0, 0, true}, 4).rip, 0x1'0000'0002u);
}

}  // namespace
