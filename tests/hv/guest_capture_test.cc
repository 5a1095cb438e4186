#include "hv/guest_capture.h"

#include <gtest/gtest.h>

#include "hv/guest_state_checker.h"

namespace {

// OVMF's GDT (edk2 UefiCpuPkg): data/code descriptors for 32- and 64-bit mode. The data
// descriptors are type 2 (not accessed) in the table image.
const uint64_t kOvmfGdt[] = {
    0x0000'0000'0000'0000,  // 0x00 null
    0x00CF'9200'0000'FFFF,  // 0x08 linear data
    0x00CF'9A00'0000'FFFF,  // 0x10 linear code
    0x00CF'9200'0000'FFFF,  // 0x18 system data
    0x00CF'9A00'0000'FFFF,  // 0x20 system code
    0x0000'0000'0000'0000,  // 0x28 spare
    0x00CF'9200'0000'FFFF,  // 0x30 system data, 64-bit mode
    0x00AF'9A00'0000'FFFF,  // 0x38 system code, 64-bit mode
    0x0000'0000'0000'0000,  // 0x40 spare
};
const hv::DescriptorTableView kView{kOvmfGdt, sizeof(kOvmfGdt) - 1};

TEST(GuestCapture, FlatSegmentsBecomeVmcsAccessRights) {
  const auto cs = hv::capture_segment(kView, 0x38);
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs.value().access_rights, 0xA09Bu) << "L, G, P, S, type 11 (accessed)";
  EXPECT_EQ(cs.value().limit, 0xFFFF'FFFFu) << "G scales the limit to 4 GiB";
  EXPECT_EQ(cs.value().base, 0u);

  const auto ds = hv::capture_segment(kView, 0x30);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds.value().access_rights, 0xC093u) << "the accessed bit is set on load";
}

TEST(GuestCapture, NullSelectorIsUnusableAndLdtOrOutOfRangeIsRefused) {
  const auto null = hv::capture_segment(kView, 0);
  ASSERT_TRUE(null.ok());
  EXPECT_TRUE(null.value().unusable());
  EXPECT_EQ(hv::capture_segment(kView, 0x3C).error(), arch::Error::kUnsupported) << "TI = 1";
  EXPECT_EQ(hv::capture_segment(kView, 0x48).error(), arch::Error::kOutOfRange);
  const hv::DescriptorTableView short_view{kOvmfGdt, 0x37};
  EXPECT_EQ(hv::capture_segment(short_view, 0x38).error(), arch::Error::kOutOfRange);
}

TEST(GuestCapture, CapturedFirmwareStatePassesTheGuestStateChecks) {
  hv::GuestState s;
  s.cr0 = 0x8001'0033;
  s.cr4 = 0x2668;
  s.efer = 0x500;
  s.rflags = 0x2;
  s.rip = 0x7E00'0000;
  s.cs = hv::capture_segment(kView, 0x38).value();
  s.ss = s.ds = s.es = s.fs = s.gs = hv::capture_segment(kView, 0x30).value();
  s.ldtr = hv::capture_segment(kView, 0).value();
  s.tr = hv::make_usable_tr(0, 0x7F00'0000);
  s.gdtr = {reinterpret_cast<uint64_t>(kOvmfGdt) & 0x7FFF'FFFF'FFFF, sizeof(kOvmfGdt) - 1};
  s.idtr = {0x7F00'1000, 0xFFF};

  hv::GuestCheckContext c;
  c.cr0_fixed0 = 0x8000'0021;
  c.cr4_fixed0 = 0x2000;
  c.unrestricted_guest = true;
  c.ia32e_mode_guest = true;
  c.load_efer = true;
  const auto report = hv::check_guest_state(s, c);
  EXPECT_TRUE(report.ok()) << report.violations[0].field << ": " << report.violations[0].rule;
}

TEST(GuestCapture, TrWithoutAFirmwareTssGetsTheStandIn) {
  constexpr uint64_t kStandIn = 0x7F00'0000;
  const hv::Segment expected = hv::make_usable_tr(0, kStandIn);
  // UEFI's TR = 0; a TR left by an earlier agevisor's failed entry (its host TSS selector
  // 0x18, which is a data segment in OVMF's GDT); a selector past the GDT's limit; TI = 1.
  for (const uint16_t selector : {uint16_t{0x00}, uint16_t{0x18}, uint16_t{0x48}, uint16_t{0x1C}}) {
    const hv::Segment tr = hv::capture_tr(kView, selector, kStandIn);
    EXPECT_EQ(tr.selector, expected.selector) << selector;
    EXPECT_EQ(tr.base, expected.base) << selector;
    EXPECT_EQ(tr.access_rights, expected.access_rights) << selector;
  }
}

TEST(GuestCapture, FirmwaresOwnBusyTssIsKept) {
  uint64_t gdt[8] = {};
  for (unsigned i = 0; i < 6; ++i)
    gdt[i] = kOvmfGdt[i];
  gdt[6] = 0x1200'8B34'5678'0067;  // busy 64-bit TSS at 0x1234'5678'0000 ..., limit 0x67
  gdt[7] = 0x0000'0000'0000'00AB;  // base 63:32
  const hv::DescriptorTableView view{gdt, sizeof(gdt) - 1};
  const hv::Segment tr = hv::capture_tr(view, 0x30, 0x7F00'0000);
  EXPECT_EQ(tr.selector, 0x30u);
  EXPECT_EQ(tr.base, 0xAB'1234'5678u);
  EXPECT_EQ(tr.access_rights, 0x8Bu);
  EXPECT_EQ(tr.limit, 0x67u);

  gdt[6] = 0x1200'8934'5678'0067;  // available (not busy): not a loaded TR
  EXPECT_EQ(hv::capture_tr(view, 0x30, 0x7F00'0000).selector, 0u);
  gdt[6] = 0x1200'0B34'5678'0067;  // not present
  EXPECT_EQ(hv::capture_tr(view, 0x30, 0x7F00'0000).selector, 0u);
}

}  // namespace
