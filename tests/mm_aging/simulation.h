// The property-test driver: several simulated vCPUs (each with its own TLB, tests/mm's
// TlbModel: a CPU keeps using a cached translation until a flush) access a small identity
// map while aging steps (incremental and full), splits, dirty-log starts, harvests and
// stops run in a seeded random order. mm/ results (the walk's per-leaf reports, WorkingSet
// ages and accessed bitmap, harvest bitmaps) are compared with the reference model after
// every operation, and every entry that changed is run through check_entry.
//
// The TLB model caches per 4 KiB frame, also inside large leaves (the SDM lets a processor
// cache a large page as smaller translations). A test can drop the flushes mm/ returns from
// chosen sources, to show each is needed.
#pragma once

#include <cstdint>
#include <string>

#include "arch/ept_capabilities.h"
#include "mm/granularity.h"
#include "mm/identity_map.h"

namespace mm::test {

struct SimulationConfig {
  arch::EptCapabilities caps;
  mm::RamInitialState ram_state = mm::RamInitialState::kPresent;
  mm::TrackingGranularity granularity = mm::TrackingGranularity::kAsMapped;
  bool split_large_for_write = false;  // ResolverPolicy for stash-mode write faults
  bool start_cold = false;             // WorkingSet starts at kNeverSeen
  unsigned cpus = 3;
  uint64_t operations = 10000;
  uint64_t seed = 1;

  enum DropFlush : unsigned {
    kKeepAll = 0,
    kDropAging = 1 << 0,
    kDropHarvest = 1 << 1,
    kDropLogStart = 1 << 2,
    kDropSplit = 1 << 3,
  };
  unsigned drop = kKeepAll;
};

struct SimulationResult {
  uint64_t operations = 0;
  uint64_t mismatches = 0;
  std::string first_mismatch;
  uint64_t accesses = 0, faults = 0, steps = 0, passes = 0, harvests = 0, splits = 0;
  uint64_t flushes = 0, dropped_flushes = 0;
};

SimulationResult run_simulation(const SimulationConfig& config);

}  // namespace mm::test
