// The guest-state area of a VMCS as plain values, so the checks the processor makes at VM
// entry can run as pure code: before the first launch, and again on any entry failure to
// name the field at fault. [SDM 3C "Guest-State Area"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/vmcs_fields.h"

namespace hv {

// A segment register as the VMCS holds it. Access rights use the VMCS format
// [SDM 3C "Guest Register State"]: the descriptor's bits 40-47 and 52-55 packed into
// 7:0 and 15:12, plus bit 16 = unusable.
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0;
  uint32_t access_rights = 0;

  constexpr unsigned type() const { return access_rights & 0xF; }
  constexpr bool s() const { return arch::test_bit(access_rights, 4); }
  constexpr unsigned dpl() const { return (access_rights >> 5) & 3; }
  constexpr bool present() const { return arch::test_bit(access_rights, 7); }
  constexpr bool l() const { return arch::test_bit(access_rights, 13); }
  constexpr bool db() const { return arch::test_bit(access_rights, 14); }
  constexpr bool g() const { return arch::test_bit(access_rights, 15); }
  constexpr bool unusable() const { return arch::test_bit(access_rights, 16); }
  constexpr unsigned rpl() const { return selector & 3u; }
  constexpr bool ti() const { return (selector & 4u) != 0; }
};

inline constexpr uint32_t kSegmentUnusable = 1u << 16;

struct TableRegister {
  uint64_t base = 0;
  uint32_t limit = 0;
};

enum class ActivityState : uint32_t { kActive = 0, kHlt = 1, kShutdown = 2, kWaitForSipi = 3 };

// Guest interruptibility state bits [SDM 3C "Guest Non-Register State"].
inline constexpr uint32_t kBlockingBySti = 1u << 0;
inline constexpr uint32_t kBlockingByMovSs = 1u << 1;
inline constexpr uint32_t kBlockingBySmi = 1u << 2;
inline constexpr uint32_t kBlockingByNmi = 1u << 3;

struct GuestState {
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t dr7 = 0x400;
  uint64_t rsp = 0;
  uint64_t rip = 0;
  uint64_t rflags = 0x2;

  Segment es, cs, ss, ds, fs, gs, ldtr, tr;
  TableRegister gdtr, idtr;

  uint64_t debugctl = 0;
  uint64_t sysenter_cs = 0;
  uint64_t sysenter_esp = 0;
  uint64_t sysenter_eip = 0;
  uint64_t efer = 0;
  uint64_t pat = 0x0007040600070406;  // the power-on value

  ActivityState activity = ActivityState::kActive;
  uint32_t interruptibility = 0;
  uint64_t pending_debug_exceptions = 0;
  uint64_t vmcs_link_pointer = ~uint64_t{0};
};

// Hands `write(field, value)` the eight segment registers and GDTR/IDTR of `g` as their
// guest-state fields: the launch writes them, and so does INIT.
template <typename Write>
void write_segments_and_tables(const GuestState& g, Write&& write) {
  using F16 = arch::VmcsField16;
  using F32 = arch::VmcsField32;
  using FN = arch::VmcsFieldNatural;
  auto segment = [&](const Segment& s, F16 selector, FN base, F32 limit, F32 access_rights) {
    write(selector, s.selector);
    write(base, s.base);
    write(limit, s.limit);
    write(access_rights, s.access_rights);
  };
  segment(g.es, F16::kGuestEsSelector, FN::kGuestEsBase, F32::kGuestEsLimit,
          F32::kGuestEsAccessRights);
  segment(g.cs, F16::kGuestCsSelector, FN::kGuestCsBase, F32::kGuestCsLimit,
          F32::kGuestCsAccessRights);
  segment(g.ss, F16::kGuestSsSelector, FN::kGuestSsBase, F32::kGuestSsLimit,
          F32::kGuestSsAccessRights);
  segment(g.ds, F16::kGuestDsSelector, FN::kGuestDsBase, F32::kGuestDsLimit,
          F32::kGuestDsAccessRights);
  segment(g.fs, F16::kGuestFsSelector, FN::kGuestFsBase, F32::kGuestFsLimit,
          F32::kGuestFsAccessRights);
  segment(g.gs, F16::kGuestGsSelector, FN::kGuestGsBase, F32::kGuestGsLimit,
          F32::kGuestGsAccessRights);
  segment(g.ldtr, F16::kGuestLdtrSelector, FN::kGuestLdtrBase, F32::kGuestLdtrLimit,
          F32::kGuestLdtrAccessRights);
  segment(g.tr, F16::kGuestTrSelector, FN::kGuestTrBase, F32::kGuestTrLimit,
          F32::kGuestTrAccessRights);
  write(FN::kGuestGdtrBase, g.gdtr.base);
  write(F32::kGuestGdtrLimit, g.gdtr.limit);
  write(FN::kGuestIdtrBase, g.idtr.base);
  write(F32::kGuestIdtrLimit, g.idtr.limit);
}

}  // namespace hv
