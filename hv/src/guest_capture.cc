#include "hv/guest_capture.h"

#include "arch/segment_descriptor.h"

namespace hv {

arch::Result<Segment> capture_segment(const DescriptorTableView& gdt, uint16_t selector) {
  if (arch::selector_in_ldt(selector))
    return arch::Error::kUnsupported;
  const unsigned index = arch::selector_index(selector);
  if (index == 0)
    return Segment{selector, 0, 0, kSegmentUnusable};
  if (index * 8u + 7u > gdt.limit)
    return arch::Error::kOutOfRange;

  const arch::SegmentDescriptor descriptor(gdt.base[index]);
  uint64_t base = descriptor.base_low32();
  if (!descriptor.s()) {
    // 64-bit system descriptors (TSS, LDT) are 16 bytes: the next slot holds base 63:32.
    if ((index + 1) * 8u + 7u > gdt.limit)
      return arch::Error::kOutOfRange;
    base |= (gdt.base[index + 1] & 0xFFFF'FFFF) << 32;
  }
  uint32_t access_rights = descriptor.vmcs_access_rights();
  // Loading a code or data segment sets the descriptor's accessed bit; a GDT the processor
  // could not write back to still yields an accessed segment register, and VM entry
  // requires it [SDM 3C "Checks on Guest Segment Registers"].
  if (descriptor.s())
    access_rights |= 1u;
  return Segment{selector, base, descriptor.byte_limit(), access_rights};
}

Segment capture_tr(const DescriptorTableView& gdt, uint16_t selector, uint64_t stand_in_tss_base) {
  constexpr unsigned kBusyTss64 = 11;
  const unsigned index = arch::selector_index(selector);
  if (selector != 0 && !arch::selector_in_ldt(selector) && index * 8u + 7u <= gdt.limit) {
    const arch::SegmentDescriptor descriptor(gdt.base[index]);
    if (!descriptor.s() && descriptor.present() && descriptor.type() == kBusyTss64) {
      const auto captured = capture_segment(gdt, selector);
      if (captured.ok())
        return captured.value();
    }
  }
  return make_usable_tr(0, stand_in_tss_base);
}

}  // namespace hv
