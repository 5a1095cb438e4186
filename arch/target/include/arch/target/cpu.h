// Target-only x86 instructions as inline assembly. Linked into the efi build only; pure code
// reaches CPUID/RDMSR/WRMSR through the arch::CpuIo seam (TargetCpuIo), never directly.
#pragma once

#include <cstdint>

#include "arch/cpu_io.h"

namespace arch::target {

inline uint64_t rdtsc() {
  uint32_t lo = 0;
  uint32_t hi = 0;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidResult r;
  asm volatile("cpuid"
               : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
               : "a"(leaf), "c"(subleaf));
  return r;
}

// Raises #GP for an MSR the processor does not implement [SDM 2B "RDMSR"]: callers read
// only MSRs whose presence CPUID (or another capability MSR) has established.
inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo = 0;
  uint32_t hi = 0;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}

inline void wrmsr(uint32_t msr, uint64_t value) {
  asm volatile("wrmsr"
               :
               : "c"(msr), "a"(static_cast<uint32_t>(value)),
                 "d"(static_cast<uint32_t>(value >> 32))
               : "memory");
}

inline uint8_t inb(uint16_t port) {
  uint8_t value = 0;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline void outb(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

inline void outw(uint16_t port, uint16_t value) {
  asm volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

inline void pause() { asm volatile("pause"); }

inline void cli() { asm volatile("cli" : : : "memory"); }

inline void hlt() { asm volatile("hlt" : : : "memory"); }

// Interrupts off, then halt for good (an NMI or SMI wakes HLT, hence the loop).
[[noreturn]] inline void halt_forever() {
  cli();
  for (;;) {
    hlt();
  }
}

}  // namespace arch::target
