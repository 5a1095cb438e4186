// A VMCS as a map from field encoding to value, for host tests of the exit path. Fields
// never written read as 0, like a freshly cleared VMCS; every write is recorded.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "arch/vmcs_fields.h"
#include "hv/exits/exit_seams.h"

namespace fakes {

class FakeVmcs {
 public:
  uint16_t read(arch::VmcsField16 f) const { return static_cast<uint16_t>(get(arch::encoding(f))); }
  uint32_t read(arch::VmcsField32 f) const { return static_cast<uint32_t>(get(arch::encoding(f))); }
  uint64_t read(arch::VmcsField64 f) const { return get(arch::encoding(f)); }
  uint64_t read(arch::VmcsFieldNatural f) const { return get(arch::encoding(f)); }
  void write(arch::VmcsField16 f, uint16_t v) { put(arch::encoding(f), v); }
  void write(arch::VmcsField32 f, uint32_t v) { put(arch::encoding(f), v); }
  void write(arch::VmcsField64 f, uint64_t v) { put(arch::encoding(f), v); }
  void write(arch::VmcsFieldNatural f, uint64_t v) { put(arch::encoding(f), v); }

  // Test setup: sets a field without recording it as a write by the code under test.
  template <typename Field, typename Value>
  void set(Field f, Value v) {
    fields_[arch::encoding(f)] = static_cast<uint64_t>(v);
  }
  template <typename Field>
  bool written(Field f) const {
    for (uint32_t e : writes_) {
      if (e == arch::encoding(f))
        return true;
    }
    return false;
  }

 private:
  uint64_t get(uint32_t encoding) const {
    auto it = fields_.find(encoding);
    return it == fields_.end() ? 0 : it->second;
  }
  void put(uint32_t encoding, uint64_t value) {
    fields_[encoding] = value;
    writes_.push_back(encoding);
  }
  std::map<uint32_t, uint64_t> fields_;
  std::vector<uint32_t> writes_;
};

// The instructions the exit handlers run for the guest, recorded instead of executed.
struct FakeExitCpu {
  std::map<uint32_t, arch::CpuidResult> cpuid_leaves;
  std::map<uint32_t, uint64_t> msrs;  // absent: the MSR raises #GP
  std::vector<std::pair<uint32_t, uint64_t>> xsetbv_calls;
  std::vector<std::pair<uint32_t, uint64_t>> wrmsr_calls;
  int wbinvd_calls = 0;
  std::vector<uint16_t> invvpid_calls;

  arch::CpuidResult cpuid(uint32_t leaf, uint32_t) {
    auto it = cpuid_leaves.find(leaf);
    return it == cpuid_leaves.end() ? arch::CpuidResult{} : it->second;
  }
  bool rdmsr_safe(uint32_t msr, uint64_t* value) {
    auto it = msrs.find(msr);
    if (it == msrs.end())
      return false;
    *value = it->second;
    return true;
  }
  bool wrmsr_safe(uint32_t msr, uint64_t value) {
    if (msrs.find(msr) == msrs.end())
      return false;
    msrs[msr] = value;
    wrmsr_calls.emplace_back(msr, value);
    return true;
  }
  void xsetbv(uint32_t xcr, uint64_t value) { xsetbv_calls.emplace_back(xcr, value); }
  void wbinvd() { ++wbinvd_calls; }
  void invvpid_single_context(uint16_t vpid) { invvpid_calls.push_back(vpid); }
  std::map<uint16_t, uint32_t> port_values;          // what io_in reads
  std::vector<std::array<uint32_t, 3>> port_writes;  // (port, size, value)
  std::vector<unsigned> sleep_entries;
  uint32_t io_in(uint16_t port, uint8_t) { return port_values[port]; }
  void io_out(uint16_t port, uint8_t size, uint32_t value) {
    port_writes.push_back({port, size, value});
  }
  void sleep_entry(unsigned type) { sleep_entries.push_back(type); }
  int nmi_unblocks = 0;
  void unblock_nmis() { ++nmi_unblocks; }
  int init_register_resets = 0;
  void reset_init_registers() { ++init_register_resets; }
};

// The EPT as the exit path sees it: answers as told, records what it was asked.
struct FakeEpt {
  hv::EptFaultResult answer = hv::EptFaultResult::kResolved;
  bool retype_ok = true;
  std::vector<std::pair<uint64_t, uint64_t>> violations;  // (gpa, qualification)
  int mtrr_writes = 0;

  hv::EptFaultResult resolve_violation(uint64_t gpa, uint64_t qualification) {
    violations.emplace_back(gpa, qualification);
    return answer;
  }
  bool mtrrs_written() {
    ++mtrr_writes;
    return retype_ok;
  }

  // Hypercalls that reach the tracker.
  hv::HypercallStatus age_answer = hv::HypercallStatus::kOk;
  hv::AgeCounts age_counts;
  int passes = 0;
  std::vector<std::pair<uint64_t, uint64_t>> working_set_copies;  // (gpa, size)
  hv::HypercallStatus age(hv::AgeCounts* counts) {
    ++passes;
    *counts = age_counts;
    return age_answer;
  }
  hv::HypercallStatus copy_working_set(uint64_t gpa, uint64_t size, uint64_t* written) {
    working_set_copies.emplace_back(gpa, size);
    *written = sizeof(hv::WorkingSetReport);
    return hv::HypercallStatus::kOk;
  }
  int timer_ticks = 0;
  uint32_t timer_reload = 0;
  uint32_t timer_tick() {
    ++timer_ticks;
    return timer_reload;
  }
  std::vector<std::pair<uint64_t, uint64_t>> log_copies;  // (gpa, size)
  hv::HypercallStatus copy_log(uint64_t gpa, uint64_t size, uint64_t* copied) {
    log_copies.emplace_back(gpa, size);
    *copied = size / 2;
    return hv::HypercallStatus::kOk;
  }
  std::vector<std::array<uint64_t, 3>> frame_age_copies;  // (gpa, frames, first)
  hv::HypercallStatus copy_frame_ages(uint64_t gpa, uint64_t frames, uint64_t first,
                                      uint64_t* written) {
    frame_age_copies.push_back({gpa, frames, first});
    *written = frames;
    return hv::HypercallStatus::kOk;
  }
  int flush_alls = 0;
  hv::HypercallStatus flush_all(uint64_t* cpus, uint64_t* generation) {
    ++flush_alls;
    *cpus = 2;
    *generation = 7;
    return hv::HypercallStatus::kOk;
  }
  bool leave_open = false;
  bool leave_allowed() const { return leave_open; }
  void close_startup() { leave_open = false; }
  int leave_requests = 0;
  bool leave_flag = false;
  bool others_leave = true;  // whether every other CPU left in time
  bool request_leave() {
    ++leave_requests;
    leave_flag = others_leave;
    return others_leave;
  }
  bool leave_requested() const { return leave_flag; }
  int syncs = 0;
  void sync_flushes() { ++syncs; }
  int flush_nmis = 0;  // NMIs still to be taken as agevisor's own
  bool take_own_nmi() {
    if (flush_nmis == 0)
      return false;
    --flush_nmis;
    return true;
  }
  std::vector<bool> online_changes;
  void set_online(bool online) { online_changes.push_back(online); }
};

static_assert(hv::VmcsAccess<FakeVmcs>);
static_assert(hv::EptService<FakeEpt>);
static_assert(hv::ExitCpu<FakeExitCpu>);

}  // namespace fakes
