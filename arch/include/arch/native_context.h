// The processor state agevisor_resume_native (arch/target/src/vmx_stubs.nasm) restores to
// leave VMX root operation for a non-virtualized context, e.g. after a failed first VM entry.
// The layout is fixed: the NASM stub addresses it by offset.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

struct __attribute__((packed)) DescriptorTablePointer {
  uint16_t limit = 0;
  uint64_t base = 0;
  uint8_t padding[6] = {};
};

struct NativeContext {
  uint64_t cr3 = 0;
  uint64_t tr = 0;  // the firmware's TR selector, reloaded unless 0 (LTR cannot load null)
  DescriptorTablePointer gdtr;
  DescriptorTablePointer idtr;
  uint64_t cs = 0;
  uint64_t ss = 0;
  uint64_t ds = 0;
  uint64_t es = 0;
  uint64_t fs = 0;
  uint64_t gs = 0;
  uint64_t fs_base = 0;
  uint64_t gs_base = 0;
  uint64_t rsp = 0;
  uint64_t rflags = 0;
  uint64_t rip = 0;
  uint64_t rax = 0;
};

static_assert(sizeof(DescriptorTablePointer) == 16);
static_assert(offsetof(NativeContext, tr) == 8);
static_assert(offsetof(NativeContext, gdtr) == 16 && offsetof(NativeContext, idtr) == 32);
static_assert(offsetof(NativeContext, cs) == 48 && offsetof(NativeContext, gs_base) == 104);
static_assert(offsetof(NativeContext, rip) == 128 && offsetof(NativeContext, rax) == 136);

}  // namespace arch
