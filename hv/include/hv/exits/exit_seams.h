// The seams of the exit path. On target they are VMREAD/VMWRITE on the current VMCS, the
// real instructions, and agevisor's EPT (hv/ept_context.h); in host tests, a FakeVmcs, a
// FakeExitCpu and a FakeEpt (tests/fakes/fake_vmcs.h).
#pragma once

#include <concepts>
#include <cstdint>

#include "arch/cpu_io.h"
#include "arch/vmcs_fields.h"
#include "hv/hypercall_abi.h"

namespace hv {

template <typename T>
concept VmcsAccess = requires(T& v, arch::VmcsField16 f16, arch::VmcsField32 f32,
                              arch::VmcsField64 f64, arch::VmcsFieldNatural fn) {
  { v.read(f16) } -> std::same_as<uint16_t>;
  { v.read(f32) } -> std::same_as<uint32_t>;
  { v.read(f64) } -> std::same_as<uint64_t>;
  { v.read(fn) } -> std::same_as<uint64_t>;
  v.write(f16, uint16_t{});
  v.write(f32, uint32_t{});
  v.write(f64, uint64_t{});
  v.write(fn, uint64_t{});
};

// What the handlers execute on the guest's behalf in VMX root.
template <typename T>
concept ExitCpu = requires(T& c, uint32_t u32, uint64_t u64, uint64_t* out) {
  { c.cpuid(u32, u32) } -> std::same_as<arch::CpuidResult>;
  { c.rdmsr_safe(u32, out) } -> std::same_as<bool>;  // false: the MSR raised #GP
  { c.wrmsr_safe(u32, u64) } -> std::same_as<bool>;
  c.xsetbv(u32, u64);
  c.wbinvd();
  c.invvpid_single_context(uint16_t{});
  // Port I/O for the guest (1, 2 or 4 bytes), for the few ports agevisor intercepts.
  { c.io_in(uint16_t{}, uint8_t{}) } -> std::same_as<uint32_t>;
  c.io_out(uint16_t{}, uint8_t{}, u32);
  // The guest is about to enter ACPI sleep state `type` (SLP_TYP): report it.
  c.sleep_entry(unsigned{});
  // After an NMI-caused VM exit NMIs stay blocked in VMX root until an IRET: one to the
  // next instruction ends that (Bochs 2.7 only ever unblocks them that way).
  c.unblock_nmis();
  // INIT: the registers outside the VMCS that INIT resets (CR2, DR0-DR3, DR6); the guest
  // owns them while it runs and the host does not use them.
  c.reset_init_registers();
};

enum class EptFaultResult : uint8_t {
  kResolved,  // the guest retries the access and it goes through (or faults again, rightly)
  kDenied,    // the guest touched memory it must not: not ours to fix (hypervisor ranges)
  kFailed,    // agevisor could not fix it (pool exhausted, retry limit)
};

// What the exit path asks of the EPT.
template <typename T>
concept EptService = requires(T& e, uint64_t u64) {
  // An EPT violation at guest-physical `gpa` with the raw exit qualification.
  { e.resolve_violation(u64, u64) } -> std::same_as<EptFaultResult>;
  // The guest wrote an MTRR: retype the map and flush; false if that failed.
  { e.mtrrs_written() } -> std::same_as<bool>;
  // The age hypercall: completes the aging pass in progress over guest RAM (or runs one)
  // and flushes; kUnknownFunction from a service without a tracker.
  { e.age(static_cast<AgeCounts*>(nullptr)) } -> std::same_as<HypercallStatus>;
  // The working_set hypercall: a WorkingSetReport written to guest-physical `gpa`.
  {
    e.copy_working_set(u64, u64, static_cast<uint64_t*>(nullptr))
    } -> std::same_as<HypercallStatus>;
  // The log hypercall: the newest log lines copied to guest-physical `gpa`.
  { e.copy_log(u64, u64, static_cast<uint64_t*>(nullptr)) } -> std::same_as<HypercallStatus>;
  // The VMX-preemption timer expired: run a slice of the aging pass (and its flush); returns
  // the timer value for the next period.
  { e.timer_tick() } -> std::same_as<uint32_t>;
  // The frame_ages hypercall: idle ages of `frames` frames from `first`, written to `gpa`.
  {
    e.copy_frame_ages(u64, u64, u64, static_cast<uint64_t*>(nullptr))
    } -> std::same_as<HypercallStatus>;
  // The flush hypercall: a synchronous EPT flush on every CPU under agevisor.
  {
    e.flush_all(static_cast<uint64_t*>(nullptr), static_cast<uint64_t*>(nullptr))
    } -> std::same_as<HypercallStatus>;
  // agevisor's own start-up: whether it is still in progress (the internal start-up-done
  // and leave hypercalls are allowed), its end, and leaving: every other CPU is asked to
  // leave VMX (by an NMI) and waited for, with a time limit; only when all of them left is
  // this CPU asked too (true), so agevisor's memory is never freed under a CPU still in
  // VMX. Then whether this CPU was asked.
  { e.leave_allowed() } -> std::same_as<bool>;
  e.close_startup();
  { e.request_leave() } -> std::same_as<bool>;
  { e.leave_requested() } -> std::same_as<bool>;
  // The last thing before every VM entry: the INVEPT this CPU owes for EPT changes other
  // CPUs made (hv/flush_generations.h), if any.
  e.sync_flushes();
  // An NMI reached this CPU: whether agevisor sent it (a flush or leave request from another
  // CPU; consumed here) rather than it being the guest's own NMI.
  { e.take_own_nmi() } -> std::same_as<bool>;
  // INIT parked this CPU in wait-for-SIPI (false), or a SIPI started it again (true, after
  // an INVEPT: its cached translations may be stale). A parked CPU is not waited for.
  e.set_online(true);
};

}  // namespace hv
