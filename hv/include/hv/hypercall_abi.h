// The hypercall ABI: what a guest puts in registers before VMCALL and what it finds after.
// Shared by agevisor, the end-to-end payloads and guest-side tools; documented in
// docs/hypercall-abi.md. Only CPL 0 may call.
//
//   in:  RAX = function (kHypercallBase + n), RBX, RCX, RDX = arguments
//   out: RAX = status (HypercallStatus), RBX, RCX, RDX = results; other registers preserved
#pragma once

#include <cstdint>

namespace hv {

// "ag" in the upper half keeps agevisor's numbers apart from other paravirtual interfaces
// (KVM's start at 1), so a guest that probes those gets kUnknownFunction, not a surprise.
inline constexpr uint64_t kHypercallBase = 0x6167'0000;
inline constexpr uint32_t kHypercallAbiVersion = 1;

enum class Hypercall : uint64_t {
  kVersion = kHypercallBase + 0,  // out: RBX = ABI version, RCX = "agev", RDX = "isor"
  kCpu = kHypercallBase + 1,      // out: RBX = APIC ID, RCX = VM exits on this CPU so far
  kLog = kHypercallBase + 2,      // in: RBX = guest-physical buffer, RCX = size; out: RBX = bytes
  // One complete aging pass over guest RAM, then INVEPT.
  // out: RBX = pages accessed since the previous pass, RCX = pages tracked, RDX = pages dirty
  kAge = kHypercallBase + 3,
  // in: RBX = guest-physical buffer, RCX = its size (>= sizeof(WorkingSetReport))
  // out: RBX = bytes written (a WorkingSetReport)
  kWorkingSet = kHypercallBase + 4,
  // in: RBX = guest-physical buffer, RCX = frames (one byte each), RDX = guest-physical
  // address of the first frame (4 KiB aligned)
  // out: RBX = frames written: each byte the frame's idle age in passes (0 = accessed in
  // the last pass, saturating at 254), kFrameNotTracked for frames outside tracked RAM
  kFrameAges = kHypercallBase + 5,
  // A synchronous EPT flush: returns once every CPU under agevisor has executed INVEPT for
  // every EPT change made before the call (an aging pass's included), so the next access
  // on any CPU is seen. out: RBX = CPUs that flushed (the caller included), RCX = the flush
  // generation they reached
  kFlush = kHypercallBase + 6,
  // Internal to agevisor's own start-up, denied at any other time (so a guest can never
  // switch agevisor off): start-up is complete on every CPU (closes both), or a CPU failed
  // to launch and agevisor leaves every CPU (VMXOFF, back to the native state).
  kStartupDone = kHypercallBase + 0x7E,
  kLeave = kHypercallBase + 0x7F,
};

inline constexpr uint8_t kFrameNotTracked = 0xFF;

enum class HypercallStatus : uint64_t {
  kOk = 0,
  kUnknownFunction = 1,
  kInvalidArgument = 2,
  kDenied = 3,    // called from CPL > 0, or a buffer that overlaps hypervisor memory
  kTimedOut = 4,  // another CPU did not answer in time (the internal leave call)
};

constexpr const char* status_name(HypercallStatus status) {
  switch (status) {
    case HypercallStatus::kOk:
      return "ok";
    case HypercallStatus::kUnknownFunction:
      return "unknown function";
    case HypercallStatus::kInvalidArgument:
      return "invalid argument";
    case HypercallStatus::kDenied:
      return "denied";
    case HypercallStatus::kTimedOut:
      return "timed out";
  }
  return "unknown status";
}

// What the age function counts (RBX, RCX, RDX). A 2 MiB leaf counts as 512 pages.
struct AgeCounts {
  uint64_t accessed_pages = 0;
  uint64_t tracked_pages = 0;
  uint64_t dirty_pages = 0;
};

// Idle-age buckets of the working-set report: frames idle for 0, 1, 2-3, 4-7, 8-15, 16-31,
// 32-63, 64-127 and 128 or more passes (multi-generation LRU's spacing).
inline constexpr unsigned kIdleBuckets = 9;

// The working_set function's answer, written to the guest's buffer as is (little-endian
// 64-bit fields, no padding).
struct WorkingSetReport {
  uint64_t passes = 0;  // aging passes run so far
  uint64_t frames = 0;  // 4 KiB RAM frames tracked (the sum of idle[])
  uint64_t idle[kIdleBuckets] = {};
};
static_assert(sizeof(WorkingSetReport) == 88);

// The lowest idle age (in passes) each bucket holds.
constexpr uint64_t idle_bucket_floor(unsigned bucket) {
  return bucket == 0 ? 0 : uint64_t{1} << (bucket - 1);
}

}  // namespace hv
