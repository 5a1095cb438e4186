// What agevisor's CPUs do for each other: the cross-CPU EPT flushes of docs/smp.md. A
// deferred flush is a generation other CPUs catch up with at their next VM entry; a
// synchronous one also sends each of them an NMI and waits for their acknowledgement.
#include "arch/target/cpu.h"
#include "arch/target/local_apic.h"
#include "hv/target/log.h"
#include "hv/target/target_ept.h"
#include "hv/target/vcpu.h"

namespace hv::target {
namespace {

// About a second or more of waiting on hardware, and in Bochs: a CPU that does not answer
// by then is reported, never waited for forever.
constexpr uint64_t kAcknowledgeSpins = uint64_t{1} << 26;

// An NMI in the local APIC's current mode, which is the guest's: agevisor does not
// virtualize the APIC.
void send_nmi(uint32_t apic_id) { arch::target::send_nmi(apic_id, kAcknowledgeSpins); }

}  // namespace

void sync_flushes(EptState& ept, const Vcpu& self) {
  const uint64_t generation = ept.flushes.pending(self.index);
  if (generation == 0)
    return;
  flush_ept(ept, mm::FlushRequest::single_context());
  ept.flushes.flushed(self.index, generation);
}

size_t flush_everywhere(EptState& ept, Vcpu& self, mm::FlushRequest flush, uint64_t* generation) {
  const uint64_t wanted = ept.flushes.request();
  flush.merge(mm::FlushRequest::single_context());
  flush_ept(ept, flush);
  ept.flushes.flushed(self.index, wanted);
  const uint32_t count = ept.vcpu_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < count; ++i) {
    Vcpu* other = ept.vcpus[i];
    if (i == self.index || other == nullptr || !ept.flushes.online(i))
      continue;
    other->own_nmi.store(true, std::memory_order_release);
    send_nmi(other->state.apic_id);
  }
  for (uint64_t i = 0; !ept.flushes.all_flushed(wanted) && i < kAcknowledgeSpins; ++i)
    arch::target::pause();
  *generation = wanted;
  return ept.flushes.count_flushed(wanted);
}

HypercallStatus TargetEpt::flush_all(uint64_t* cpus, uint64_t* generation) {
  *cpus = flush_everywhere(*state, *vcpu, mm::FlushRequest::single_context(), generation);
  return HypercallStatus::kOk;
}

bool TargetEpt::take_own_nmi() { return vcpu->own_nmi.exchange(false, std::memory_order_acq_rel); }

// Every other CPU in VMX is asked to leave: an NMI makes it leave at the end of that VM
// exit. Each is waited for (bounded); the caller is asked last, and only if all of them
// left, so agevisor's memory is freed only once no CPU runs in VMX. A CPU parked in
// wait-for-SIPI blocks NMIs and cannot leave before a SIPI: it is reported, and then nobody
// frees anything (it leaves whenever it runs again).
bool TargetEpt::request_leave() {
  const uint32_t count = state->vcpu_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < count; ++i) {
    Vcpu* v = state->vcpus[i];
    if (i != vcpu->index && v != nullptr && v->in_vmx.load(std::memory_order_acquire))
      v->leave.store(true, std::memory_order_release);
  }
  bool all_left = true;
  for (uint32_t i = 0; i < count; ++i) {
    Vcpu* v = state->vcpus[i];
    if (i == vcpu->index || v == nullptr || !v->in_vmx.load(std::memory_order_acquire))
      continue;
    v->own_nmi.store(true, std::memory_order_release);
    send_nmi(v->state.apic_id);
    uint64_t spins = 0;
    while (!v->left.load(std::memory_order_acquire) && spins++ < kAcknowledgeSpins)
      arch::target::pause();
    if (!v->left.load(std::memory_order_acquire)) {
      log::printf("agevisor: CPU %u (APIC %u) did not leave VMX when asked", i, v->state.apic_id);
      all_left = false;
    } else {
      log::printf("agevisor: CPU %u (APIC %u) left VMX", i, v->state.apic_id);
    }
  }
  if (all_left)
    vcpu->leave.store(true, std::memory_order_release);
  return all_left;
}

void TargetEpt::set_online(bool online) {
  if (online)
    flush_ept(*state, mm::FlushRequest::single_context());  // whatever it cached is stale
  state->flushes.set_online(vcpu->index, online);
}

}  // namespace hv::target
