// Reading and writing control, debug and descriptor-table registers, for capturing the
// firmware's state as the guest's and for the host state. Target only.
#pragma once

#include <cstdint>

namespace arch::target {

struct __attribute__((packed)) DescriptorTableRegister {
  uint16_t limit = 0;
  uint64_t base = 0;
};

inline uint64_t read_cr0() {
  uint64_t v;
  asm volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}
inline uint64_t read_cr2() {
  uint64_t v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline uint64_t read_cr3() {
  uint64_t v;
  asm volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
inline uint64_t read_cr4() {
  uint64_t v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr2(uint64_t v) { asm volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
inline uint64_t read_dr7() {
  uint64_t v;
  asm volatile("mov %%dr7, %0" : "=r"(v));
  return v;
}
inline void write_dr7(uint64_t v) { asm volatile("mov %0, %%dr7" : : "r"(v) : "memory"); }
// DR0-DR3 and DR6 as INIT leaves them (0, and DR6's reserved bits set).
inline void reset_debug_address_registers() {
  const uint64_t zero = 0;
  const uint64_t dr6 = 0xFFFF'0FF0;
  asm volatile("mov %0, %%dr0\n\tmov %0, %%dr1\n\tmov %0, %%dr2\n\tmov %0, %%dr3\n\tmov %1, %%dr6"
               :
               : "r"(zero), "r"(dr6)
               : "memory");
}
inline uint64_t read_rflags() {
  uint64_t v;
  asm volatile("pushfq; popq %0" : "=r"(v));
  return v;
}

inline DescriptorTableRegister sgdt() {
  DescriptorTableRegister r;
  asm volatile("sgdt %0" : "=m"(r));
  return r;
}
inline DescriptorTableRegister sidt() {
  DescriptorTableRegister r;
  asm volatile("sidt %0" : "=m"(r));
  return r;
}
inline void lidt(const DescriptorTableRegister& r) { asm volatile("lidt %0" : : "m"(r)); }

inline uint16_t read_cs() {
  uint16_t v;
  asm volatile("mov %%cs, %0" : "=r"(v));
  return v;
}
inline uint16_t read_es() {
  uint16_t v;
  asm volatile("mov %%es, %0" : "=r"(v));
  return v;
}
inline uint16_t read_ss() {
  uint16_t v;
  asm volatile("mov %%ss, %0" : "=r"(v));
  return v;
}
inline uint16_t read_ds() {
  uint16_t v;
  asm volatile("mov %%ds, %0" : "=r"(v));
  return v;
}
inline uint16_t read_fs() {
  uint16_t v;
  asm volatile("mov %%fs, %0" : "=r"(v));
  return v;
}
inline uint16_t read_gs() {
  uint16_t v;
  asm volatile("mov %%gs, %0" : "=r"(v));
  return v;
}
inline uint16_t read_tr() {
  uint16_t v;
  asm volatile("str %0" : "=r"(v));
  return v;
}
inline uint16_t read_ldtr() {
  uint16_t v;
  asm volatile("sldt %0" : "=r"(v));
  return v;
}

inline uint64_t xgetbv(uint32_t xcr) {
  uint32_t lo;
  uint32_t hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
  return (uint64_t{hi} << 32) | lo;
}
inline void xsetbv(uint32_t xcr, uint64_t value) {
  asm volatile("xsetbv"
               :
               : "c"(xcr), "a"(static_cast<uint32_t>(value)),
                 "d"(static_cast<uint32_t>(value >> 32))
               : "memory");
}
inline void wbinvd() { asm volatile("wbinvd" : : : "memory"); }

}  // namespace arch::target
