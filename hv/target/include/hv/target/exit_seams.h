// The exit path's seams on the real processor: VMREAD/VMWRITE on the current VMCS, and the
// instructions handlers execute for the guest.
#pragma once

#include <cstdint>

#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/target/safe_msr.h"
#include "arch/target/vmx.h"
#include "hv/exits/exit_seams.h"
#include "hv/target/vmcs.h"

// An IRETQ to the next instruction (vmx_stubs.nasm): ends the NMI blocking an NMI-caused VM
// exit leaves in VMX root.
extern "C" __attribute__((visibility("hidden"))) void agevisor_iret_to_self();

namespace hv::target {

struct TargetVmcs {
  uint16_t read(arch::VmcsField16 f) { return vmread(f); }
  uint32_t read(arch::VmcsField32 f) { return vmread(f); }
  uint64_t read(arch::VmcsField64 f) { return vmread(f); }
  uint64_t read(arch::VmcsFieldNatural f) { return vmread(f); }
  void write(arch::VmcsField16 f, uint16_t v) { vmwrite(f, v); }
  void write(arch::VmcsField32 f, uint32_t v) { vmwrite(f, v); }
  void write(arch::VmcsField64 f, uint64_t v) { vmwrite(f, v); }
  void write(arch::VmcsFieldNatural f, uint64_t v) { vmwrite(f, v); }
};

struct TargetExitCpu {
  arch::CpuidResult cpuid(uint32_t leaf, uint32_t subleaf) {
    return arch::target::cpuid(leaf, subleaf);
  }
  bool rdmsr_safe(uint32_t msr, uint64_t* value) { return agevisor_safe_rdmsr(msr, value) == 0; }
  bool wrmsr_safe(uint32_t msr, uint64_t value) { return agevisor_safe_wrmsr(msr, value) == 0; }
  void xsetbv(uint32_t xcr, uint64_t value) { arch::target::xsetbv(xcr, value); }
  void wbinvd() { arch::target::wbinvd(); }
  void invvpid_single_context(uint16_t vpid) {
    arch::target::InvvpidDescriptor descriptor;
    descriptor.vpid = vpid;
    (void)arch::target::invvpid(1, descriptor);
  }
  uint32_t io_in(uint16_t port, uint8_t size) {
    return size == 1 ? arch::target::inb(port)
                     : (size == 2 ? arch::target::inw(port) : arch::target::inl(port));
  }
  void io_out(uint16_t port, uint8_t size, uint32_t value) {
    if (size == 1)
      arch::target::outb(port, static_cast<uint8_t>(value));
    else if (size == 2)
      arch::target::outw(port, static_cast<uint16_t>(value));
    else
      arch::target::outl(port, value);
  }
  void sleep_entry(unsigned type);  // logs (exits.cc)
  void unblock_nmis() { agevisor_iret_to_self(); }
  void reset_init_registers() {
    arch::target::write_cr2(0);
    arch::target::reset_debug_address_registers();
  }
};

static_assert(VmcsAccess<TargetVmcs>);
static_assert(ExitCpu<TargetExitCpu>);

}  // namespace hv::target
