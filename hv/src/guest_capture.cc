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

}  // namespace hv
