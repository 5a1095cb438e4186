#include "hv/host_tables.h"

#include <gtest/gtest.h>

#include <cstring>

#include "hv/guest_capture.h"

namespace {

TEST(HostTables, GdtHoldsFlatCodeDataAndA16ByteTss) {
  constexpr uint64_t kTss = 0xFFFF'8000'1234'5000;
  const hv::HostGdt gdt = hv::make_host_gdt(kTss);
  EXPECT_EQ(gdt.entries[0].raw(), 0u) << "slot 0 is the null descriptor";
  EXPECT_EQ(gdt.entries[hv::kHostCodeSelector >> 3].raw(), 0x00AF'9B00'0000'FFFFu);
  EXPECT_EQ(gdt.entries[hv::kHostDataSelector >> 3].raw(), 0x00CF'9300'0000'FFFFu);

  // Reading the TSS back through the same path the guest capture uses proves the encoding.
  const hv::DescriptorTableView view{reinterpret_cast<const uint64_t*>(gdt.entries),
                                     sizeof(gdt) - 1};
  const auto tss = hv::capture_segment(view, hv::kHostTssSelector);
  ASSERT_TRUE(tss.ok());
  EXPECT_EQ(tss.value().base, kTss);
  EXPECT_EQ(tss.value().limit, arch::kTss64Limit);
  EXPECT_EQ(tss.value().type(), 9u) << "available until LTR marks it busy";
  EXPECT_FALSE(tss.value().s());
  EXPECT_TRUE(tss.value().present());
  for (size_t i = 3; i < (hv::kHostTssSelector >> 3); ++i)
    EXPECT_EQ(gdt.entries[i].raw(), 0u) << "slot " << i;
}

TEST(HostTables, TheTssSelectorLiesBeyondAFirmwareGdtWithoutTss) {
  // edk2 reloads a CPU's saved TR at its next wake-up only below its GDT's limit; OVMF's
  // GDT ends at 0x47. A CPU that left VMX keeps this selector.
  EXPECT_GT(hv::kHostTssSelector, 0x200);
  EXPECT_EQ(hv::kHostTssSelector + 16u, sizeof(hv::HostGdt)) << "the last two slots";
}

TEST(HostTables, FaultsThatMayArriveOnABrokenStackUseTheirOwnIst) {
  EXPECT_EQ(hv::host_ist_for_vector(2), hv::HostIst::kNmi);
  EXPECT_EQ(hv::host_ist_for_vector(8), hv::HostIst::kDoubleFault);
  EXPECT_EQ(hv::host_ist_for_vector(18), hv::HostIst::kMachineCheck);
  for (unsigned v : {0u, 1u, 3u, 6u, 13u, 14u, 32u, 255u}) {
    EXPECT_EQ(hv::host_ist_for_vector(v), hv::HostIst::kNone) << "vector " << v;
  }
}

TEST(HostTables, GateEncodesTheFullHandlerAddress) {
  constexpr uint64_t kHandler = 0xFFFF'F123'4567'89AB;
  const auto gate = hv::make_host_gate(8, kHandler);
  EXPECT_EQ(gate.offset(), kHandler);
  EXPECT_EQ(gate.selector, hv::kHostCodeSelector);
  EXPECT_EQ(gate.ist, 1u);
  EXPECT_TRUE(gate.present());
  EXPECT_EQ(gate.type_attr & 0xF, 0xE) << "interrupt gate: IF is cleared on entry";
}

TEST(HostTables, TssLayoutMatchesTheSdm) {
  arch::Tss64 tss;
  tss.ist[0] = 0x1111;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&tss);
  uint64_t ist1 = 0;
  std::memcpy(&ist1, bytes + 0x24, sizeof(ist1));
  EXPECT_EQ(ist1, 0x1111u);
  EXPECT_EQ(tss.io_map_base, sizeof(arch::Tss64)) << "no I/O permission bitmap";
}

}  // namespace
