// Turning the running firmware's segment state into VMCS guest state. The firmware's GDT is
// read through a view (identity-mapped memory on target, an array in host tests).
#pragma once

#include <cstdint>

#include "arch/result.h"
#include "hv/guest_state.h"

namespace hv {

struct DescriptorTableView {
  const uint64_t* base = nullptr;  // the table's first 8-byte slot
  uint32_t limit = 0;              // GDTR.limit: last valid byte offset
};

// The VMCS form of the segment `selector` names. A null selector gives an unusable segment.
// LDT selectors are refused (UEFI firmware does not use an LDT). For FS and GS in 64-bit mode
// the caller replaces the base with IA32_FS_BASE / IA32_GS_BASE.
arch::Result<Segment> capture_segment(const DescriptorTableView& gdt, uint16_t selector);

// UEFI runs with TR = 0, but VM entry requires a usable busy TSS in TR
// [SDM 3C "Checks on Guest Segment Registers"]. The selector stays 0 (only TI is checked);
// the base names a zeroed TSS the guest may see, so an interrupt taken through it reads
// sane values.
constexpr Segment make_usable_tr(uint16_t selector, uint64_t tss_base) {
  return Segment{selector, tss_base, 0x67, 0x8B};  // present, type 11: 64-bit busy TSS
}

// The guest's TR. A selector is the firmware's own only if its GDT slot holds a present busy
// 64-bit TSS (LTR marks it busy); anything else gets the stand-in of make_usable_tr with
// selector 0. That covers UEFI's TR = 0, and a TR left behind by a failed VM entry of an
// earlier agevisor: the failed entry loaded the host TR, and undoing it restores the
// firmware's GDTR but cannot load a null TR, so the selector then names an unrelated slot of
// the firmware's GDT (or lies beyond its limit).
Segment capture_tr(const DescriptorTableView& gdt, uint16_t selector, uint64_t stand_in_tss_base);

}  // namespace hv
