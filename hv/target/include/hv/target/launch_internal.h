// Shared between the bring-up files of hv/target; not an interface for boot/.
#pragma once

#include <cstdint>

#include "arch/native_context.h"
#include "arch/result.h"
#include "hv/host_tables.h"
#include "hv/target/launch.h"
#include "hv/target/vcpu.h"

namespace hv::target {

// Where prepare_launch() put one CPU's things, carved from the HypervisorRegion: its own
// (vcpu to ist_tops) and the shared ones.
struct Layout {
  uint32_t index = 0;  // 0: the boot CPU
  uint32_t cpu_count = 1;
  Vcpu* vcpu = nullptr;
  arch::NativeContext* native = nullptr;  // the firmware context, for undoing a failed entry
  uint64_t vmxon = 0;
  uint64_t vmcs = 0;
  uint64_t msr_bitmap = 0;
  uint64_t io_bitmaps = 0;   // bitmap A at +0 (ports 0-7FFF), B at +4096
  uint64_t guest_tss = 0;    // a zeroed TSS the guest's TR points at (UEFI runs with TR = 0)
  uint64_t gdt_and_tss = 0;  // host GDT at +0, host TSS at +1024
  uint64_t idt = 0;
  uint64_t host_stack_top = 0;
  uint64_t ist_tops[kHostIstCount] = {};
  uint64_t host_tables = 0;
  uint64_t host_tables_count = 0;
  uint64_t ept_state = 0;  // hv::target::EptState (pool and EPT context)
  uint64_t pool = 0;
  uint64_t pool_pages = 0;
  uint64_t cover = 0;  // bytes identity-mapped by the host page tables
};

// What every CPU's launch needs after prepare_launch(): kept in the region, found through a
// pointer in the image copy.
struct SharedLaunch {
  LaunchRequest request;  // ranges cleared: they were read during prepare_launch() only
  CpuSnapshot snapshot;   // the boot CPU's (capabilities are the same on every CPU)
  Layout shared;          // the shared fields, and the boot CPU's own
  uint64_t host_cr3 = 0;
  EptState* ept = nullptr;
  uint64_t cpu_areas = 0;  // per-CPU pages of CPU 1, CPU 2, ... (kCpuAreaPages each)
};

// Writes controls, host state and guest state into the current VMCS and checks the guest
// state. vmcs_setup.cc.
arch::Result<void> write_vmcs(const LaunchRequest& request, const Layout& layout, uint64_t host_cr3,
                              EptState* ept);

// VMXOFF and CR4.VMXE cleared.
void leave_vmx();

}  // namespace hv::target
