// Bring-up of VMX on each processor: region layout, VMX enable, the EPT and the host tables
// (shared), each CPU's own pages and VMCS. The VMCS contents are written by vmcs_setup.cc.
#include "hv/target/launch.h"

#include <new>

#include "arch/msr.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/target/safe_msr.h"
#include "arch/target/target_cpu_io.h"
#include "arch/target/vmx.h"
#include "arch/vm_instruction_error.h"
#include "arch/vmx_cr_fixed.h"
#include "hv/feature_control_plan.h"
#include "hv/host_page_tables.h"
#include "hv/host_tables.h"
#include "hv/mtrr_reader.h"
#include "hv/target/launch_internal.h"
#include "hv/target/log.h"
#include "hv/target/vmcs.h"

namespace hv::target {
namespace {

using arch::Error;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kHostStackPages = 8;
constexpr uint64_t kIstStackPages = 2;
// vcpu and native context, VMXON region, VMCS, guest TSS, GDT and TSS, stacks.
constexpr uint64_t kCpuAreaPages = 5 + kHostStackPages + kHostIstCount * kIstStackPages;

// In the image copy, set by prepare_launch(): how the other CPUs find the shared state.
constinit SharedLaunch* shared_launch = nullptr;

constexpr uint64_t cover_bytes(uint64_t memory_top) {
  const uint64_t four_gib = uint64_t{4} << 30;
  const uint64_t top = memory_top > four_gib ? memory_top : four_gib;
  return arch::align_up(top, arch::kPageSize1G);
}

constexpr uint64_t pages_for(uint64_t bytes) { return (bytes + kPage - 1) / kPage; }

class RegionAllocator {
 public:
  explicit RegionAllocator(HypervisorRegion region)
      : next_(region.base), end_(region.base + region.pages * kPage) {}
  arch::Result<uint64_t> pages(uint64_t count) {
    if (next_ + count * kPage > end_)
      return Error::kNoMemory;
    const uint64_t base = next_;
    next_ += count * kPage;
    return base;
  }

 private:
  uint64_t next_;
  uint64_t end_;
};

template <typename T>
T* at(uint64_t phys) {
  return reinterpret_cast<T*>(phys);  // the host runs identity mapped
}

static_assert(sizeof(Vcpu) <= 2048 && sizeof(arch::NativeContext) <= 2048);

// One CPU's own pages, kCpuAreaPages from `base`.
void carve_cpu(uint64_t base, Layout& l) {
  RegionAllocator a(HypervisorRegion{base, kCpuAreaPages});
  l.vcpu = at<Vcpu>(a.pages(1).value());
  l.native = at<arch::NativeContext>(reinterpret_cast<uint64_t>(l.vcpu) + 2048);
  l.vmxon = a.pages(1).value();
  l.vmcs = a.pages(1).value();
  l.guest_tss = a.pages(1).value();
  l.gdt_and_tss = a.pages(1).value();
  l.host_stack_top = a.pages(kHostStackPages).value() + kHostStackPages * kPage;
  for (uint64_t& top : l.ist_tops)
    top = a.pages(kIstStackPages).value() + kIstStackPages * kPage;
}

arch::Result<Layout> carve(const LaunchRequest& request, bool pages_1g, uint64_t* shared,
                           uint64_t* cpu_areas) {
  RegionAllocator a(request.region);
  Layout l;
  l.index = 0;
  l.cpu_count = request.cpu_count;
  carve_cpu(TRY(a.pages(kCpuAreaPages)), l);
  *cpu_areas = TRY(a.pages(kCpuAreaPages * (request.cpu_count - 1)));
  *shared = TRY(a.pages(pages_for(sizeof(SharedLaunch))));
  l.msr_bitmap = TRY(a.pages(1));
  l.io_bitmaps = TRY(a.pages(2));
  l.idt = TRY(a.pages(1));
  const uint64_t cover = cover_bytes(request.memory_top);
  l.host_tables_count = host_page_table_count(cover, pages_1g);
  l.host_tables = TRY(a.pages(l.host_tables_count));
  l.ept_state = TRY(a.pages(pages_for(sizeof(EptState))));
  l.pool_pages = request.pool_pages;
  l.pool = TRY(a.pages(l.pool_pages));
  l.cover = cover;
  return l;
}

// agevisor's EPT: the identity map of mm/ from the memory map and the MTRRs, in the pool.
// In rwx-stash mode RAM starts access-tracked (the seed's speculative entries), so the very
// first access to every leaf goes through the lockless fault resolver.
arch::Result<EptState*> build_ept(const LaunchRequest& r, const Layout& l) {
  auto* ept = new (reinterpret_cast<void*>(l.ept_state)) EptState();
  const auto pool = ept->pool.init(arch::Hpa(l.pool), l.pool_pages);
  if (!pool.ok())
    return pool.error();
  HostEptContext& c = ept->context;
  c.memory = &ept->pool;
  const CpuSnapshot& s = *r.snapshot;
  arch::target::TargetCpuIo io;
  const auto mtrrs = read_mtrr_state(io, s.address_widths().physical);
  if (!mtrrs.ok()) {
    log::printf("ept: cannot read the MTRRs: %s", arch::error_name(mtrrs.error()));
    return mtrrs.error();
  }
  c.mtrrs = mtrrs.value();
  c.caps = s.ept_capabilities();
  c.caps.ad_enabled = r.tracking_mode == mm::TrackingMode::kAccessedBit;
  mm::IdentityMapSpec spec{r.ranges, r.range_count, &c.mtrrs, c.caps};
  spec.ram_state = r.tracking_mode == mm::TrackingMode::kRwxStash ? mm::RamInitialState::kTracked
                                                                  : mm::RamInitialState::kPresent;
  spec.max_ram_page = arch::kPageSize2M;
  const auto map = mm::build_identity_map(ept->pool, spec);
  if (!map.ok()) {
    log::printf("ept: building the identity map failed: %s", arch::error_name(map.error()));
    return map.error();
  }
  c.map = map.value();
  // agevisor's own ranges stay unmapped; a guest access is backed by a dummy page.
  const auto dummy = ept->pool.allocate_table();
  if (!dummy.ok())
    return dummy.error();
  c.dummy_page = dummy.value();
  for (size_t i = 0; i < r.range_count; ++i) {
    const mm::MemoryRange& range = r.ranges[i];
    if (range.kind == mm::MemoryKind::kHypervisor &&
        !c.hidden.add(range.start.value(), range.end().value()))
      log::printf("ept: more than %zu hypervisor ranges: accesses to %#lx-%#lx are refused",
                  HiddenRanges::kMax, range.start.value(), range.end().value());
  }
  const auto tracker = start_tracker(*ept, r.ranges, r.range_count, r.tracking_mode);
  if (!tracker.ok()) {
    log::printf("track: cannot start the tracker: %s", arch::error_name(tracker.error()));
    return tracker.error();
  }
  // EPTP: write-back paging structures, 4-level walk, A/D only in accessed-bit mode.
  ept->eptp = c.map.root.value() | 6 | (uint64_t{3} << 3) | (c.caps.ad_enabled ? arch::bit(6) : 0);
  log::printf("ept: identity map below %#lx: %lu tables, leaves 1G %lu 2M %lu 4K %lu; RAM %s",
              c.map.top, c.map.table_count(), c.map.leaves[3], c.map.leaves[2], c.map.leaves[1],
              spec.ram_state == mm::RamInitialState::kTracked ? "access-tracked" : "present");
  return ept;
}

// The host IDT, shared by every CPU (each CPU's TSS has its own IST stacks).
void build_host_idt(const Layout& l) {
  auto* idt = at<arch::InterruptGate64>(l.idt);
  for (unsigned v = 0; v < 32; ++v)
    idt[v] = make_host_gate(v, agevisor_host_idt_stubs[v]);
}

void build_host_gdt(const Layout& l) {
  auto* tss = at<arch::Tss64>(l.gdt_and_tss + 1024);
  *tss = arch::Tss64{};
  for (unsigned i = 0; i < kHostIstCount; ++i)
    tss->ist[i] = l.ist_tops[i];
  *at<HostGdt>(l.gdt_and_tss) = make_host_gdt(reinterpret_cast<uint64_t>(tss));
}

// IA32_FEATURE_CONTROL (this CPU's own), the CR0/CR4 fixed bits, then VMXON. [SDM 3C
// "Enabling and Entering VMX Operation"]
arch::Result<void> enable_vmx(const CpuSnapshot& s, const Layout& l) {
  const FeatureControlPlan plan = FeatureControlPlan::from(
      arch::FeatureControl(arch::target::rdmsr(arch::msr::kIa32FeatureControl)));
  if (plan.action == FeatureControlPlan::Action::kRefuse) {
    log::write_line("vmx: IA32_FEATURE_CONTROL is locked with VMX disabled");
    return Error::kDisabledByFirmware;
  }
  if (plan.action == FeatureControlPlan::Action::kLockAndEnable) {
    arch::target::wrmsr(arch::msr::kIa32FeatureControl, plan.value_to_write);
  }
  const arch::CrFixedBits cr0{s.cr0_fixed0.value, s.cr0_fixed1.value};
  const arch::CrFixedBits cr4{s.cr4_fixed0.value, s.cr4_fixed1.value};
  arch::target::write_cr0(cr0.apply(arch::target::read_cr0()));
  arch::target::write_cr4(cr4.apply(arch::target::read_cr4()));

  *at<uint32_t>(l.vmxon) = s.basic().revision_id();
  const auto outcome = arch::target::vmxon(l.vmxon);
  if (outcome != arch::target::VmxOutcome::kSucceed) {
    log::printf("vmx: VMXON failed (%s)", outcome == arch::target::VmxOutcome::kFailInvalid
                                              ? "VMfailInvalid"
                                              : "VMfailValid");
    arch::target::write_cr4(arch::target::read_cr4() & ~arch::kCr4Vmxe);
    return Error::kVmxInstructionFailed;
  }
  *at<uint32_t>(l.vmcs) = s.basic().revision_id();
  if (arch::target::vmclear(l.vmcs) != arch::target::VmxOutcome::kSucceed ||
      arch::target::vmptrld(l.vmcs) != arch::target::VmxOutcome::kSucceed) {
    log::write_line("vmx: VMCLEAR/VMPTRLD of a fresh VMCS failed");
    leave_vmx();
    return Error::kVmxInstructionFailed;
  }
  return {};
}

// VMXON on this CPU, then its VMCS; on error VMX is off again.
arch::Result<void> launch_cpu(const SharedLaunch& shared, const Layout& l) {
  build_host_gdt(l);
  const auto enabled = enable_vmx(shared.snapshot, l);
  if (!enabled.ok())
    return enabled.error();
  // Whatever this CPU may have cached under an EPT before is dropped.
  arch::target::InveptDescriptor everything;
  (void)arch::target::invept(2, everything);
  const auto written = write_vmcs(shared.request, l, shared.host_cr3, shared.ept);
  if (!written.ok()) {
    leave_vmx();
    return written.error();
  }
  return {};
}

}  // namespace

void leave_vmx() {
  (void)arch::target::vmxoff();
  arch::target::write_cr4(arch::target::read_cr4() & ~arch::kCr4Vmxe);
}

uint64_t region_pages_needed(uint64_t memory_top, bool host_pages_1g, uint64_t pool_pages,
                             uint32_t cpus) {
  const uint64_t cover = cover_bytes(memory_top);
  return kCpuAreaPages * cpus + pages_for(sizeof(SharedLaunch)) + 4 +
         host_page_table_count(cover, host_pages_1g) + pages_for(sizeof(EptState)) + pool_pages;
}

arch::Result<void> prepare_launch(const LaunchRequest& request) {
  const CpuSnapshot& s = *request.snapshot;
  const bool pages_1g = s.features().pages_1g;
  if (request.cpu_count == 0 || request.cpu_count > kMaxLaunchCpus)
    return Error::kInvalidArgument;
  uint64_t shared_page = 0;
  uint64_t cpu_areas = 0;
  const Layout l = TRY(carve(request, pages_1g, &shared_page, &cpu_areas));
  log::printf("vmx: region %#lx + %lu pages for %u CPUs; identity map below %#lx",
              request.region.base, request.region.pages, request.cpu_count, l.cover);

  const auto cr3 = build_host_identity_map(at<uint64_t>(l.host_tables), l.host_tables_count,
                                           l.host_tables, l.cover, pages_1g);
  if (!cr3.ok())
    return cr3.error();
  build_host_idt(l);
  EptState* ept = TRY(build_ept(request, l));

  auto* shared = new (at<void>(shared_page)) SharedLaunch();
  shared->request = request;
  shared->request.ranges = nullptr;
  shared->request.range_count = 0;
  shared->snapshot = s;
  shared->request.snapshot = &shared->snapshot;
  shared->shared = l;
  shared->host_cr3 = cr3.value();
  shared->ept = ept;
  shared->cpu_areas = cpu_areas;
  shared_launch = shared;
  // Until the start-up hypercalls end it, a failure on any CPU may still undo every CPU.
  ept->leave_open.store(true, std::memory_order_release);
  return launch_cpu(*shared, l);
}

arch::Result<void> prepare_cpu_launch(uint32_t index) {
  const SharedLaunch* shared = shared_launch;
  if (shared == nullptr || index == 0 || index >= shared->request.cpu_count)
    return Error::kInvalidArgument;
  Layout l = shared->shared;
  l.index = index;
  carve_cpu(shared->cpu_areas + (index - 1) * kCpuAreaPages * kPage, l);
  return launch_cpu(*shared, l);
}

void finish_failed_launch(int status, uint32_t index) {
  if (shared_launch != nullptr) {
    EptState& ept = *shared_launch->ept;
    ept.flushes.set_online(index, false);
    if (Vcpu* v = ept.vcpus[index]; v != nullptr)
      v->in_vmx.store(false, std::memory_order_release);
  }
  if (status == 1) {
    log::write_line("vmx: VMLAUNCH failed: VMfailInvalid (no current VMCS)");
  } else if (status == 2) {
    const uint32_t error = vmread(arch::VmcsField32::kVmInstructionError);
    log::printf("vmx: VMLAUNCH failed: VMfailValid, VM-instruction error %u (%s)", error,
                arch::vm_instruction_error_name(error));
  } else {
    log::write_line("vmx: the first VM entry failed; agevisor left VMX, the firmware goes on");
    return;  // the exit path already reported the failure and left VMX
  }
  leave_vmx();
}

}  // namespace hv::target
