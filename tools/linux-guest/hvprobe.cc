// hvprobe: a Linux user-space probe of the hypervisor under it, for the "Linux under
// agevisor" end-to-end test (tools/make-linux-guest builds it into the initramfs as
// /bin/hvprobe; /init runs it). Freestanding and static: no libc, raw system calls.
//
// It prints, on stdout:
//   hvprobe: cpuid 1 ecx.hypervisor=<0|1> ecx.vmx=<0|1>
//   hvprobe: cpuid 0x40000000 signature "<12 bytes>" max leaf 0x...   (only with bit 31)
//   hvprobe: vmcall version from CPL 3: status <n> (<name>)       (only under agevisor)
// agevisor answers every hypercall from CPL > 0 with `denied` and advances RIP: the VMCALL
// must neither raise an exception (the process would die with SIGILL/SIGSEGV) nor succeed.
// VMCALL is issued only when agevisor's signature was found: without a hypervisor it is #UD.
#include <cstddef>
#include <cstdint>

#include "hv/hypercall_abi.h"

namespace {

long sys_write(int fd, const void* buf, size_t n) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(1), "D"(fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
  return ret;
}

[[noreturn]] void sys_exit(int code) {
  asm volatile("syscall" : : "a"(60), "D"(code) : "rcx", "r11", "memory");
  __builtin_unreachable();
}

struct Line {
  char buf[160];
  size_t n = 0;
  void put(char c) {
    if (n < sizeof buf - 1)
      buf[n++] = c;
  }
  Line& s(const char* t) {
    while (*t)
      put(*t++);
    return *this;
  }
  Line& hex(uint64_t v) {
    s("0x");
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
      const unsigned d = (v >> shift) & 0xF;
      if (d != 0 || started || shift == 0) {
        put(static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10));
        started = true;
      }
    }
    return *this;
  }
  Line& dec(uint64_t v) {
    char digits[24];
    int k = 0;
    do {
      digits[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (k > 0)
      put(digits[--k]);
    return *this;
  }
  void print() {
    put('\n');
    sys_write(1, buf, n);
    n = 0;
  }
};

struct Regs {
  uint32_t a, b, c, d;
};

Regs cpuid(uint32_t leaf) {
  Regs r;
  asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(0));
  return r;
}

const char* status_name(uint64_t status) {
  return hv::status_name(static_cast<hv::HypercallStatus>(status));
}

int probe() {
  Line line;
  const Regs leaf1 = cpuid(1);
  const bool hypervisor = (leaf1.c >> 31) & 1;
  line.s("hvprobe: cpuid 1 ecx.hypervisor=")
      .dec(hypervisor)
      .s(" ecx.vmx=")
      .dec((leaf1.c >> 5) & 1)
      .print();
  if (!hypervisor)
    return 0;
  const Regs base = cpuid(0x40000000);
  char signature[13];
  const uint32_t words[3] = {base.b, base.c, base.d};
  for (int i = 0; i < 12; ++i) {
    const char c = static_cast<char>(words[i / 4] >> (8 * (i % 4)));
    signature[i] = (c >= 0x20 && c < 0x7F) ? c : '.';
  }
  signature[12] = 0;
  line.s("hvprobe: cpuid 0x40000000 signature \"")
      .s(signature)
      .s("\" max leaf ")
      .hex(base.a)
      .print();
  const bool agevisor = base.b == 0x76656761 && base.c == 0x726F7369 && base.d == 0;
  if (!agevisor)
    return 0;
  uint64_t rax = static_cast<uint64_t>(hv::Hypercall::kVersion);
  uint64_t rbx = 0, rcx = 0, rdx = 0;
  asm volatile("vmcall" : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx) : : "memory");
  line.s("hvprobe: vmcall version from CPL 3: status ")
      .dec(rax)
      .s(" (")
      .s(status_name(rax))
      .s("), rbx ")
      .hex(rbx)
      .print();
  return 0;
}

}  // namespace

extern "C" [[noreturn]] void _start() { sys_exit(probe()); }
