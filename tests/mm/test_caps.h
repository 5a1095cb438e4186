// Capability sets the mm/ tests run under: the two Bochs CPU models agevisor is tested on,
// with the optional features agevisor would enable there, plus variants for rules that
// depend on a single capability.
#pragma once

#include <array>
#include <cstdint>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/ept_sw_bits.h"
#include "mm/tracking_mode.h"

namespace mm::test {

// Ivy Bridge: execute-only, 2 MiB pages, no 1 GiB pages, no EPT A/D -> rwx-stash.
inline arch::EptCapabilities ivy_bridge() {
  return arch::EptCapabilities::from_msr(arch::kBochsIvyBridgeEptVpidCap, 36);
}

// Haswell: adds A/D and 1 GiB pages; A/D enabled in the EPT pointer -> accessed-bit mode.
inline arch::EptCapabilities haswell_ad() {
  arch::EptCapabilities c = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 39);
  c.ad_enabled = true;
  return c;
}

// Haswell with rwx-stash forced: the EPT pointer's A/D enable is off.
inline arch::EptCapabilities haswell_forced_stash() {
  arch::EptCapabilities c = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 39);
  c.ad_enabled = false;
  return c;
}

// Stash mode with mode-based execute on: bit 10 is user-execute and must be stashed too.
inline arch::EptCapabilities haswell_stash_mbe() {
  arch::EptCapabilities c = haswell_forced_stash();
  c.mode_based_execute_enabled = true;
  return c;
}

inline TrackingMode mode_for(const arch::EptCapabilities& caps) {
  return caps.ad_enabled ? TrackingMode::kAccessedBit : TrackingMode::kRwxStash;
}

inline constexpr uint64_t kPw = EptSwBits::kPolicyWritable;

// A leaf at `level` mapping a write-back page at a suitably aligned address.
inline arch::EptEntry leaf(arch::EptLevel level, uint64_t rwx, bool policy_writable) {
  arch::EptEntry e;
  e.set_rwx(rwx).set_memory_type(arch::MemoryType::kWriteBack);
  e.set_address(arch::Hpa(arch::ept_level_span(level) * 3));
  if (level != arch::EptLevel::kPte)
    e.set_large_page(true);
  return arch::EptEntry(e.raw() | (policy_writable ? kPw : 0));
}

// A non-leaf entry as agevisor builds them: full access, next table at `table`.
inline arch::EptEntry table_entry(uint64_t table) {
  arch::EptEntry e;
  e.set_rwx(0b111).set_address(arch::Hpa(table));
  return e;
}

}  // namespace mm::test
