// The exit path's view of the EPT over host memory: access-tracked RAM restored on the
// first access, hypervisor memory refused, on-demand mapping above the eager top, splits
// when the resolver asks for them, and retyping after an MTRR write.
#include "hv/ept_context.h"

#include <gtest/gtest.h>

#include <vector>

#include "fakes/fake_msr_io.h"
#include "fakes/host_table_memory.h"
#include "hv/mtrr_reader.h"
#include "mm/ept_sw_bits.h"
#include "mtrr_layout.h"

namespace {

using arch::Gpa;
using arch::MemoryType;
using hv::EptFaultResult;
using mm::MemoryKind;
using mm::MemoryRange;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = uint64_t{1} << 20;

MemoryRange range(uint64_t start, uint64_t end, MemoryKind kind) {
  return MemoryRange{Gpa(start), (end - start) / kPage, kind};
}

// A Bochs-like machine: 256 MiB of RAM with the legacy hole, agevisor's region inside RAM.
const std::vector<MemoryRange> kMachine = {
    range(0, 0xA0000, MemoryKind::kRam),
    range(0xA0000, 0x100000, MemoryKind::kReserved),
    range(0x100000, 0x0F00'0000, MemoryKind::kRam),
    range(0x0F00'0000, 0x0F20'0000, MemoryKind::kHypervisor),
    range(0x0F20'0000, 0x1000'0000, MemoryKind::kRam),
    range(0xFEE0'0000, 0xFEE0'1000, MemoryKind::kMmio),
};

mm::MtrrMsrs machine_msrs(MemoryType low_type = MemoryType::kWriteBack) {
  mm_test::MtrrLayout l(36);
  l.cap(8).def(MemoryType::kWriteBack).fixed(0, 0xA0000, low_type);
  l.fixed(0xA0000, 0xC0000, MemoryType::kUncacheable);
  l.fixed(0xC0000, 0x100000, MemoryType::kWriteProtected);
  l.range(0, 0xC000'0000, uint64_t{1} << 30, MemoryType::kUncacheable);
  return l.msrs();
}

arch::EptViolationQualification access(bool read, bool write, bool fetch) {
  arch::EptViolationQualification q;
  q.read = read;
  q.write = write;
  q.fetch = fetch;
  return q;
}

class EptContext : public ::testing::Test {
 protected:
  void SetUp() override {
    caps = arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 36);
    mtrrs = mm::MtrrState::from_msrs(machine_msrs()).value();
    mm::IdentityMapSpec spec{kMachine.data(), kMachine.size(), &mtrrs, caps};
    spec.ram_state = mm::RamInitialState::kTracked;
    spec.max_ram_page = arch::kPageSize2M;
    ept.memory = &memory;
    ept.map = mm::build_identity_map(memory, spec).value();
    ept.mtrrs = mtrrs;
    ept.caps = caps;
  }
  arch::EptEntry leaf(uint64_t gpa) {
    return mm::walk(memory, ept.map.root, Gpa(gpa)).value().entry;
  }

  mm_test::HostTableMemory memory{1 << 12};
  arch::EptCapabilities caps;
  mm::MtrrState mtrrs;
  hv::EptContext<mm_test::HostTableMemory> ept;
};

TEST_F(EptContext, FirstAccessToTrackedRamRestoresItAndASecondIsSpurious) {
  ASSERT_TRUE(mm::is_tracked(leaf(0x20'0000)));
  auto fault = hv::resolve_ept_violation(ept, Gpa(0x20'1234), access(true, false, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_EQ(leaf(0x20'0000).rwx(), 0b101u) << "R and X back, W only on a write";
  EXPECT_EQ(ept.stats.access_restored, 1u);
  fault = hv::resolve_ept_violation(ept, Gpa(0x20'1234), access(true, false, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_EQ(ept.stats.spurious, 1u) << "another CPU (or a stale TLB) already fixed it";
  fault = hv::resolve_ept_violation(ept, Gpa(0x20'1234), access(false, true, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_EQ(leaf(0x20'0000).rwx(), 0b111u);
  EXPECT_EQ(ept.stats.write_restored, 1u);
}

TEST_F(EptContext, HypervisorMemoryIsDeniedWithoutADummyPage) {
  ept.hidden.add(0x0F00'0000, 0x0F20'0000);
  const auto fault = hv::resolve_ept_violation(ept, Gpa(0x0F00'0040), access(true, false, false));
  EXPECT_EQ(fault.result, EptFaultResult::kDenied);
  EXPECT_FALSE(mm::is_mapped(leaf(0x0F00'0000)));
}

TEST_F(EptContext, HypervisorMemoryIsBackedByTheDummyPageAndReportedOncePerRange) {
  ept.dummy_page = memory.allocate_table().value();
  ept.hidden.add(0x0F00'0000, 0x0F10'0000);
  ept.hidden.add(0x0F10'0000, 0x0F20'0000);
  auto fault = hv::resolve_ept_violation(ept, Gpa(0x0F00'0040), access(true, false, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved) << "the guest carries on";
  EXPECT_EQ(fault.hidden_range, 0);
  EXPECT_TRUE(fault.first_report);
  EXPECT_EQ(leaf(0x0F00'0000).address(), ept.dummy_page) << "reads and writes go to the dummy";
  EXPECT_FALSE(mm::is_tracked(leaf(0x0F00'0000))) << "never aged: not guest RAM";
  fault = hv::resolve_ept_violation(ept, Gpa(0x0F00'5000), access(false, true, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_FALSE(fault.first_report) << "once per range";
  EXPECT_EQ(leaf(0x0F00'5000).address(), ept.dummy_page);
  fault = hv::resolve_ept_violation(ept, Gpa(0x0F1F'F000), access(false, false, true));
  EXPECT_EQ(fault.hidden_range, 1);
  EXPECT_TRUE(fault.first_report) << "another range is reported on its own";
  EXPECT_EQ(ept.stats.hidden_pages_backed, 3u);
  EXPECT_EQ(leaf(0x0F00'1000).rwx(), 0u) << "pages not touched stay unmapped";
}

TEST_F(EptContext, AddressesAboveTheEagerTopAreMappedOnDemand) {
  const uint64_t high = ept.map.top + 0x1234'5000;
  const auto fault = hv::resolve_ept_violation(ept, Gpa(high), access(true, true, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_EQ(ept.stats.mapped_on_demand, 1u);
  const auto e = leaf(high);
  EXPECT_EQ(e.rwx(), 0b111u);
  EXPECT_FALSE(mm::is_tracked(e)) << "only RAM is ever tracked";
  const auto beyond = hv::resolve_ept_violation(ept, Gpa(uint64_t{1} << 36), access(1, 0, 0));
  EXPECT_EQ(beyond.result, EptFaultResult::kDenied) << "at or above MAXPHYADDR";
}

TEST_F(EptContext, WriteToALargeLeafSplitsItWhenPageGranularityIsAsked) {
  ept.policy.split_large_for_write = true;
  const auto fault = hv::resolve_ept_violation(ept, Gpa(0x40'3000), access(false, true, false));
  EXPECT_EQ(fault.result, EptFaultResult::kResolved);
  EXPECT_EQ(ept.stats.splits, 1u);
  const auto w = mm::walk(memory, ept.map.root, Gpa(0x40'3000)).value();
  EXPECT_EQ(w.level, arch::EptLevel::kPte);
  EXPECT_EQ(w.entry.rwx(), 0b111u) << "the 4 KiB child got W back";
  EXPECT_EQ(leaf(0x40'4000).rwx(), 0b101u)
      << "its siblings inherit the restored R/X and stay without W until written";
}

TEST_F(EptContext, MtrrChangeRetypesTheMapAndAsksForAFlush) {
  EXPECT_EQ(leaf(0x1000).memory_type(), static_cast<uint64_t>(MemoryType::kWriteBack));
  const auto uc_low = mm::MtrrState::from_msrs(machine_msrs(MemoryType::kUncacheable)).value();
  auto flush = hv::retype_for_mtrrs(ept, uc_low);
  ASSERT_TRUE(flush.ok());
  EXPECT_EQ(flush.value(), mm::FlushRequest::none())
      << "a tracked (not present) leaf is in no TLB: nothing to invalidate";
  EXPECT_EQ(leaf(0x1000).memory_type(), static_cast<uint64_t>(MemoryType::kUncacheable));

  // Once the guest used the page, its translation may be cached with the old type.
  ASSERT_EQ(hv::resolve_ept_violation(ept, Gpa(0x1000), access(true, false, false)).result,
            EptFaultResult::kResolved);
  flush = hv::retype_for_mtrrs(ept, mtrrs);
  ASSERT_TRUE(flush.ok());
  EXPECT_NE(flush.value(), mm::FlushRequest::none());
  EXPECT_EQ(leaf(0x1000).memory_type(), static_cast<uint64_t>(MemoryType::kWriteBack));
  EXPECT_EQ(leaf(0x20'0000).memory_type(), static_cast<uint64_t>(MemoryType::kWriteBack))
      << "outside the change";
}

TEST(MtrrReader, ReadsOnlyTheMsrsTheProcessorHas) {
  fakes::FakeMsrIo io;
  io.set_msr(0xFE, 0x102);  // VCNT 2, FIX
  io.set_msr(0x2FF, 0xC06);
  for (uint32_t msr : mm::kMtrrFixedMsrs)
    io.set_msr(msr, 0x0606060606060606);
  io.set_msr(0x200, 0xC000'0000);
  io.set_msr(0x201, 0xF'C000'0800);
  io.set_msr(0x202, 0);
  io.set_msr(0x203, 0);
  const auto state = hv::read_mtrr_state(io, 36);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state.value().type_at(Gpa(0xC000'1000)), MemoryType::kUncacheable);
  EXPECT_EQ(state.value().type_at(Gpa(0x1000)), MemoryType::kWriteBack);
  EXPECT_TRUE(io.missing_msr_reads().empty()) << "no read of an MSR beyond VCNT";
}

}  // namespace
