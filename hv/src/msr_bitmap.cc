#include "hv/msr_bitmap.h"

#include "arch/msr.h"

namespace hv {

long MsrBitmap::read_offset(uint32_t msr) {
  if (msr <= 0x1FFF)
    return static_cast<long>(msr / 8);
  if (msr >= 0xC000'0000 && msr <= 0xC000'1FFF)
    return 1024 + static_cast<long>((msr - 0xC000'0000) / 8);
  return -1;
}

bool MsrBitmap::intercept(uint32_t msr, bool read, bool write) {
  const long offset = read_offset(msr);
  if (offset < 0)
    return false;
  const auto bit = static_cast<uint8_t>(1u << (msr % 8));
  if (read)
    page_[offset] |= bit;
  if (write)
    page_[offset + 2048] |= bit;  // write bitmaps follow the two read bitmaps
  return true;
}

bool MsrBitmap::exits(uint32_t msr, bool write) const {
  const long offset = read_offset(msr);
  if (offset < 0)
    return true;
  return (page_[offset + (write ? 2048 : 0)] & (1u << (msr % 8))) != 0;
}

bool is_mtrr_msr(uint32_t msr, const MsrPolicy& policy) {
  namespace m = arch::msr;
  if (msr == m::kIa32MtrrDefType)
    return true;
  const uint32_t variable_end = m::kIa32MtrrPhysBase0 + 2u * policy.variable_mtrr_count;
  if (msr >= m::kIa32MtrrPhysBase0 && msr < variable_end)
    return true;
  if (!policy.fixed_mtrrs)
    return false;
  return msr == m::kIa32MtrrFix64K00000 || msr == m::kIa32MtrrFix16K80000 ||
         msr == m::kIa32MtrrFix16KA0000 ||
         (msr >= m::kIa32MtrrFix4KC0000 && msr <= m::kIa32MtrrFix4KC0000 + 7);
}

void configure_msr_bitmap(MsrBitmap& bitmap, const MsrPolicy& policy) {
  for (uint32_t msr = 0x200; msr <= 0x2FF; ++msr) {
    if (is_mtrr_msr(msr, policy))
      bitmap.intercept(msr, false, true);
  }
  for (uint32_t msr = 0x480; msr <= 0x49F; ++msr)
    bitmap.intercept(msr, true, true);
}

}  // namespace hv
