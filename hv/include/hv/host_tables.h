// The host's own GDT, TSS and IDT layout. UEFI runs with TR = 0 and its tables live in
// boot-services memory the OS will reclaim, so the host brings its own, in memory it keeps.
#pragma once

#include <cstdint>

#include "arch/idt_gate.h"
#include "arch/segment_descriptor.h"
#include "arch/tss64.h"

namespace hv {

inline constexpr uint16_t kHostCodeSelector = 0x08;
inline constexpr uint16_t kHostDataSelector = 0x10;
// Two slots, the last two of the 1 KiB GDT. A CPU that leaves VMX keeps the host's TR (LTR
// cannot load the null selector UEFI runs with), and edk2's MP services save each CPU's TR
// and load it again at its next wake-up, unless it lies beyond the GDT's limit: firmware
// GDTs without TSS are far smaller than this selector, so that is where it lies.
inline constexpr uint16_t kHostTssSelector = 0x3F0;

struct HostGdt {
  arch::SegmentDescriptor entries[128];  // 1 KiB: the host TSS follows it in the same page
};
static_assert(sizeof(HostGdt) == 1024);

// Interrupt stack table slots: exceptions that can arrive on a broken stack get their own.
enum class HostIst : uint8_t { kNone = 0, kDoubleFault = 1, kNmi = 2, kMachineCheck = 3 };
inline constexpr unsigned kHostIstCount = 3;

constexpr HostGdt make_host_gdt(uint64_t tss_address) {
  HostGdt gdt;
  gdt.entries[kHostCodeSelector >> 3] = arch::SegmentDescriptor::code64(0);
  gdt.entries[kHostDataSelector >> 3] = arch::SegmentDescriptor::data(0);
  gdt.entries[kHostTssSelector >> 3] =
      arch::SegmentDescriptor::tss64_low(tss_address, arch::kTss64Limit);
  gdt.entries[(kHostTssSelector >> 3) + 1] = arch::SegmentDescriptor::tss64_high(tss_address);
  return gdt;
}

constexpr HostIst host_ist_for_vector(unsigned vector) {
  switch (vector) {
    case 2:
      return HostIst::kNmi;
    case 8:
      return HostIst::kDoubleFault;
    case 18:
      return HostIst::kMachineCheck;
    default:
      return HostIst::kNone;
  }
}

// The IDT gate for `vector`, given the address of its entry stub.
constexpr arch::InterruptGate64 make_host_gate(unsigned vector, uint64_t stub_address) {
  return arch::InterruptGate64::interrupt(stub_address, kHostCodeSelector,
                                          static_cast<unsigned>(host_ist_for_vector(vector)));
}

}  // namespace hv
