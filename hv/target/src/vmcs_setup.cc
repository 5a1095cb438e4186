// The VMCS for the firmware-as-guest: controls, host state, and guest state captured from
// the processor as it runs now. [SDM 3C "Virtual Machine Control Structures"]
#include "arch/msr.h"
#include "arch/target/cpu.h"
#include "arch/target/registers.h"
#include "arch/vmx_controls.h"
#include "arch/vmx_cr_fixed.h"
#include "hv/acpi_sleep.h"
#include "hv/aging_period.h"
#include "hv/guest_capture.h"
#include "hv/guest_state_checker.h"
#include "hv/target/launch_internal.h"
#include "hv/target/log.h"
#include "hv/target/vmcs.h"
#include "hv/xsetbv_check.h"

#include <new>

extern "C" __attribute__((visibility("hidden"))) char agevisor_vmexit_entry[];

namespace hv::target {
namespace {

using arch::VmcsField16;
using arch::VmcsField32;
using arch::VmcsField64;
using arch::VmcsFieldNatural;

constexpr uint64_t kEferLma = arch::bit(10);

arch::Result<VmxControls> choose_controls(const CpuSnapshot& s, bool long_mode_guest,
                                          bool periodic_aging, bool io_bitmaps, bool several_cpus) {
  VmxControlsRequest request = agevisor_controls_request();
  // With more than one CPU, NMIs exit: agevisor's own flush and leave requests are NMIs,
  // the guest's are injected back (hv/exits/exit_handler.h).
  if (several_cpus)
    request.pin.required |= arch::pin_based::kNmiExiting | arch::pin_based::kVirtualNmis;
  if (io_bitmaps)
    request.proc.optional |= arch::proc_based::kIoBitmaps;
  // Periodic aging needs the timer to keep counting across other exits: "save VMX-preemption
  // timer value" on exit, or every exit would restart the period.
  request.pin.optional = periodic_aging ? arch::pin_based::kPreemptionTimer : 0;
  if (periodic_aging)
    request.exit.optional |= arch::exit_ctls::kSavePreemptionTimer;
  request.exit.required |= arch::exit_ctls::kSaveDebugControls;
  request.entry.required |= arch::entry_ctls::kLoadDebugControls;
  if (long_mode_guest)
    request.entry.required |= arch::entry_ctls::kIa32eModeGuest;
  NegotiationError error;
  auto controls = negotiate_controls(s, request, &error);
  if (!controls.ok()) {
    log::printf("vmx: %s controls: required bits %#x cannot be set", error.control_set,
                error.missing);
  }
  return controls;
}

void write_controls(VmcsWriter& w, const VmxControls& c, const Layout& l, uint64_t eptp) {
  w(VmcsField32::kPinbasedControls, c.pin);
  w(VmcsField32::kProcbasedControls, c.proc);
  w(VmcsField32::kSecondaryProcbasedControls, c.proc2);
  w(VmcsField32::kExitControls, c.exit);
  w(VmcsField32::kEntryControls, c.entry);
  w(VmcsField32::kExceptionBitmap, 0);
  w(VmcsField32::kPageFaultErrorCodeMask, 0);
  w(VmcsField32::kPageFaultErrorCodeMatch, 0);
  w(VmcsField32::kCr3TargetCount, 0);
  w(VmcsField32::kExitMsrStoreCount, 0);
  w(VmcsField32::kExitMsrLoadCount, 0);
  w(VmcsField32::kEntryMsrLoadCount, 0);
  w(VmcsField32::kEntryInterruptionInfo, 0);
  w(VmcsField64::kMsrBitmap, l.msr_bitmap);
  w(VmcsField64::kIoBitmapA, l.io_bitmaps);
  w(VmcsField64::kIoBitmapB, l.io_bitmaps + 4096);
  w(VmcsField64::kEptPointer, eptp);
  if ((c.proc2 & arch::proc_based2::kVpid) != 0)
    w(VmcsField16::kVpid, 1);
  w(VmcsField64::kVmcsLinkPointer, ~uint64_t{0});
}

void write_host_state(VmcsWriter& w, const Layout& l, uint64_t host_cr3, const CpuSnapshot& s) {
  w(VmcsFieldNatural::kHostCr0, arch::target::read_cr0());
  w(VmcsFieldNatural::kHostCr3, host_cr3);
  w(VmcsFieldNatural::kHostCr4, host_cr4(arch::target::read_cr4(), s.features().xsave));
  w(VmcsField16::kHostCsSelector, kHostCodeSelector);
  for (auto f :
       {VmcsField16::kHostSsSelector, VmcsField16::kHostDsSelector, VmcsField16::kHostEsSelector,
        VmcsField16::kHostFsSelector, VmcsField16::kHostGsSelector}) {
    w(f, kHostDataSelector);
  }
  w(VmcsField16::kHostTrSelector, kHostTssSelector);
  w(VmcsFieldNatural::kHostFsBase, 0);
  w(VmcsFieldNatural::kHostGsBase, reinterpret_cast<uint64_t>(l.vcpu));
  w(VmcsFieldNatural::kHostTrBase, l.gdt_and_tss + 1024);
  w(VmcsFieldNatural::kHostGdtrBase, l.gdt_and_tss);
  w(VmcsFieldNatural::kHostIdtrBase, l.idt);
  w(VmcsField32::kHostSysenterCs, 0);
  w(VmcsFieldNatural::kHostSysenterEsp, 0);
  w(VmcsFieldNatural::kHostSysenterEip, 0);
  w(VmcsField64::kHostEfer, arch::target::rdmsr(arch::msr::kIa32Efer));
  w(VmcsField64::kHostPat, arch::target::rdmsr(arch::msr::kIa32Pat));
  // The exit stub finds its vcpu in the word at HOST_RSP (16-byte aligned).
  const uint64_t host_rsp = l.host_stack_top - 16;
  *reinterpret_cast<Vcpu**>(host_rsp) = l.vcpu;
  w(VmcsFieldNatural::kHostRsp, host_rsp);
  w(VmcsFieldNatural::kHostRip, reinterpret_cast<uint64_t>(agevisor_vmexit_entry));
}

arch::Result<Segment> capture(const DescriptorTableView& gdt, uint16_t selector, const char* name) {
  auto segment = capture_segment(gdt, selector);
  if (!segment.ok())
    log::printf("vmx: cannot capture %s selector %#x", name, selector);
  return segment;
}

// The firmware's state as it is now; RSP, RIP and RFLAGS are written by agevisor_vmlaunch.
arch::Result<GuestState> capture_guest_state(const Layout& l) {
  namespace t = arch::target;
  GuestState g;
  const auto gdtr = t::sgdt();
  const auto idtr = t::sidt();
  const DescriptorTableView gdt{reinterpret_cast<const uint64_t*>(gdtr.base), gdtr.limit};
  g.cr0 = t::read_cr0();
  g.cr3 = t::read_cr3();
  g.cr4 = t::read_cr4();
  g.dr7 = t::read_dr7();
  g.cs = TRY(capture(gdt, t::read_cs(), "CS"));
  g.ss = TRY(capture(gdt, t::read_ss(), "SS"));
  g.ds = TRY(capture(gdt, t::read_ds(), "DS"));
  g.es = TRY(capture(gdt, t::read_es(), "ES"));
  g.fs = TRY(capture(gdt, t::read_fs(), "FS"));
  g.gs = TRY(capture(gdt, t::read_gs(), "GS"));
  g.ldtr = TRY(capture(gdt, t::read_ldtr(), "LDTR"));
  g.tr = capture_tr(gdt, t::read_tr(), l.guest_tss);
  g.fs.base = t::rdmsr(arch::msr::kIa32FsBase);
  g.gs.base = t::rdmsr(arch::msr::kIa32GsBase);
  g.gdtr = {gdtr.base, gdtr.limit};
  g.idtr = {idtr.base, idtr.limit};
  g.debugctl = t::rdmsr(arch::msr::kIa32DebugCtl);
  g.sysenter_cs = t::rdmsr(arch::msr::kIa32SysenterCs);
  g.sysenter_esp = t::rdmsr(arch::msr::kIa32SysenterEsp);
  g.sysenter_eip = t::rdmsr(arch::msr::kIa32SysenterEip);
  g.efer = t::rdmsr(arch::msr::kIa32Efer);
  g.pat = t::rdmsr(arch::msr::kIa32Pat);
  g.rflags = t::read_rflags();
  return g;
}

void write_guest_state(VmcsWriter& w, const GuestState& g) {
  using F32 = VmcsField32;
  using FN = VmcsFieldNatural;
  w(FN::kGuestCr0, g.cr0);
  w(FN::kGuestCr3, g.cr3);
  w(FN::kGuestCr4, g.cr4);
  w(FN::kGuestDr7, g.dr7);
  write_segments_and_tables(g, w);
  w(VmcsField64::kGuestDebugctl, g.debugctl);
  w(F32::kGuestSysenterCs, static_cast<uint32_t>(g.sysenter_cs));
  w(FN::kGuestSysenterEsp, g.sysenter_esp);
  w(FN::kGuestSysenterEip, g.sysenter_eip);
  w(VmcsField64::kGuestEfer, g.efer);
  w(VmcsField64::kGuestPat, g.pat);
  w(FN::kGuestRflags, g.rflags);
  w(F32::kGuestActivityState, static_cast<uint32_t>(g.activity));
  w(F32::kGuestInterruptibilityState, g.interruptibility);
  w(FN::kGuestPendingDebugExceptions, g.pending_debug_exceptions);
}

// Guest/host masks and read shadows: the guest sees its own CR0/CR4 values while the bits
// VMX forces stay forced. CR0.PE and PG are in the mask too, so every mode switch exits and
// the IA-32e-mode-guest entry control can follow EFER.LMA. [SDM 3C "Guest/Host Masks and
// Read Shadows for CR0 and CR4"]
void write_cr_shadows(VmcsWriter& w, const Vcpu& v, uint64_t cr0, uint64_t cr4_before_vmxe) {
  const auto cr0_rules = arch::CrFixedBits::guest_cr0(v.state.cr0_fixed0, v.state.cr0_fixed1, true);
  const arch::CrFixedBits cr4_rules{v.state.cr4_fixed0, v.state.cr4_fixed1};
  w(VmcsFieldNatural::kCr0GuestHostMask, cr0_rules.forced_mask() | arch::kCr0Pe | arch::kCr0Pg);
  w(VmcsFieldNatural::kCr0ReadShadow, cr0);
  w(VmcsFieldNatural::kCr4GuestHostMask, cr4_rules.forced_mask());
  w(VmcsFieldNatural::kCr4ReadShadow, cr4_before_vmxe);
}

GuestCheckContext check_context(const Vcpu& v, const CpuSnapshot& s) {
  GuestCheckContext c;
  c.cr0_fixed0 = v.state.cr0_fixed0;
  c.cr0_fixed1 = v.state.cr0_fixed1;
  c.cr4_fixed0 = v.state.cr4_fixed0;
  c.cr4_fixed1 = v.state.cr4_fixed1;
  c.max_phys_addr = s.address_widths().physical;
  c.unrestricted_guest = (v.controls.proc2 & arch::proc_based2::kUnrestrictedGuest) != 0;
  c.ia32e_mode_guest = (v.controls.entry & arch::entry_ctls::kIa32eModeGuest) != 0;
  c.load_debug_controls = (v.controls.entry & arch::entry_ctls::kLoadDebugControls) != 0;
  c.load_pat = (v.controls.entry & arch::entry_ctls::kLoadPat) != 0;
  c.load_efer = (v.controls.entry & arch::entry_ctls::kLoadEfer) != 0;
  return c;
}

void init_vcpu(Vcpu& v, const LaunchRequest& r, const Layout& l, uint64_t eptp) {
  const CpuSnapshot& s = *r.snapshot;
  new (&v) Vcpu();
  v.self = &v;
  v.index = l.index;
  VcpuState& st = v.state;
  st.apic_id = arch::target::cpuid(1, 0).ebx >> 24;
  st.cr0_fixed0 = s.cr0_fixed0.value;
  st.cr0_fixed1 = s.cr0_fixed1.value;
  st.cr4_fixed0 = s.cr4_fixed0.value;
  st.cr4_fixed1 = s.cr4_fixed1.value;
  st.advanced_exit_info = s.ept_capabilities().advanced_exit_info;
  st.tracking_mode = r.tracking_mode;
  v.eptp = eptp;
  v.vmxon_phys = l.vmxon;
  v.vmcs_phys = l.vmcs;
  const auto xcr0 = arch::target::cpuid(0xD, 0);
  st.supported_xcr0 = (uint64_t{xcr0.edx} << 32) | xcr0.eax;
  st.msr_policy.variable_mtrr_count = static_cast<uint8_t>(s.mtrr_cap.value & 0xFF);
  st.msr_policy.fixed_mtrrs = (s.mtrr_cap.value & arch::bit(8)) != 0;
  v.native = l.native;
}

void log_violations(const GuestStateReport& report) {
  const int shown =
      report.count < GuestStateReport::kMaxRecorded ? report.count : GuestStateReport::kMaxRecorded;
  for (int i = 0; i < shown; ++i) {
    log::printf("vmx: guest state: %s: %s", report.violations[i].field, report.violations[i].rule);
  }
  if (report.count > shown)
    log::printf("vmx: guest state: %d more", report.count - shown);
}

}  // namespace

arch::Result<void> write_vmcs(const LaunchRequest& r, const Layout& l, uint64_t host_cr3,
                              EptState* ept) {
  Vcpu& v = *l.vcpu;
  const uint64_t eptp = ept->eptp;
  init_vcpu(v, r, l, eptp);
  v.ept = ept;
  const bool boot_cpu = l.index == 0;
  GuestState g = TRY(capture_guest_state(l));
  // The ACPI PM1 control ports, read from the firmware's tables (identity-mapped now).
  struct PhysicalMemory {
    bool read(uint64_t phys, void* out, size_t n) {
      const auto* from = reinterpret_cast<const volatile uint8_t*>(phys);
      auto* to = static_cast<uint8_t*>(out);
      for (size_t i = 0; i < n; ++i)
        to[i] = from[i];
      return true;
    }
  } physical;
  v.state.sleep_ports = find_sleep_control_ports(physical, r.acpi_rsdp);
  const bool watch_sleep = v.state.sleep_ports.pm1a != 0;
  v.controls = TRY(choose_controls(*r.snapshot, (g.efer & kEferLma) != 0, r.period_ms != 0,
                                   watch_sleep, l.cpu_count > 1));
  if (watch_sleep && (v.controls.proc & arch::proc_based::kIoBitmaps) != 0) {
    auto* bitmaps = reinterpret_cast<uint8_t*>(l.io_bitmaps);
    for (uint16_t base : {v.state.sleep_ports.pm1a, v.state.sleep_ports.pm1b}) {
      for (uint16_t port = base; base != 0 && port < base + 2; ++port)
        bitmaps[port / 8] = static_cast<uint8_t>(bitmaps[port / 8] | (1u << (port % 8)));
    }
    if (boot_cpu)
      log::printf("acpi: PM1 control at port %#x%s: sleep entries are reported",
                  v.state.sleep_ports.pm1a, v.state.sleep_ports.pm1b != 0 ? " (and PM1b)" : "");
  } else {
    v.state.sleep_ports = {};
    if (boot_cpu)
      log::printf("acpi: %s: sleep entries are not reported",
                  watch_sleep ? "no I/O bitmaps" : "no FADT PM1 control port found");
  }
  const AgingPeriod period =
      aging_period(r.period_ms, r.tsc_hz, r.snapshot->misc().preemption_timer_rate());
  const bool timer = (v.controls.pin & arch::pin_based::kPreemptionTimer) != 0 &&
                     (v.controls.exit & arch::exit_ctls::kSavePreemptionTimer) != 0;
  if (r.period_ms != 0 && (!timer || period.ticks == 0)) {
    if (boot_cpu)
      log::printf("track: periodic aging unavailable (%s): passes run only when asked",
                  !timer ? "no VMX-preemption timer with save-on-exit" : "TSC frequency unknown");
    v.controls.pin &= ~arch::pin_based::kPreemptionTimer;
    v.controls.exit &= ~arch::exit_ctls::kSavePreemptionTimer;
  } else if (r.period_ms != 0 && boot_cpu) {
    ept->timer_ticks = period.ticks;
    log::printf("track: periodic aging every %lu ms%s (preemption timer %u ticks, TSC %lu MHz)",
                period.effective_ms, period.clamped ? " (the longest the timer allows)" : "",
                period.ticks, r.tsc_hz / 1'000'000);
  }
  v.state.cpuid_policy = {v.controls.proc2, r.hide_hypervisor};
  v.state.virtual_nmis = (v.controls.pin & arch::pin_based::kVirtualNmis) != 0;
  MsrBitmap bitmap(reinterpret_cast<uint8_t*>(l.msr_bitmap));
  configure_msr_bitmap(bitmap, v.state.msr_policy);

  // The firmware context to return to if the first entry fails (agevisor_resume_native).
  const auto gdtr = arch::target::sgdt();
  const auto idtr = arch::target::sidt();
  *l.native = arch::NativeContext{};
  l.native->cr3 = g.cr3;
  l.native->gdtr = {gdtr.limit, gdtr.base, {}};
  l.native->idtr = {idtr.limit, idtr.base, {}};
  l.native->cs = g.cs.selector;
  l.native->ss = g.ss.selector;
  l.native->ds = g.ds.selector;
  l.native->es = g.es.selector;
  l.native->fs = g.fs.selector;
  l.native->gs = g.gs.selector;
  l.native->fs_base = g.fs.base;
  l.native->gs_base = g.gs.base;
  l.native->tr = g.tr.selector;  // 0 unless the firmware loaded a TSS of its own

  VmcsWriter w;
  write_controls(w, v.controls, l, eptp);
  if ((v.controls.pin & arch::pin_based::kPreemptionTimer) != 0)
    w(VmcsField32::kPreemptionTimerValue, ept->timer_ticks);
  write_host_state(w, l, host_cr3, *r.snapshot);
  write_guest_state(w, g);
  write_cr_shadows(w, v, g.cr0, g.cr4 & ~arch::kCr4Vmxe);
  if (!w.ok()) {
    log::printf("vmx: VMWRITE of %s failed", arch::vmcs_field_name(w.failed_field()));
    return arch::Error::kVmxInstructionFailed;
  }

  const GuestStateReport report = check_guest_state(g, check_context(v, *r.snapshot));
  if (!report.ok()) {
    log_violations(report);
    return arch::Error::kInvalidArgument;
  }
  if ((r.corrupt_guest_state && boot_cpu) || (r.fail_last_cpu && l.index + 1 == l.cpu_count)) {
    // Written after the check on purpose: the processor, not our checker, must reject it.
    log::printf("vmx: debug option: CPU %u's guest TR made an available (not busy) TSS", l.index);
    w(VmcsField32::kGuestTrAccessRights, 0x89);
  }
  log::printf("vmx: CPU %u (APIC %u): controls pin %#x proc %#x proc2 %#x exit %#x entry %#x",
              l.index, v.state.apic_id, v.controls.pin, v.controls.proc, v.controls.proc2,
              v.controls.exit, v.controls.entry);
  // From here the CPU counts for flushes and leave requests (undone if the entry fails).
  ept->vcpus[l.index] = &v;
  uint32_t count = ept->vcpu_count.load(std::memory_order_relaxed);
  while (count < l.index + 1 &&
         !ept->vcpu_count.compare_exchange_weak(count, l.index + 1, std::memory_order_acq_rel)) {
  }
  v.in_vmx.store(true, std::memory_order_release);
  ept->flushes.set_online(l.index, true);
  return {};
}

}  // namespace hv::target
