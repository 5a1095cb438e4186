// Periodic aging on the VMX-preemption timer: how many timer ticks make a period. The timer
// counts down by one each time bit X of the TSC changes, X = IA32_VMX_MISC[4:0]
// [SDM 3C "VMX-Preemption Timer"]; its value field is 32 bits wide.
#pragma once

#include <cstdint>

namespace hv {

struct AgingPeriod {
  uint32_t ticks = 0;         // the preemption-timer value to load (0: periodic aging off)
  uint64_t effective_ms = 0;  // the period those ticks give (shorter when clamped)
  bool clamped = false;       // the period did not fit in 32 bits of ticks
};

// `tsc_hz`: the TSC frequency measured at start-up.
constexpr AgingPeriod aging_period(uint32_t period_ms, uint64_t tsc_hz, unsigned rate) {
  AgingPeriod p;
  if (period_ms == 0 || tsc_hz == 0 || rate > 31)
    return p;
  // TSC ticks per period, without overflow for any realistic TSC (below 2^44 Hz).
  const uint64_t tsc = tsc_hz / 1000 * period_ms + tsc_hz % 1000 * period_ms / 1000;
  uint64_t ticks = tsc >> rate;
  if (ticks == 0)
    ticks = 1;
  if (ticks > 0xFFFF'FFFF) {
    ticks = 0xFFFF'FFFF;
    p.clamped = true;
  }
  p.ticks = static_cast<uint32_t>(ticks);
  p.effective_ms = p.clamped ? ((ticks << rate) * 1000) / tsc_hz : period_ms;
  return p;
}

}  // namespace hv
