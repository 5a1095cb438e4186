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

}  // namespace hv
