// Exhaustive checks over every small domain: R/W/X x user-execute x level x mode x
// policy-writable x write-withheld x A/D x tracked/untracked x access set x large-leaf
// policy. Every start entry the checker accepts goes through aging and the fault resolver;
// every entry they produce must pass the checker too.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "mm/access_set.h"
#include "mm/access_tracking.h"
#include "mm/entry_check.h"
#include "mm/ept_sw_bits.h"
#include "mm/fault_resolver.h"
#include "mm/flush_request.h"
#include "mm/live_entry.h"
#include "test_caps.h"

namespace {

using arch::EptCapabilities;
using arch::EptEntry;
using arch::EptLevel;
using mm::AccessSet;
using mm::EptSwBits;
using mm::FaultResolution;
using mm::TrackingMode;

struct Scenario {
  std::string name;
  EptCapabilities caps;
};

std::vector<Scenario> scenarios() {
  return {{"ivy-bridge rwx-stash", mm::test::ivy_bridge()},
          {"haswell accessed-bit", mm::test::haswell_ad()},
          {"haswell forced rwx-stash", mm::test::haswell_forced_stash()},
          {"haswell rwx-stash + mode-based execute", mm::test::haswell_stash_mbe()}};
}

std::vector<EptLevel> leaf_levels(const EptCapabilities& caps) {
  std::vector<EptLevel> levels{EptLevel::kPte};
  if (caps.pages_2m)
    levels.push_back(EptLevel::kPde);
  if (caps.pages_1g)
    levels.push_back(EptLevel::kPdpte);
  return levels;
}

// Every combination of the bits agevisor's rules talk about, legal or not.
std::vector<EptEntry> candidate_entries(EptLevel level, const EptCapabilities& caps) {
  std::vector<EptEntry> out;
  const uint64_t ux_max = caps.mode_based_execute_enabled ? 1 : 0;
  const uint64_t ad_max = caps.ad_enabled ? 3 : 0;
  for (uint64_t rwx = 0; rwx < 8; ++rwx) {
    for (uint64_t ux = 0; ux <= ux_max; ++ux) {
      for (uint64_t ad = 0; ad <= ad_max; ++ad) {
        for (int pw = 0; pw < 2; ++pw) {
          for (int withheld = 0; withheld < 2; ++withheld) {
            uint64_t raw = mm::test::leaf(level, rwx, pw != 0).raw() | (ux << 10) | (ad << 8);
            if (withheld != 0)
              raw |= EptSwBits::kWriteWithheld;
            out.emplace_back(raw);
            if (mm::is_hw_present(EptEntry(raw)))
              out.push_back(mm::mark_tracked(EptEntry(raw)));
          }
        }
      }
    }
  }
  return out;
}

// What mark_tracked followed by restore_access must give back: `e` without W, with the
// write recorded as withheld.
EptEntry without_write(EptEntry e) { return e.writable() ? mm::withhold_write(e) : e; }

void check_aging(EptEntry e, EptLevel level, const EptCapabilities& caps, TrackingMode mode) {
  const mm::AgeResult aged = mm::age(e, level, mode);
  ASSERT_TRUE(mm::check_entry(aged.entry, level, caps).ok())
      << mm::check_entry(aged.entry, level, caps).name();
  EXPECT_EQ(mm::required_flush(e, aged.entry, level, caps).needed(), !(aged.entry == e));
  if (!mm::is_hw_present(e)) {
    EXPECT_EQ(aged.entry, e);
    EXPECT_FALSE(aged.accessed);
    return;
  }
  if (mode == TrackingMode::kAccessedBit) {
    EXPECT_EQ(aged.accessed, e.accessed());
    EXPECT_EQ(aged.dirty, e.dirty());
    EXPECT_EQ(EptEntry(aged.entry).set_accessed(e.accessed()).set_dirty(e.dirty()), e);
    return;
  }
  EXPECT_TRUE(aged.accessed);
  EXPECT_EQ(aged.dirty, e.writable()) << "dirty exactly when W was set";
  EXPECT_TRUE(mm::is_tracked(aged.entry));
  EXPECT_FALSE(mm::is_hw_present(aged.entry));
  EXPECT_EQ(aged.entry.raw() & arch::bit_range(9, 8), e.raw() & arch::bit_range(9, 8));
  EXPECT_EQ(mm::restore_access(aged.entry), without_write(e)) << "round trip without W";
  if (e.writable()) {
    EXPECT_EQ(mm::restore_write(mm::restore_access(aged.entry)), e) << "round trip with W";
  }
}

void check_fault(EptEntry e, EptLevel level, const EptCapabilities& caps, TrackingMode mode,
                 AccessSet access, bool split) {
  uint64_t slot = e.raw();
  mm::LiveEntry live(slot);
  mm::ResolverPolicy policy;
  policy.split_large_for_write = split;
  auto result = mm::resolve_fault(live, level, access, caps, policy);
  ASSERT_TRUE(result.ok());
  const FaultResolution r = result.value();
  const EptEntry after(slot);
  ASSERT_TRUE(mm::check_entry(after, level, caps).ok())
      << mm::check_entry(after, level, caps).name();
  EXPECT_EQ(r.after, after);
  EXPECT_EQ(r.has(FaultResolution::kSpurious), access.allowed_by(e));
  if (!mm::is_mapped(e)) {
    EXPECT_EQ(r.violation, mm::Violation::kNotMapped);
    EXPECT_EQ(after, e);
    return;
  }
  EXPECT_EQ(r.has(FaultResolution::kAccessRestored), mm::is_tracked(e));
  EXPECT_TRUE(!after.writable() || after.readable()) << "W never without R";
  if (!mm::is_policy_writable(e)) {
    EXPECT_FALSE(after.writable()) << "policy-write-protected page made writable";
  }
  if (r.has(FaultResolution::kWriteRestored)) {
    EXPECT_TRUE(access.write());
    EXPECT_TRUE(mm::is_write_withheld(e));
    EXPECT_TRUE(after.writable());
  }
  if (r.has(FaultResolution::kNeedsSplit)) {
    EXPECT_TRUE(split && level != EptLevel::kPte && access.write());
  }
  if (!r.has(FaultResolution::kViolation) && !r.has(FaultResolution::kNeedsSplit)) {
    EXPECT_TRUE(access.allowed_by(after)) << "resolved, yet the access would fault again";
  }
  EXPECT_EQ(r.has(FaultResolution::kViolation), r.violation != mm::Violation::kNone);
  EXPECT_FALSE(mm::required_flush(e, after, level, caps).needed()) << "restore never flushes";
  if (mode == TrackingMode::kRwxStash) {
    const bool written = e.writable() || r.has(FaultResolution::kWriteRestored);
    EXPECT_EQ(mm::age(after, level, mode).dirty, written) << "dirty recorded exactly when W";
  }
}

TEST(Exhaustive, AgingAndFaultsKeepEveryInvariant) {
  unsigned legal = 0;
  unsigned faults = 0;
  for (const Scenario& s : scenarios()) {
    const TrackingMode mode = mm::test::mode_for(s.caps);
    ASSERT_TRUE(mm::tracking_mode_fits(mode, s.caps));
    for (EptLevel level : leaf_levels(s.caps)) {
      for (EptEntry e : candidate_entries(level, s.caps)) {
        if (!mm::check_entry(e, level, s.caps).ok())
          continue;
        ++legal;
        SCOPED_TRACE(s.name + " level " + std::to_string(static_cast<int>(level)) + " entry 0x" +
                     std::to_string(e.raw()));
        check_aging(e, level, s.caps, mode);
        for (uint8_t bits = 1; bits <= AccessSet::kAll; ++bits) {
          for (bool split : {false, true}) {
            check_fault(e, level, s.caps, mode, AccessSet::from_bits(bits), split);
            ++faults;
          }
        }
      }
    }
  }
  // Guards against a filter that silently drops most of the domain.
  EXPECT_GE(legal, 300u);
  EXPECT_EQ(faults, legal * 14u);
}

// The inverse pair on every legal present leaf: age, then fault with the access the entry
// allowed, restores the entry exactly (the write brings W back).
TEST(Exhaustive, AgeThenFaultWithTheOriginalAccessRestoresExactly) {
  unsigned checked = 0;
  for (const Scenario& s : scenarios()) {
    if (mm::test::mode_for(s.caps) != TrackingMode::kRwxStash)
      continue;
    for (EptLevel level : leaf_levels(s.caps)) {
      for (EptEntry e : candidate_entries(level, s.caps)) {
        if (!mm::check_entry(e, level, s.caps).ok() || !mm::is_hw_present(e))
          continue;
        uint64_t slot = mm::age(e, level, TrackingMode::kRwxStash).entry.raw();
        mm::LiveEntry live(slot);
        const AccessSet original = AccessSet::from_bits(static_cast<uint8_t>(e.rwx()));
        auto r = mm::resolve_fault(live, level, original, s.caps);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(EptEntry(slot), e) << s.name << " entry 0x" << std::hex << e.raw();
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 100u);
}

}  // namespace
