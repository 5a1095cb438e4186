#include "hv/control_register_write.h"

#include "arch/bits.h"
#include "arch/vmx_controls.h"

namespace hv {
namespace {

constexpr uint64_t kCr0Pe = arch::bit(0);
constexpr uint64_t kCr0Wp = arch::bit(16);
constexpr uint64_t kCr0Nw = arch::bit(29);
constexpr uint64_t kCr0Cd = arch::bit(30);
constexpr uint64_t kCr0Pg = arch::bit(31);
constexpr uint64_t kCr4Pse = arch::bit(4);
constexpr uint64_t kCr4Pae = arch::bit(5);
constexpr uint64_t kCr4Pge = arch::bit(7);
constexpr uint64_t kCr4La57 = arch::bit(12);
constexpr uint64_t kCr4Vmxe = arch::bit(13);
constexpr uint64_t kCr4Pcide = arch::bit(17);
constexpr uint64_t kCr4Smep = arch::bit(20);
constexpr uint64_t kCr4Smap = arch::bit(21);
constexpr uint64_t kCr4Pke = arch::bit(22);
constexpr uint64_t kCr4Cet = arch::bit(23);
constexpr uint64_t kEferLme = arch::bit(8);
constexpr uint64_t kEferLma = arch::bit(10);

ControlRegisterWrite unchanged(const ControlRegisterState& s) {
  ControlRegisterWrite w;
  w.efer = s.efer;
  w.entry_controls = s.entry_controls;
  return w;
}

ControlRegisterWrite gp(const ControlRegisterState& s) {
  ControlRegisterWrite w = unchanged(s);
  w.inject_gp = true;
  return w;
}

bool cr0_faults(const ControlRegisterState& s, uint64_t value) {
  const uint64_t old = s.cr0_shadow;
  const bool long_mode_active = (s.efer & kEferLma) != 0;
  return (value >> 32) != 0 || ((value & kCr0Pg) != 0 && (value & kCr0Pe) == 0) ||
         ((value & kCr0Nw) != 0 && (value & kCr0Cd) == 0) ||
         // Turning paging on to enter IA-32e mode needs PAE paging.
         ((value & kCr0Pg) != 0 && (old & kCr0Pg) == 0 && (s.efer & kEferLme) != 0 &&
          (s.cr4_shadow & kCr4Pae) == 0) ||
         // 64-bit code cannot turn paging off (compatibility mode can).
         ((value & kCr0Pg) == 0 && long_mode_active && s.cs_long) ||
         ((value & kCr0Wp) == 0 && (s.cr4_shadow & kCr4Cet) != 0);
}

bool cr4_faults(const ControlRegisterState& s, uint64_t value, const arch::CrFixedBits& rules) {
  const uint64_t old = s.cr4_shadow;
  const bool long_mode_active = (s.efer & kEferLma) != 0;
  // VMXE is hidden from the guest: setting it faults as on a processor without VMX.
  return (value & kCr4Vmxe) != 0 || (value & ~rules.fixed1) != 0 ||
         (long_mode_active && (value & kCr4Pae) == 0) ||
         (long_mode_active && ((value ^ old) & kCr4La57) != 0) ||
         ((value & kCr4Pcide) != 0 && (old & kCr4Pcide) == 0 &&
          (!long_mode_active || (s.cr3 & 0xFFF) != 0)) ||
         ((value & kCr4Cet) != 0 && (s.cr0_shadow & kCr0Wp) == 0);
}

}  // namespace

ControlRegisterWrite write_cr0(const ControlRegisterState& s, uint64_t value,
                               const arch::CrFixedBits& guest_cr0_rules) {
  if (cr0_faults(s, value))
    return gp(s);
  ControlRegisterWrite w = unchanged(s);
  w.guest_value = guest_cr0_rules.apply(value);
  w.read_shadow = value;
  const bool paging = (value & kCr0Pg) != 0;
  const bool was_paging = (s.cr0_shadow & kCr0Pg) != 0;
  if (paging != was_paging && (s.efer & kEferLme) != 0) {
    w.efer = paging ? (s.efer | kEferLma) : (s.efer & ~kEferLma);
    w.entry_controls = paging ? (s.entry_controls | arch::entry_ctls::kIa32eModeGuest)
                              : (s.entry_controls & ~arch::entry_ctls::kIa32eModeGuest);
  }
  w.flush_guest_tlb = ((value ^ s.cr0_shadow) & (kCr0Pg | kCr0Wp)) != 0;
  return w;
}

ControlRegisterWrite write_cr4(const ControlRegisterState& s, uint64_t value,
                               const arch::CrFixedBits& cr4_rules) {
  if (cr4_faults(s, value, cr4_rules))
    return gp(s);
  ControlRegisterWrite w = unchanged(s);
  w.guest_value = cr4_rules.apply(value);
  w.read_shadow = value;
  const uint64_t changed = value ^ s.cr4_shadow;
  // Bits that change how linear addresses translate, PGE (toggling it flushes global
  // entries) and clearing PCIDE (flushes every PCID).
  w.flush_guest_tlb =
      (changed & (kCr4Pse | kCr4Pae | kCr4Pge | kCr4Smep | kCr4Smap | kCr4Pke | kCr4La57)) != 0 ||
      ((changed & kCr4Pcide) != 0 && (value & kCr4Pcide) == 0);
  return w;
}

}  // namespace hv
