// The invariant checker: is this entry, at this level, legal for the processor described by
// `caps` and for agevisor's own rules? Bochs accepts some entries real hardware rejects, so
// this function, not an emulator run, is the authority. Every test checks every entry it
// produces with it; debug builds on target check after every write.
// [SDM 3C "EPT Misconfigurations"], [SDM 3C "EPT Translation Mechanism"]
#pragma once

#include <cstdint>

#include "arch/bits.h"
#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/ept_sw_bits.h"

namespace mm {

// The first rule an entry breaks. The kSdm* rules make the processor raise an EPT
// misconfiguration; the others are agevisor's own.
enum class EntryRule : uint8_t {
  kOk = 0,
  kSdmWriteWithoutRead,        // R/W/X = 010 or 110
  kSdmExecuteOnlyUnsupported,  // R/W/X = 100 without IA32_VMX_EPT_VPID_CAP bit 0
  kSdmReservedMemoryType,      // leaf memory type 2, 3 or 7
  kSdmReservedNonLeafBits,     // bits 6:3 of a non-leaf entry, 7:3 of a PML4E
  kSdmLargePageUnsupported,    // bit 7 in a PDPTE/PDE without 1 GiB/2 MiB support
  kSdmUnalignedLargePage,      // address bits 29:12 (1 GiB) or 20:12 (2 MiB) set
  kSdmAddressBeyondMaxPhys,    // address bits 51:MAXPHYADDR set
  kNonLeafNotFullAccess,       // a present non-leaf entry must allow everything (R/W/X=111)
  kLargePageBitInPte,          // bit 7 of a PTE is ignored; agevisor keeps it zero
  kWriteWithoutPolicy,         // W = 1 in a leaf policy says must not be written
  kWithheldWithoutPolicy,      // write withheld on a page that may never be written
  kWithheldWhileWritable,      // write withheld yet W = 1
  kSavedBitsUntracked,         // saved R/X/UX or the marker outside a tracked entry
  kTrackedNotLeaf,             // only leaves are access-tracked
  kTrackedNothingSaved,        // a tracked entry must restore to something legal
  kAccessedDirtyDisabled,      // bits 8/9 set while EPT A/D is off (or D in a non-leaf)
  kUserExecuteMisused,         // bit 10 without mode-based execute, or without R/W/X
  kFeatureBitDisabled,         // bit 60/61/63 set while its feature is off (or SPP above PTE)
  kStrayBits,                  // 11, 57, 58, 62 (or a write bit in a non-leaf): kept zero
};

constexpr const char* entry_rule_name(EntryRule rule) {
  switch (rule) {
    case EntryRule::kOk:
      return "ok";
    case EntryRule::kSdmWriteWithoutRead:
      return "SDM: write without read";
    case EntryRule::kSdmExecuteOnlyUnsupported:
      return "SDM: execute-only not supported";
    case EntryRule::kSdmReservedMemoryType:
      return "SDM: reserved memory type";
    case EntryRule::kSdmReservedNonLeafBits:
      return "SDM: reserved bits set in non-leaf entry";
    case EntryRule::kSdmLargePageUnsupported:
      return "SDM: large page not supported at this level";
    case EntryRule::kSdmUnalignedLargePage:
      return "SDM: unaligned large-page address";
    case EntryRule::kSdmAddressBeyondMaxPhys:
      return "SDM: address beyond MAXPHYADDR";
    case EntryRule::kNonLeafNotFullAccess:
      return "non-leaf entry without full access";
    case EntryRule::kLargePageBitInPte:
      return "large-page bit in PTE";
    case EntryRule::kWriteWithoutPolicy:
      return "writable but not policy-writable";
    case EntryRule::kWithheldWithoutPolicy:
      return "write withheld but not policy-writable";
    case EntryRule::kWithheldWhileWritable:
      return "write withheld while writable";
    case EntryRule::kSavedBitsUntracked:
      return "saved permissions or marker in untracked entry";
    case EntryRule::kTrackedNotLeaf:
      return "tracked non-leaf entry";
    case EntryRule::kTrackedNothingSaved:
      return "tracked entry restores to nothing legal";
    case EntryRule::kAccessedDirtyDisabled:
      return "accessed/dirty bit set while not in use";
    case EntryRule::kUserExecuteMisused:
      return "user-execute bit misused";
    case EntryRule::kFeatureBitDisabled:
      return "bit of a disabled feature set";
    case EntryRule::kStrayBits:
      return "unused bits set";
  }
  return "unknown rule";
}

struct CheckResult {
  EntryRule rule = EntryRule::kOk;

  constexpr bool ok() const { return rule == EntryRule::kOk; }
  constexpr const char* name() const { return entry_rule_name(rule); }
};

namespace detail {

// Bits 2:0 [SDM 3C "EPT Misconfigurations"].
constexpr EntryRule check_permissions(uint64_t rwx, const arch::EptCapabilities& caps) {
  if (rwx == 0b010 || rwx == 0b110)
    return EntryRule::kSdmWriteWithoutRead;
  if (rwx == 0b100 && !caps.execute_only)
    return EntryRule::kSdmExecuteOnlyUnsupported;
  return EntryRule::kOk;
}

// Reserved bits of an entry the processor will use: `e` as present (or as it will be once
// restored). Per-level formats: [SDM 3C "EPT Translation Mechanism"] tables.
constexpr EntryRule check_layout(arch::EptEntry e, arch::EptLevel level,
                                 const arch::EptCapabilities& caps) {
  const uint64_t raw = e.raw();
  if (caps.max_phys_addr < 52 && (raw & arch::bit_range(51, caps.max_phys_addr)) != 0)
    return EntryRule::kSdmAddressBeyondMaxPhys;
  if (level == arch::EptLevel::kPml4e) {
    return (raw & arch::bit_range(7, 3)) != 0 ? EntryRule::kSdmReservedNonLeafBits : EntryRule::kOk;
  }
  if (level == arch::EptLevel::kPte && e.large_page())
    return EntryRule::kLargePageBitInPte;
  if (level == arch::EptLevel::kPde && e.large_page() && !caps.pages_2m)
    return EntryRule::kSdmLargePageUnsupported;
  if (level == arch::EptLevel::kPdpte && e.large_page() && !caps.pages_1g)
    return EntryRule::kSdmLargePageUnsupported;
  if (!e.is_leaf(level)) {
    return (raw & arch::bit_range(6, 3)) != 0 ? EntryRule::kSdmReservedNonLeafBits : EntryRule::kOk;
  }
  const uint64_t type = e.memory_type();
  if (type == 2 || type == 3 || type == 7)
    return EntryRule::kSdmReservedMemoryType;
  if (!arch::is_aligned(e.address().value(), arch::ept_level_span(level)))
    return EntryRule::kSdmUnalignedLargePage;
  return EntryRule::kOk;
}

// Bits whose meaning depends on an enabled feature, and bits nobody uses.
constexpr EntryRule check_feature_bits(arch::EptEntry e, bool leaf, arch::EptLevel level,
                                       const arch::EptCapabilities& caps) {
  const uint64_t raw = e.raw();
  if ((raw & (arch::bit(11) | arch::bit(57) | arch::bit(58) | arch::bit(62))) != 0)
    return EntryRule::kStrayBits;
  if ((e.accessed() || e.dirty()) && !caps.ad_enabled)
    return EntryRule::kAccessedDirtyDisabled;
  if (e.dirty() && !leaf)
    return EntryRule::kAccessedDirtyDisabled;
  if (e.user_execute() && (!caps.mode_based_execute_enabled || !is_hw_present(e)))
    return EntryRule::kUserExecuteMisused;
  if (e.supervisor_shadow_stack() && (!caps.supervisor_shadow_stack_enabled || !leaf))
    return EntryRule::kFeatureBitDisabled;
  if (e.sub_page_write() && (!caps.sub_page_write_enabled || level != arch::EptLevel::kPte))
    return EntryRule::kFeatureBitDisabled;
  if (e.suppress_ve() && !caps.ept_violation_ve_enabled)
    return EntryRule::kFeatureBitDisabled;
  return EntryRule::kOk;
}

// agevisor's write and tracking rules (docs/ept-layout.md, "State machine").
constexpr EntryRule check_software_bits(arch::EptEntry e, bool leaf,
                                        const arch::EptCapabilities& caps) {
  const bool tracked = is_tracked(e);
  // A non-leaf W only opens the way to the leaves; the write notions live in leaves.
  if (!leaf && (e.raw() & (EptSwBits::kPolicyWritable | EptSwBits::kWriteWithheld)) != 0)
    return EntryRule::kStrayBits;
  if (leaf && e.writable() && !is_policy_writable(e))
    return EntryRule::kWriteWithoutPolicy;
  if (is_write_withheld(e) && !is_policy_writable(e))
    return EntryRule::kWithheldWithoutPolicy;
  if (is_write_withheld(e) && e.writable())
    return EntryRule::kWithheldWhileWritable;
  // The marker on a present entry would make "tracked" depend on R/W/X alone: forbidden.
  if (!tracked && (e.raw() & (EptSwBits::kSavedMask | EptSwBits::kTracked)) != 0)
    return EntryRule::kSavedBitsUntracked;
  if (!tracked)
    return EntryRule::kOk;
  if (!leaf)
    return EntryRule::kTrackedNotLeaf;
  if (saved_rwx(e) == 0)
    return EntryRule::kTrackedNothingSaved;
  if (saved_user_execute(e) && !caps.mode_based_execute_enabled)
    return EntryRule::kUserExecuteMisused;
  return check_permissions(saved_rwx(e), caps);
}

}  // namespace detail

constexpr CheckResult check_entry(arch::EptEntry e, arch::EptLevel level,
                                  const arch::EptCapabilities& caps) {
  const bool tracked = is_tracked(e);
  const bool leaf = e.is_leaf(level);
  // The processor checks an entry only when R/W/X != 000 ("the processor ignores bits
  // 62:3" otherwise); a tracked entry is checked as it will be once restored.
  const uint64_t effective_rwx = tracked ? saved_rwx(e) : e.rwx();
  if (effective_rwx != 0) {
    if (EntryRule r = detail::check_permissions(e.rwx(), caps); r != EntryRule::kOk)
      return {r};
    if (EntryRule r = detail::check_layout(e, level, caps); r != EntryRule::kOk)
      return {r};
    if (!leaf && is_hw_present(e)) {
      const bool full = e.rwx() == 0b111 && (!caps.mode_based_execute_enabled || e.user_execute());
      if (!full)
        return {EntryRule::kNonLeafNotFullAccess};
    }
  }
  if (EntryRule r = detail::check_feature_bits(e, leaf, level, caps); r != EntryRule::kOk)
    return {r};
  return {detail::check_software_bits(e, leaf, caps)};
}

}  // namespace mm
