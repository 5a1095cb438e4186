// Compiles the mm/ table headers with -ffreestanding -fno-exceptions -fno-rtti: nothing here
// runs, the build is the test.
#include "mm/mtrr.h"

namespace {

constexpr bool mtrr_decodes_at_compile_time() {
  mm::MtrrMsrs msrs;
  msrs.cap = 0x508;                                 // VCNT 8, FIX, WC
  msrs.def_type = 0xC06;                            // E, FE, WB
  msrs.fixed[2] = 0;                                // A0000-BFFFF UC
  msrs.variable[0] = {0xC000'0000, 0xF'C000'0800};  // C0000000-FFFFFFFF UC
  auto state = mm::MtrrState::from_msrs(msrs);
  if (!state.ok())
    return false;
  const mm::MtrrState& s = state.value();
  return s.type_at(arch::Gpa(0xA0000)) == arch::MemoryType::kUncacheable &&
         s.type_at(arch::Gpa(0x1'0000'0000)) == arch::MemoryType::kWriteBack &&
         s.type_of(arch::Gpa(0xC000'0000), uint64_t{1} << 30).uniform;
}
static_assert(mtrr_decodes_at_compile_time());

}  // namespace
