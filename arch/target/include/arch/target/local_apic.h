// NMIs through the local APIC, in whichever mode software put it: x2APIC (one WRMSR to the
// ICR) or xAPIC (the ICR's two halves in the MMIO page). Used by agevisor for its flush and
// leave requests, and by agectl to send NMIs to itself. [SDM 3A "Interrupt Command Register"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/target/cpu.h"

namespace arch::target {

inline constexpr uint32_t kIa32ApicBase = 0x1B;
inline constexpr uint64_t kApicBaseX2apic = bit(10);

inline bool x2apic_enabled() { return (rdmsr(kIa32ApicBase) & kApicBaseX2apic) != 0; }

// An NMI to the local APIC with `apic_id` (the x2APIC ID in x2APIC mode). In xAPIC mode the
// ICR's high half is put back afterwards: the code this interrupts (a guest) may have been
// between writing the two halves. Each wait for delivery gives up after `spins` pauses.
inline void send_nmi(uint32_t apic_id, uint64_t spins) {
  constexpr uint32_t kX2apicIcr = 0x830;
  constexpr uint32_t kXapicIcrLow = 0x300;
  constexpr uint32_t kXapicIcrHigh = 0x310;
  constexpr uint32_t kIcrDeliveryPending = 1u << 12;
  constexpr uint64_t kApicBaseAddressMask = 0x000F'FFFF'FFFF'F000;
  // Delivery mode NMI (100b), physical destination, level assert, no shorthand.
  constexpr uint32_t kIcrNmi = (4u << 8) | (1u << 14);
  const uint64_t base = rdmsr(kIa32ApicBase);
  if ((base & kApicBaseX2apic) != 0) {
    wrmsr(kX2apicIcr, (uint64_t{apic_id} << 32) | kIcrNmi);
    return;
  }
  auto* apic = reinterpret_cast<volatile uint32_t*>(base & kApicBaseAddressMask);
  volatile uint32_t& low = apic[kXapicIcrLow / 4];
  volatile uint32_t& high = apic[kXapicIcrHigh / 4];
  for (uint64_t i = 0; (low & kIcrDeliveryPending) != 0 && i < spins; ++i)
    pause();
  const uint32_t saved_high = high;
  high = apic_id << 24;
  low = kIcrNmi;
  for (uint64_t i = 0; (low & kIcrDeliveryPending) != 0 && i < spins; ++i)
    pause();
  high = saved_high;
}

}  // namespace arch::target
