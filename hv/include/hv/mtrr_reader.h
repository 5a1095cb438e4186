// Reading the MTRRs through the arch::CpuIo seam, for mm::MtrrState. Only MSRs that exist
// are read: fixed ranges when IA32_MTRRCAP.FIX is set, VCNT variable pairs.
// [SDM 3A "Memory Type Range Registers (MTRRs)"]
#pragma once

#include <cstdint>

#include "arch/cpu_io.h"
#include "arch/msr.h"
#include "arch/result.h"
#include "mm/mtrr.h"
#include "mm/mtrr_msrs.h"

namespace hv {

template <arch::CpuIo Io>
arch::Result<mm::MtrrMsrs> read_mtrr_msrs(Io& io, uint8_t max_phys_addr) {
  mm::MtrrMsrs m;
  m.max_phys_addr = max_phys_addr;
  m.cap = TRY(io.rdmsr(arch::msr::kIa32MtrrCap));
  m.def_type = TRY(io.rdmsr(arch::msr::kIa32MtrrDefType));
  const auto count = static_cast<unsigned>(m.cap & 0xFF);
  if (count > mm::kMaxVariableMtrrs)
    return arch::Error::kUnsupported;
  if ((m.cap & arch::bit(8)) != 0) {
    for (size_t i = 0; i < mm::kMtrrFixedMsrCount; ++i) {
      m.fixed[i] = TRY(io.rdmsr(mm::kMtrrFixedMsrs[i]));
    }
  }
  for (unsigned n = 0; n < count; ++n) {
    m.variable[n].phys_base = TRY(io.rdmsr(mm::mtrr_phys_base_msr(n)));
    m.variable[n].phys_mask = TRY(io.rdmsr(mm::mtrr_phys_mask_msr(n)));
  }
  return m;
}

template <arch::CpuIo Io>
arch::Result<mm::MtrrState> read_mtrr_state(Io& io, uint8_t max_phys_addr) {
  const mm::MtrrMsrs msrs = TRY(read_mtrr_msrs(io, max_phys_addr));
  return mm::MtrrState::from_msrs(msrs);
}

}  // namespace hv
