// What must be invalidated after mm/ changed entries. mm/ never flushes: it returns a
// FlushRequest and hv/ issues INVEPT (single-context when IA32_VMX_EPT_VPID_CAP bit 25 says
// so, all-context otherwise) on every CPU that may cache the EPT context.
// [SDM 3C "Guidelines for Use of the INVEPT Instruction"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"

namespace mm {

class FlushRequest {
 public:
  // Ordered by strength: merging keeps the stronger request.
  enum class Scope : uint8_t {
    kNone = 0,
    kSingleContext = 1,  // the EPT context the changed entries belong to
    kAllContexts = 2,
  };

  constexpr FlushRequest() = default;
  constexpr explicit FlushRequest(Scope scope) : scope_(scope) {}

  static constexpr FlushRequest none() { return FlushRequest(Scope::kNone); }
  static constexpr FlushRequest single_context() { return FlushRequest(Scope::kSingleContext); }
  static constexpr FlushRequest all_contexts() { return FlushRequest(Scope::kAllContexts); }

  constexpr Scope scope() const { return scope_; }
  constexpr bool needed() const { return scope_ != Scope::kNone; }

  constexpr FlushRequest& merge(FlushRequest other) {
    if (other.scope_ > scope_)
      scope_ = other.scope_;
    return *this;
  }

  constexpr bool operator==(const FlushRequest&) const = default;

 private:
  Scope scope_ = Scope::kNone;
};

// The flush a change from `before` to `after` of one entry at `level` requires before the
// processor can be relied on to see it. Per the SDM guidelines: clearing any of bits 2:0,
// changing the address, clearing A (or D in a leaf) while A/D is enabled, changing bit 7 of
// a PDPTE/PDE, or changing the memory type or ignore-PAT of a leaf. Setting bits 2:0 needs
// nothing: a stale translation can only cause an EPT violation, and the violation itself
// invalidates the mappings for the faulting address [SDM 3C "Operations that Invalidate
// Cached Mappings"], so the next access uses the new entry.
constexpr FlushRequest required_flush(arch::EptEntry before, arch::EptEntry after,
                                      arch::EptLevel level, const arch::EptCapabilities& caps) {
  using arch::EptEntry;
  const uint64_t b = before.raw();
  const uint64_t a = after.raw();
  // Nothing the processor cached could come from an entry that was not present.
  if (before.rwx() == 0)
    return FlushRequest::none();
  const uint64_t cleared = b & ~a;
  const uint64_t changed = b ^ a;
  bool flush = (cleared & EptEntry::kRwxMask) != 0 || (changed & EptEntry::kAddressMask) != 0;
  if (caps.ad_enabled) {
    flush |= (cleared & arch::bit(EptEntry::kAccessedBit)) != 0;
    flush |= before.is_leaf(level) && (cleared & arch::bit(EptEntry::kDirtyBit)) != 0;
  }
  if (level == arch::EptLevel::kPde || level == arch::EptLevel::kPdpte)
    flush |= (changed & arch::bit(EptEntry::kLargePageBit)) != 0;
  if (before.is_leaf(level))
    flush |= (changed & arch::bit_range(EptEntry::kIgnorePatBit, EptEntry::kMemoryTypeLo)) != 0;
  if (caps.mode_based_execute_enabled)
    flush |= (cleared & arch::bit(EptEntry::kUserExecuteBit)) != 0;
  return flush ? FlushRequest::single_context() : FlushRequest::none();
}

}  // namespace mm
