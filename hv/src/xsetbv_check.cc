#include "hv/xsetbv_check.h"

#include "arch/bits.h"

namespace hv {

bool xsetbv_is_valid(unsigned guest_cpl, uint32_t ecx, uint64_t value, uint64_t supported_xcr0) {
  using arch::bit;
  using arch::bit_range;
  if (guest_cpl != 0 || ecx != 0)
    return false;  // only XCR0 exists to be written
  if ((value & ~supported_xcr0) != 0)
    return false;
  if ((value & bit(0)) == 0)
    return false;  // x87 state must stay enabled
  const bool sse = (value & bit(1)) != 0;
  const bool avx = (value & bit(2)) != 0;
  if (avx && !sse)
    return false;
  // AVX-512: opmask, ZMM_Hi256 and Hi16_ZMM go together, and need AVX.
  const uint64_t avx512 = value & bit_range(7, 5);
  if (avx512 != 0 && (avx512 != bit_range(7, 5) || !avx))
    return false;
  // MPX: BNDREGS and BNDCSR together.
  if (((value >> 3) & 1) != ((value >> 4) & 1))
    return false;
  // AMX: TILECFG and TILEDATA together.
  if (((value >> 17) & 1) != ((value >> 18) & 1))
    return false;
  return true;
}

}  // namespace hv
